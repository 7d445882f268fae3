//! Prometheus metrics: per controller (reconciles, errors, duration, pending objects), per
//! provider method (calls, errors, latency), Kubernetes API requests, and leadership.
//!
//! The series are private: code records through the methods below (one call per thing that
//! happened), so a series added or renamed (e.g. controller-runtime's names beside ours) changes
//! this file alone.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_loader::{CallObserver, CallOutcome, Method};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerErrorLabels {
    controller: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodErrorLabels {
    method: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: &'static str,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms .. ~65 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// A family of duration histograms, one per label set.
fn duration_histograms<L>() -> Family<L, Histogram, fn() -> Histogram>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(duration_histogram)
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ControllerErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    pending: Family<ControllerLabels, Gauge>,
    queue_adds: Family<ControllerLabels, Counter>,
    provider_calls: Family<MethodLabels, Counter>,
    provider_errors: Family<MethodErrorLabels, Counter>,
    provider_latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    api_requests: Family<VerbLabels, Counter>,
    undecodable: Family<KindLabels, Counter>,
    cache_events: Family<KindLabels, Counter>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers `metric` under `name` and returns it (families are handles: the registry and the
/// caller share the series).
fn registered<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("multicluster_provider");
        let r = &mut registry;
        Metrics {
            reconciles: registered(
                r,
                "reconcile",
                "Reconciles run, by controller",
                Family::default(),
            ),
            reconcile_errors: registered(
                r,
                "reconcile_errors",
                "Reconciles that failed, by controller and error",
                Family::default(),
            ),
            reconcile_duration: registered(
                r,
                "reconcile_duration_seconds",
                "Time one reconcile took, by controller",
                duration_histograms(),
            ),
            pending: registered(
                r,
                "pending_objects",
                "Objects queued or waiting for a retry, by controller (queue depth)",
                Family::default(),
            ),
            queue_adds: registered(
                r,
                "queue_adds",
                "Reconcile requests the watches queued, by controller (before de-duplication)",
                Family::default(),
            ),
            provider_calls: registered(
                r,
                "provider_calls",
                "Provider calls, by method",
                Family::default(),
            ),
            provider_errors: registered(
                r,
                "provider_call_errors",
                "Failed provider calls, by method and error kind",
                Family::default(),
            ),
            provider_latency: registered(
                r,
                "provider_call_duration_seconds",
                "Provider call latency, by method",
                duration_histograms(),
            ),
            api_requests: registered(
                r,
                "kube_api_requests",
                "Requests sent to the Karmada API server, by verb",
                Family::default(),
            ),
            undecodable: registered(
                r,
                "undecodable_objects",
                "Objects skipped because they do not fit the controller's model, by kind (each list or watch event counts)",
                Family::default(),
            ),
            cache_events: registered(
                r,
                "cache_events",
                "Watch events the caches handled (stored, subscribers told), by kind",
                Family::default(),
            ),
            leader: registered(
                r,
                "leader",
                "1 while this replica is the leader",
                Gauge::default(),
            ),
            registry,
        }
    }

    /// Runs one reconcile of `controller` and, once it has finished, counts it and records how
    /// long it took. A reconcile dropped half-way (leadership lost) is not counted, so a test
    /// that sees the counter move knows the controller handled what it was waiting for.
    pub async fn count_and_measure<T>(
        &self,
        controller: &'static str,
        reconcile: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let result = reconcile.await;
        let labels = ControllerLabels { controller };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Counts a failed reconcile of `controller`, by error label.
    pub fn reconcile_failed(&self, controller: &'static str, error: &'static str) {
        self.reconcile_errors
            .get_or_create(&ControllerErrorLabels { controller, error })
            .inc();
    }

    /// How many objects of `controller` wait for a retry.
    pub fn set_pending(&self, controller: &'static str, objects: usize) {
        self.pending
            .get_or_create(&ControllerLabels { controller })
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    /// Counts one reconcile request queued for `controller`.
    pub fn queued(&self, controller: &'static str) {
        self.queue_adds
            .get_or_create(&ControllerLabels { controller })
            .inc();
    }

    /// Counts one request to the Karmada API server.
    pub fn count_api_request(&self, verb: &'static str) {
        self.api_requests.get_or_create(&VerbLabels { verb }).inc();
    }

    /// Counts an object of `kind` the caches skipped because it does not fit the model.
    pub fn undecodable_object(&self, kind: &'static str) {
        self.undecodable.get_or_create(&KindLabels { kind }).inc();
    }

    /// Counts a watch event the cache of `kind` handled.
    pub fn cache_event(&self, kind: &'static str) {
        self.cache_events.get_or_create(&KindLabels { kind }).inc();
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Records provider calls made through the loader's handle.
    pub fn provider_observer(self: &Arc<Self>) -> CallObserver {
        let metrics = self.clone();
        Arc::new(
            move |method: Method, elapsed: Duration, outcome: CallOutcome| {
                let labels = MethodLabels {
                    method: method.as_str(),
                };
                metrics.provider_calls.get_or_create(&labels).inc();
                metrics
                    .provider_latency
                    .get_or_create(&labels)
                    .observe(elapsed.as_secs_f64());
                if let CallOutcome::Err(error) = outcome {
                    metrics
                        .provider_errors
                        .get_or_create(&MethodErrorLabels {
                            method: method.as_str(),
                            error,
                        })
                        .inc();
                }
            },
        )
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
