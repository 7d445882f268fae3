//! controller-runtime's workqueue metrics (`workqueue_adds_total`, `_depth`, `_retries_total`,
//! `_queue_duration_seconds`) for a controller on kube-runtime's scheduler, which keeps its
//! queue to itself: [`QueueMetrics`] follows each object from its request (the trigger stream,
//! a retry, a resync) to the start of its reconcile, as client-go's queue counts them: an
//! object already waiting is not added twice, and a retried object waits from when its delay
//! ends.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::key::ObjectKey;
use crate::metrics::Metrics;

pub struct QueueMetrics {
    go_name: &'static str,
    metrics: Arc<Metrics>,
    waiting: Mutex<Waiting>,
}

/// The waiting objects, kept so that every operation is O(log n): the depth (objects ready to
/// run) is a count, not a scan, so a burst of N requests costs N log N, not N².
#[derive(Default)]
struct Waiting {
    /// Each waiting object and when it is (or becomes) ready to run.
    at: HashMap<ObjectKey, Instant>,
    /// The objects of `at` not ready yet, by the time they become ready.
    later: BTreeSet<(Instant, ObjectKey)>,
    /// How many objects of `at` are ready (not in `later`).
    ready: usize,
}

impl Waiting {
    /// Counts the objects whose time has come as ready.
    fn promote(&mut self, now: Instant) {
        while self.later.first().is_some_and(|(at, _)| *at <= now) {
            self.later.pop_first();
            self.ready += 1;
        }
    }

    fn insert(&mut self, key: ObjectKey, ready_at: Instant, now: Instant) {
        if ready_at <= now {
            self.ready += 1;
        } else {
            self.later.insert((ready_at, key.clone()));
        }
        self.at.insert(key, ready_at);
    }

    /// Removes `key`, returning when it was ready.
    fn remove(&mut self, key: &ObjectKey, now: Instant) -> Option<Instant> {
        let ready_at = self.at.remove(key)?;
        // Not in `later` when its time came (as of this or another thread's clock).
        let later = ready_at > now && self.later.remove(&(ready_at, key.clone()));
        if !later {
            self.ready -= 1;
        }
        // A burst leaves a large table behind; give the memory back once it is mostly empty.
        if self.at.capacity() > 64 && self.at.len() < self.at.capacity() / 4 {
            self.at.shrink_to(self.at.len() * 2);
        }
        Some(ready_at)
    }
}

impl QueueMetrics {
    pub fn new(go_name: &'static str, metrics: Arc<Metrics>) -> Self {
        QueueMetrics {
            go_name,
            metrics,
            waiting: Mutex::new(Waiting::default()),
        }
    }

    /// The waiting objects as of `now`.
    fn lock(&self, now: Instant) -> std::sync::MutexGuard<'_, Waiting> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.promote(now);
        waiting
    }

    fn set_depth(&self, waiting: &Waiting) {
        self.metrics.set_queue_depth(self.go_name, waiting.ready);
    }

    /// `key` is asked for now (a watch event mapped to it).
    pub fn added(&self, key: ObjectKey) {
        self.requested(key, Duration::ZERO);
    }

    /// `key` runs again after `after`: a retry (`retry`) or a resync.
    pub fn requeued(&self, key: ObjectKey, after: Duration, retry: bool) {
        if retry {
            self.metrics.queue_retried(self.go_name);
        }
        self.requested(key, after);
    }

    fn requested(&self, key: ObjectKey, after: Duration) {
        let now = Instant::now();
        let ready_at = now + after;
        let mut waiting = self.lock(now);
        match waiting.at.get(&key).copied() {
            // Already queued: client-go's queue holds an item once.
            Some(at) if at <= now => {}
            Some(at) => {
                // Waiting for a delay that a new request cuts short.
                if ready_at < at {
                    waiting.remove(&key, now);
                    waiting.insert(key, ready_at, now);
                    self.metrics.queue_added(self.go_name);
                }
            }
            None => {
                waiting.insert(key, ready_at, now);
                self.metrics.queue_added(self.go_name);
            }
        }
        self.set_depth(&waiting);
    }

    /// `key`'s reconcile starts: it leaves the queue.
    pub fn started(&self, key: &ObjectKey) {
        let now = Instant::now();
        let mut waiting = self.lock(now);
        if let Some(ready_at) = waiting.remove(key, now) {
            self.metrics
                .queue_waited(self.go_name, now.saturating_duration_since(ready_at));
        }
        self.set_depth(&waiting);
    }

    /// `key` will not run (it left the store before its turn).
    pub fn dropped(&self, key: &ObjectKey) {
        let now = Instant::now();
        let mut waiting = self.lock(now);
        waiting.remove(key, now);
        self.set_depth(&waiting);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(Some("default"), name)
    }

    fn metric(metrics: &Metrics, series: &str) -> f64 {
        metrics
            .encode()
            .lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn counts_as_client_go_queue_does() {
        let metrics = Arc::new(Metrics::new());
        let q = QueueMetrics::new("multiclusteringress-controller", metrics.clone());
        let labels = r#"{name="multiclusteringress-controller",controller="multiclusteringress-controller"}"#;
        let depth = r#"workqueue_depth{name="multiclusteringress-controller",controller="multiclusteringress-controller",priority=""}"#;
        q.added(key("a"));
        q.added(key("a"));
        q.added(key("b"));
        assert_eq!(
            metric(&metrics, &format!("workqueue_adds_total{labels}")),
            2.0
        );
        assert_eq!(metric(&metrics, depth), 2.0);
        q.started(&key("a"));
        assert_eq!(metric(&metrics, depth), 1.0);
        assert_eq!(
            metric(
                &metrics,
                &format!("workqueue_queue_duration_seconds_count{labels}")
            ),
            1.0
        );
        // A failure: a retry in an hour is not queued yet.
        q.requeued(key("a"), Duration::from_secs(3600), true);
        assert_eq!(
            metric(&metrics, &format!("workqueue_retries_total{labels}")),
            1.0
        );
        assert_eq!(metric(&metrics, depth), 1.0);
        // A change meanwhile queues it at once.
        q.added(key("a"));
        assert_eq!(metric(&metrics, depth), 2.0);
        q.dropped(&key("b"));
        q.started(&key("a"));
        assert_eq!(metric(&metrics, depth), 0.0);
    }

    #[test]
    fn a_delayed_object_counts_once_its_time_has_come() {
        let metrics = Arc::new(Metrics::new());
        let q = QueueMetrics::new("multiclusterservice-controller", metrics.clone());
        let depth = r#"workqueue_depth{name="multiclusterservice-controller",controller="multiclusterservice-controller",priority=""}"#;
        q.requeued(key("a"), Duration::from_millis(20), true);
        q.requeued(key("b"), Duration::from_secs(3600), true);
        assert_eq!(metric(&metrics, depth), 0.0);
        let until = Instant::now() + Duration::from_millis(20);
        while Instant::now() < until {
            std::thread::sleep(until - Instant::now());
        }
        // Any operation counts what became ready meanwhile.
        q.added(key("c"));
        assert_eq!(metric(&metrics, depth), 2.0);
        q.started(&key("a"));
        q.dropped(&key("b"));
        q.started(&key("c"));
        assert_eq!(metric(&metrics, depth), 0.0);
        let waiting = q.waiting.lock().unwrap();
        assert!(waiting.at.is_empty() && waiting.later.is_empty() && waiting.ready == 0);
    }

    #[test]
    fn a_burst_leaves_no_large_table_behind() {
        let q = QueueMetrics::new("x", Arc::new(Metrics::new()));
        for i in 0..10_000 {
            q.added(key(&i.to_string()));
        }
        for i in 0..10_000 {
            q.started(&key(&i.to_string()));
        }
        assert!(q.waiting.lock().unwrap().at.capacity() <= 128);
    }
}
