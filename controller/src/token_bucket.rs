//! A token bucket (golang.org/x/time/rate's limiter, as client-go and its workqueue use it):
//! the client's per-kind request limits, the overall retry bucket of the backoff and the Event
//! correlator's spam filter each keep their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

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
    pub(crate) fn cancel(&mut self, at: Instant, now: Instant) {
        if at > now {
            self.freed.push(Reverse(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_queue_up() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10.0, 1);
        b.reset(start);
        assert_eq!(b.reserve(start), Duration::ZERO);
        let second = b.reserve(start);
        let third = b.reserve(start);
        assert!((second.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((third.as_secs_f64() - 0.2).abs() < 1e-9);
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
