//! controller-runtime's workqueue metrics (`workqueue_adds_total`, `_depth`, `_retries_total`,
//! `_queue_duration_seconds`) for a controller on kube-runtime's scheduler, which keeps its
//! queue to itself: [`QueueMetrics`] follows each object from its request (the trigger stream,
//! a retry, a resync) to the start of its reconcile, as client-go's queue counts them: an
//! object already waiting is not added twice, and a retried object waits from when its delay
//! ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

pub struct QueueMetrics {
    go_name: &'static str,
    metrics: Arc<Metrics>,
    /// Each waiting object (`namespace/name`) and when it is (or becomes) ready to run.
    waiting: Mutex<HashMap<String, Instant>>,
}

impl QueueMetrics {
    pub fn new(go_name: &'static str, metrics: Arc<Metrics>) -> Self {
        QueueMetrics {
            go_name,
            metrics,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_depth(&self, waiting: &HashMap<String, Instant>, now: Instant) {
        let ready = waiting.values().filter(|at| **at <= now).count();
        self.metrics.set_queue_depth(self.go_name, ready);
    }

    /// `key` is asked for now (a watch event mapped to it).
    pub fn added(&self, key: String) {
        self.requested(key, Duration::ZERO);
    }

    /// `key` runs again after `after`: a retry (`retry`) or a resync.
    pub fn requeued(&self, key: String, after: Duration, retry: bool) {
        if retry {
            self.metrics.queue_retried(self.go_name);
        }
        self.requested(key, after);
    }

    fn requested(&self, key: String, after: Duration) {
        let now = Instant::now();
        let ready_at = now + after;
        let mut waiting = self.lock();
        match waiting.get_mut(&key) {
            // Already queued: client-go's queue holds an item once.
            Some(at) if *at <= now => {}
            Some(at) => {
                // Waiting for a delay that a new request cuts short.
                if ready_at < *at {
                    *at = ready_at;
                    self.metrics.queue_added(self.go_name);
                }
            }
            None => {
                waiting.insert(key, ready_at);
                self.metrics.queue_added(self.go_name);
            }
        }
        self.set_depth(&waiting, now);
    }

    /// `key`'s reconcile starts: it leaves the queue.
    pub fn started(&self, key: &str) {
        let now = Instant::now();
        let mut waiting = self.lock();
        if let Some(ready_at) = waiting.remove(key) {
            self.metrics
                .queue_waited(self.go_name, now.saturating_duration_since(ready_at));
        }
        self.set_depth(&waiting, now);
    }

    /// `key` will not run (it left the store before its turn).
    pub fn dropped(&self, key: &str) {
        let mut waiting = self.lock();
        waiting.remove(key);
        self.set_depth(&waiting, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        q.added("default/a".into());
        q.added("default/a".into());
        q.added("default/b".into());
        assert_eq!(
            metric(&metrics, &format!("workqueue_adds_total{labels}")),
            2.0
        );
        assert_eq!(metric(&metrics, depth), 2.0);
        q.started("default/a");
        assert_eq!(metric(&metrics, depth), 1.0);
        assert_eq!(
            metric(
                &metrics,
                &format!("workqueue_queue_duration_seconds_count{labels}")
            ),
            1.0
        );
        // A failure: a retry in an hour is not queued yet.
        q.requeued("default/a".into(), Duration::from_secs(3600), true);
        assert_eq!(
            metric(&metrics, &format!("workqueue_retries_total{labels}")),
            1.0
        );
        assert_eq!(metric(&metrics, depth), 1.0);
        // A change meanwhile queues it at once.
        q.added("default/a".into());
        assert_eq!(metric(&metrics, depth), 2.0);
        q.dropped("default/b");
        q.started("default/a");
        assert_eq!(metric(&metrics, depth), 0.0);
    }
}
