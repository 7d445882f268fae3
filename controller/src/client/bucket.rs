//! The client's token buckets, as client-go's: one per resource kind and client, with
//! reservations that give their token back when the request is given up before it is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::settings::ApiRateLimit;
use crate::token_bucket::TokenBucket;

/// Which bucket a request takes its token from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// The resource kind, `group/resource`.
    pub kind: String,
    /// A list or watch: controller-runtime's informers have their own client and limiter, so
    /// a cache's relist or watch reconnect never queues behind its kind's writes.
    pub informer: bool,
}

/// The token buckets, one per resource kind and client (informers or the rest), created on
/// first use.
pub struct KindBuckets {
    limit: ApiRateLimit,
    buckets: Mutex<HashMap<BucketKey, TokenBucket>>,
}

impl KindBuckets {
    pub fn new(limit: ApiRateLimit) -> Self {
        KindBuckets {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, TokenBucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a token of `key`'s bucket at `now`: how long the request must wait for it, and
    /// the token back to the bucket if the request is dropped before it is sent.
    pub fn reserve(self: &Arc<Self>, key: BucketKey, now: Instant) -> Reservation {
        let Some(qps) = self.limit.qps else {
            return Reservation::free();
        };
        let mut buckets = self.lock();
        let delay = match buckets.get_mut(&key) {
            Some(bucket) => bucket.reserve(now),
            None => {
                let mut bucket = TokenBucket::new(qps, self.limit.burst.max(1));
                bucket.reset(now);
                let delay = bucket.reserve(now);
                buckets.insert(key.clone(), bucket);
                delay
            }
        };
        Reservation {
            delay,
            act_at: now + delay,
            unused: Some((self.clone(), key)),
        }
    }

    fn cancel(&self, key: &BucketKey, at: Instant, now: Instant) {
        if let Some(bucket) = self.lock().get_mut(key) {
            bucket.cancel(at, now);
        }
    }
}

/// A token reserved for one request (golang.org/x/time/rate's `Reservation`). Dropped before
/// [`Reservation::consume`] while still waiting, it gives the token back, as `Cancel` does: a
/// request given up while queued does not hold back the ones after it.
#[must_use = "a reservation dropped at once gives its token back"]
pub struct Reservation {
    delay: Duration,
    /// When the token may be used.
    act_at: Instant,
    /// Where to give the token back; `None` once consumed or without a limit.
    unused: Option<(Arc<KindBuckets>, BucketKey)>,
}

impl Reservation {
    fn free() -> Self {
        Reservation {
            delay: Duration::ZERO,
            act_at: Instant::now(),
            unused: None,
        }
    }

    /// How long the request must wait from the reservation on.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// When the request may be sent: the reservation's time plus [`Reservation::delay`].
    pub fn act_at(&self) -> Instant {
        self.act_at
    }

    /// The request is sent: the token is spent.
    pub fn consume(mut self) {
        self.unused = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some((buckets, key)) = self.unused.take() else {
            return;
        };
        // A token whose time has come was spent by the clock already (as in `Cancel`).
        buckets.cancel(&key, self.act_at, super::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str) -> BucketKey {
        BucketKey {
            kind: kind.to_owned(),
            informer: false,
        }
    }

    fn limit(qps: f64, burst: u32) -> Arc<KindBuckets> {
        Arc::new(KindBuckets::new(ApiRateLimit {
            qps: Some(qps),
            burst,
        }))
    }

    #[test]
    fn each_kind_has_its_own_bucket() {
        let start = Instant::now();
        let buckets = limit(10.0, 2);
        let mci = "networking.karmada.io/multiclusteringresses";
        let mut held = Vec::new();
        let mut reserve = |key: BucketKey| {
            let reservation = buckets.reserve(key, start);
            let delay = reservation.delay();
            held.push(reservation);
            delay
        };
        assert_eq!(reserve(key(mci)), Duration::ZERO);
        assert_eq!(reserve(key(mci)), Duration::ZERO);
        // The MCIs' burst is spent: the next one waits 100 ms, the Services' none, nor the
        // MCIs' informer.
        assert!((reserve(key(mci)).as_secs_f64() - 0.1).abs() < 1e-9);
        assert_eq!(reserve(key("/services")), Duration::ZERO);
        assert_eq!(reserve(key("coordination.k8s.io/leases")), Duration::ZERO);
        let informer = BucketKey {
            kind: mci.to_owned(),
            informer: true,
        };
        assert_eq!(reserve(informer), Duration::ZERO);
        let unlimited = Arc::new(KindBuckets::new(ApiRateLimit {
            qps: None,
            burst: 0,
        }));
        for _ in 0..1000 {
            assert_eq!(unlimited.reserve(key(mci), start).delay(), Duration::ZERO);
        }
    }

    #[test]
    fn a_dropped_waiting_reservation_gives_its_token_back() {
        // One token per 1000 s: every wait is far in the future, whatever the test's pace.
        let buckets = limit(0.001, 1);
        let start = Instant::now();
        buckets.reserve(key("/services"), start).consume();
        let waiting = buckets.reserve(key("/services"), start);
        assert!((waiting.delay().as_secs_f64() - 1000.0).abs() < 1e-6);
        drop(waiting);
        // The next one waits what it would have without the dropped one, not twice as long.
        let next = buckets.reserve(key("/services"), start);
        assert!(
            next.delay().as_secs_f64() < 1000.0 + 1e-6,
            "{:?}",
            next.delay()
        );
        next.consume();
        // A consumed token stays spent.
        assert!(
            buckets
                .reserve(key("/services"), start)
                .delay()
                .as_secs_f64()
                > 1999.0
        );
    }
}
