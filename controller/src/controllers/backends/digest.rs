//! [`Digest`]: SHA-256 of what a provider is given about an object, so a reconcile can tell
//! whether anything a provider sees changed since its last call.

use std::io;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_loader::EncodedView;
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
/// status, resourceVersion, finalizers or managed fields) and its backend view as it is sent to
/// the provider (TLS material included, so a rotated certificate changes it; the digest does not
/// reveal it). The view is hashed as encoded once for the call, not encoded again. Stable: the
/// same input gives the same digest in every process (serde's field order, Kubernetes' maps
/// are ordered).
pub fn digest<S: Serialize>(metadata: &ObjectMeta, spec: &S, view: &EncodedView) -> Digest {
    #[derive(Serialize)]
    struct Input<'a, S> {
        labels: &'a Option<std::collections::BTreeMap<String, String>>,
        annotations: &'a Option<std::collections::BTreeMap<String, String>>,
        spec: &'a S,
    }
    let input = Input {
        labels: &metadata.labels,
        annotations: &metadata.annotations,
        spec,
    };
    let mut hashing = Hashing(Sha256::new());
    // Writing to the hash cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(&mut hashing, &input);
    // The view's text (or the reason it could not be encoded), told apart from the object's by
    // a byte JSON text never holds.
    let (tag, text) = match view.json() {
        Ok(json) => (0u8, json),
        Err(reason) => (1u8, reason),
    };
    hashing.0.update([0xff, tag]);
    hashing.0.update(text.as_bytes());
    Digest::new(hashing.0.finalize().into())
}
