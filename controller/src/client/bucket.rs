//! client-go's token buckets: one per resource kind and client, with reservations that give
//! their token back when the request is given up before it is sent.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::settings::ApiRateLimit;

/// A token bucket: `rate` tokens per second, at most `capacity` stored.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
    /// The times of reservations given up before them, soonest first: each is a token nobody
    /// will use, which the next reservation takes rather than queueing at the end.
    freed: BinaryHeap<Reverse<Instant>>,
}

impl TokenBucket {
    pub fn new(rate: f64, capacity: u32) -> Self {
        TokenBucket {
            rate,
            capacity: f64::from(capacity),
            tokens: f64::from(capacity),
            last: Instant::now(),
            freed: BinaryHeap::new(),
        }
    }

    fn refill(&mut self, now: Instant) {
        if now <= self.last {
            return;
        }
        let elapsed = (now - self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Starts over at `now` with a full bucket.
    pub fn reset(&mut self, now: Instant) {
        self.tokens = self.capacity;
        self.last = now;
    }

    /// Takes a token if there is one (client-go's `TryAccept`).
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Reserves a token now and returns how long the caller must wait before using it (client-go
    /// `rate.Limiter.Reserve().Delay()`): the token count may go negative.
    /// A token given back by a reservation that was given up (see [`TokenBucket::cancel`]) is
    /// taken first: its time was already accounted for.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        // A time given back that has passed unused was spent by the clock.
        while self.freed.peek().is_some_and(|Reverse(at)| *at <= now) {
            self.freed.pop();
        }
        if self.tokens < 1.0
            && let Some(Reverse(at)) = self.freed.pop()
        {
            return at - now;
        }
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Gives back the token reserved for `at`, which will not be used: the next reservation
    /// gets that time. Reservations queued behind it keep theirs, and no two share one, so
    /// giving a token back never sends more at once than the bucket allows.
    fn cancel(&mut self, at: Instant, now: Instant) {
        if at > now {
            self.freed.push(Reverse(at));
        }
    }
}

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
    fn reservations_queue_up() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10.0, 1);
        b.last = start;
        assert_eq!(b.reserve(start), Duration::ZERO);
        let second = b.reserve(start);
        let third = b.reserve(start);
        assert!((second.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((third.as_secs_f64() - 0.2).abs() < 1e-9);
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

    #[test]
    fn a_token_given_back_goes_to_the_next_reservation_not_to_a_burst() {
        // One token a second, one at once: requests 1 s apart at the most.
        let mut b = TokenBucket::new(1.0, 1);
        let start = Instant::now();
        b.reset(start);
        let secs = |d: Duration| d.as_secs_f64();
        let mut times: Vec<f64> = (0..4).map(|_| secs(b.reserve(start))).collect();
        assert_eq!(times, [0.0, 1.0, 2.0, 3.0]);
        // The one for 2 s is given up: the next takes its time, the one after queues at the end.
        b.cancel(start + Duration::from_secs(2), start);
        times.remove(2);
        times.extend([secs(b.reserve(start)), secs(b.reserve(start))]);
        times.sort_by(f64::total_cmp);
        assert_eq!(times, [0.0, 1.0, 2.0, 3.0, 4.0]);
        // A time given back that passed unused is not handed out later: the one for 4 s is
        // given up, and a request at 4.5 s waits for the token of 5 s.
        b.cancel(start + Duration::from_secs(4), start);
        let later = start + Duration::from_millis(4500);
        assert!((secs(b.reserve(later)) - 0.5).abs() < 1e-9);
    }
}
