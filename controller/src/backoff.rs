//! Per-object retry backoff, as controller-runtime's default rate limiter: the longer of an
//! exponential per-object delay (`--rate-limiter-base-delay` doubling up to
//! `--rate-limiter-max-delay`) and an overall token bucket (`--rate-limiter-qps`,
//! `--rate-limiter-bucket-size`). kube-runtime has no per-object backoff; this is it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::key::ObjectKey;
use crate::settings::BackoffSettings;
use crate::token_bucket::TokenBucket;

pub struct Backoff {
    settings: BackoffSettings,
    failures: Mutex<HashMap<ObjectKey, u32>>,
    bucket: Mutex<TokenBucket>,
}

impl Backoff {
    pub fn new(settings: BackoffSettings) -> Self {
        Backoff {
            settings,
            failures: Mutex::new(HashMap::new()),
            bucket: Mutex::new(TokenBucket::new(
                f64::from(settings.qps),
                settings.bucket_size,
            )),
        }
    }

    /// The delay before retrying `key` after one more failure.
    pub fn next_delay(&self, key: &ObjectKey) -> Duration {
        self.next_delay_at(key, Instant::now())
    }

    /// [`Backoff::next_delay`] at the instant `now` (tests give the clock).
    fn next_delay_at(&self, key: &ObjectKey, now: Instant) -> Duration {
        let failures = {
            let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            let n = map.entry(key.clone()).or_default();
            let current = *n;
            *n = n.saturating_add(1);
            current
        };
        let exponential = self
            .settings
            .base_delay
            .checked_mul(2u32.saturating_pow(failures.min(40)))
            .unwrap_or(self.settings.max_delay)
            .min(self.settings.max_delay);
        let overall = self
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(now);
        exponential.max(overall)
    }

    /// Forgets `key`'s failures (after a success or when the object is gone); whether it had
    /// any.
    pub fn forget(&self, key: &ObjectKey) -> bool {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
            .is_some()
    }

    /// How many objects are waiting for a retry.
    pub fn failing(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(Some("ns"), name)
    }

    fn settings() -> BackoffSettings {
        BackoffSettings {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1000),
            qps: 10,
            bucket_size: 100,
        }
    }

    #[test]
    fn delays_double_per_object_up_to_the_max() {
        let b = Backoff::new(settings());
        let delays: Vec<_> = (0..4).map(|_| b.next_delay(&key("a"))).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis));
        assert_eq!(b.next_delay(&key("other")), Duration::from_millis(5));
        for _ in 0..40 {
            b.next_delay(&key("a"));
        }
        assert_eq!(b.next_delay(&key("a")), Duration::from_secs(1000));
        b.forget(&key("a"));
        assert_eq!(b.next_delay(&key("a")), Duration::from_millis(5));
        assert_eq!(b.failing(), 2);
    }

    #[test]
    fn the_overall_bucket_bounds_the_retry_rate() {
        let b = Backoff::new(BackoffSettings {
            bucket_size: 2,
            ..settings()
        });
        // Three failures at the same instant (the clock is given, so no token is refilled in
        // between): two tokens, then the third retry waits for one (100 ms at 10 qps), more
        // than its own 5 ms.
        let now = Instant::now();
        assert_eq!(b.next_delay_at(&key("x1"), now), Duration::from_millis(5));
        assert_eq!(b.next_delay_at(&key("x2"), now), Duration::from_millis(5));
        assert_eq!(b.next_delay_at(&key("x3"), now), Duration::from_millis(100));
        // Half a second later five tokens came back (at most two are kept).
        let later = now + Duration::from_millis(500);
        assert_eq!(b.next_delay_at(&key("x4"), later), Duration::from_millis(5));
    }
}
