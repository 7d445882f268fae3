//! What each object's balancer was last brought in line with, for providers that take the
//! backend view (interface 1.2): a digest of the object's spec and of its view, recorded after a
//! successful `ensure` or `update`. A reconcile whose digest is unchanged makes no provider call
//! (an unrelated EndpointSlice, a status write of ours), as the issue of the view requires.
//!
//! The record is in memory: after a restart the first reconcile of each object calls the
//! provider as before. With `--resync-period` a record expires after that period, so a resync
//! still brings every balancer in line with its object once per period.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::key::ObjectKey;

/// The SHA-256 digest of an object's provider-relevant input (computed by
/// `controllers::backends::digest`). Printed as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn new(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// By object kind and key: the digest and when it was recorded.
type Records = HashMap<(&'static str, ObjectKey), (Digest, Instant)>;

pub struct AppliedDigests {
    records: Mutex<Records>,
    max_age: Option<Duration>,
}

impl AppliedDigests {
    pub fn new(max_age: Option<Duration>) -> Self {
        AppliedDigests {
            records: Mutex::new(HashMap::new()),
            max_age,
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the balancer of the `kind` object `key` was last brought in line with `digest`
    /// (and not longer ago than the resync period).
    pub fn unchanged(&self, kind: &'static str, key: &ObjectKey, digest: Digest) -> bool {
        self.records()
            .get(&(kind, key.clone()))
            .is_some_and(|(applied, at)| {
                *applied == digest && self.max_age.is_none_or(|age| at.elapsed() < age)
            })
    }

    /// `key`'s balancer now matches `digest`.
    pub fn record(&self, kind: &'static str, key: ObjectKey, digest: Digest) {
        self.records().insert((kind, key), (digest, Instant::now()));
    }

    /// Nothing is known of `key`'s balancer (deleted, in progress, or a call failed).
    pub fn forget(&self, kind: &'static str, key: &ObjectKey) {
        self.records().remove(&(kind, key.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MCI: &str = "MultiClusterIngress";
    const MCS: &str = "MultiClusterService";

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(Some("ns"), name)
    }

    fn d(n: u8) -> Digest {
        Digest([n; 32])
    }

    #[test]
    fn only_the_recorded_digest_of_the_same_object_is_unchanged() {
        let digests = AppliedDigests::new(None);
        assert!(!digests.unchanged(MCI, &key("a"), d(1)));
        digests.record(MCI, key("a"), d(1));
        assert!(digests.unchanged(MCI, &key("a"), d(1)));
        assert!(!digests.unchanged(MCI, &key("a"), d(2)));
        assert!(!digests.unchanged(MCI, &key("b"), d(1)));
        // An MCS of the same name is another object.
        assert!(!digests.unchanged(MCS, &key("a"), d(1)));
        digests.forget(MCI, &key("a"));
        assert!(!digests.unchanged(MCI, &key("a"), d(1)));
    }

    #[test]
    fn records_expire_after_the_resync_period() {
        let digests = AppliedDigests::new(Some(Duration::ZERO));
        digests.record(MCI, key("a"), d(1));
        assert!(!digests.unchanged(MCI, &key("a"), d(1)));
    }
}
