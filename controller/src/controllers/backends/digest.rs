//! [`Digest`]: SHA-256 of what a provider is given about an object, so a reconcile can tell
//! whether anything a provider sees changed since its last call.

use std::io;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::backends::Backends;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use crate::applied::Digest;

/// Feeds what is written into the hash, so nothing (the private keys of the view included) is
/// copied into a buffer on the way.
struct Hashing(Sha256);

impl io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The digest of an object's `spec`, its labels and annotations (from `metadata`; not its
/// status, resourceVersion, finalizers or managed fields) and its backend view (TLS material
/// included, so a rotated certificate changes it; the digest does not reveal it). Stable: the
/// same input gives the same digest in every process (serde's field order, Kubernetes' maps
/// are ordered).
pub fn digest<S: Serialize>(metadata: &ObjectMeta, spec: &S, view: &Backends) -> Digest {
    #[derive(Serialize)]
    struct Input<'a, S> {
        labels: &'a Option<std::collections::BTreeMap<String, String>>,
        annotations: &'a Option<std::collections::BTreeMap<String, String>>,
        spec: &'a S,
        view: &'a Backends,
    }
    let input = Input {
        labels: &metadata.labels,
        annotations: &metadata.annotations,
        spec,
        view,
    };
    let mut hashing = Hashing(Sha256::new());
    // Writing to the hash cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(&mut hashing, &input);
    Digest::new(hashing.0.finalize().into())
}
