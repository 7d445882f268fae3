//! Prometheus metrics: per controller (reconciles, errors, duration, pending objects), per
//! provider method (calls, errors, latency), Kubernetes API requests, and leadership; beside
//! ours (prefix `multicluster_provider_`), controller-runtime's and client-go's series as the Go
//! original exports them ([`controller_runtime`]).
//!
//! The series are private: code records through the methods below (one call per thing that
//! happened), so a series added or renamed (e.g. controller-runtime's names beside ours) changes
//! this file alone.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_loader::{CallObserver, CallOutcome, Method};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod controller_runtime;
mod labels;

use controller_runtime::{
    ControllerLabel, ControllerRuntime, DepthLabels, LeaseLabel, ResponseCode, RestLabels,
    ResultLabels, queue,
};
use labels::{
    ControllerErrorLabels, ControllerLabels, HintLabels, KindLabels, MethodErrorLabels,
    MethodLabels, VerbLabels,
};

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
    provider_hints: Family<HintLabels, Counter>,
    skipped_updates: Family<KindLabels, Counter>,
    leader: Gauge,
    /// controller-runtime's series, labelled with the Go controllers' names.
    go: ControllerRuntime,
}

/// How a reconcile ended, as controller-runtime's `result` label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileResult {
    Success,
    Error,
    RequeueAfter,
}

impl ReconcileResult {
    fn label(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::RequeueAfter => "requeue_after",
        }
    }
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
        let mut registry = Registry::default();
        let go = ControllerRuntime::register(&mut registry);
        let r = registry.sub_registry_with_prefix("multicluster_provider");
        Metrics {
            go,
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
            provider_hints: registered(
                r,
                "provider_hints",
                "Provider answers saying when to call again (interface 1.2), by object kind and hint: in_progress (a balancer still being provisioned) or retry_after (a failure with a retry delay)",
                Family::default(),
            ),
            skipped_updates: registered(
                r,
                "provider_updates_skipped",
                "Reconciles that made no update call because neither the object nor its backend view changed since the last successful one (providers that take the view), by object kind",
                Family::default(),
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

    /// A controller started, named `go_name` in controller-runtime's series, running up to
    /// `max_concurrent` reconciles at once: its series start at zero.
    pub fn controller_started(&self, go_name: &'static str, max_concurrent: u16) {
        self.go.init_controller(go_name, max_concurrent);
    }

    /// Runs one reconcile of `controller` (`go_name` in controller-runtime's series) and, once
    /// it has finished, counts it and records how long it took. A reconcile dropped half-way
    /// (leadership lost) is not counted, so a test that sees the counter move knows the
    /// controller handled what it was waiting for.
    pub async fn count_and_measure<T>(
        &self,
        controller: &'static str,
        go_name: &'static str,
        reconcile: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        // A handle on the gauge, not the family's lock guard, is held across the await.
        let workers = self
            .go
            .active_workers
            .get_or_create(&ControllerLabel {
                controller: go_name,
            })
            .clone();
        workers.inc();
        // Leaves the active workers as they were, finished or dropped.
        let _idle = Defer(|| {
            workers.dec();
        });
        let result = reconcile.await;
        let elapsed = started.elapsed().as_secs_f64();
        let labels = ControllerLabels { controller };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(elapsed);
        self.go
            .reconcile_time
            .get_or_create(&ControllerLabel {
                controller: go_name,
            })
            .observe(elapsed);
        self.go
            .work_duration
            .get_or_create(&queue(go_name))
            .observe(elapsed);
        result
    }

    /// Counts how a reconcile of `go_name` ended (controller-runtime's `result`).
    pub fn reconcile_ended(&self, go_name: &'static str, result: ReconcileResult) {
        self.go
            .reconcile_total
            .get_or_create(&ResultLabels {
                controller: go_name,
                result: result.label(),
            })
            .inc();
        if result == ReconcileResult::Error {
            self.go
                .reconcile_errors
                .get_or_create(&ControllerLabel {
                    controller: go_name,
                })
                .inc();
        }
    }

    /// Counts a failed reconcile of `controller`, by error label.
    pub fn reconcile_failed(&self, controller: &'static str, error: &'static str) {
        self.reconcile_errors
            .get_or_create(&ControllerErrorLabels { controller, error })
            .inc();
    }

    /// An object was added to `go_name`'s queue (not already waiting in it).
    pub fn queue_added(&self, go_name: &'static str) {
        self.go.adds.get_or_create(&queue(go_name)).inc();
    }

    /// An object goes back to `go_name`'s queue after a failure.
    pub fn queue_retried(&self, go_name: &'static str) {
        self.go.retries.get_or_create(&queue(go_name)).inc();
    }

    /// How many objects wait in `go_name`'s queue.
    pub fn set_queue_depth(&self, go_name: &'static str, objects: usize) {
        self.go
            .depth
            .get_or_create(&DepthLabels {
                name: go_name,
                controller: go_name,
                priority: "",
            })
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    /// An object waited `waited` in `go_name`'s queue before its reconcile started.
    pub fn queue_waited(&self, go_name: &'static str, waited: Duration) {
        self.go
            .queue_duration
            .get_or_create(&queue(go_name))
            .observe(waited.as_secs_f64());
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

    /// Counts one answered (or failed: `code` `None`) request as client-go does.
    pub fn count_rest_client_request(
        &self,
        code: Option<u16>,
        method: &'static str,
        host: &'static str,
    ) {
        self.go
            .rest_client_requests
            .get_or_create(&RestLabels {
                code: ResponseCode(code),
                method,
                host,
            })
            .inc();
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether this replica holds the leader-election Lease `lease` (controller-runtime's
    /// `leader_election_master_status`, present only with leader election).
    pub fn set_lease_held(&self, lease: &'static str, held: bool) {
        self.go
            .leader_election_master_status
            .get_or_create(&LeaseLabel { name: lease })
            .set(i64::from(held));
    }

    /// A provider answer that set when to call again: `hint` is `in_progress` or `retry_after`.
    pub fn provider_hint(&self, kind: &'static str, hint: &'static str) {
        let labels = HintLabels { kind, hint };
        self.provider_hints.get_or_create(&labels).inc();
    }

    /// An `update` not made: the object and its backend view were as last time.
    pub fn update_skipped(&self, kind: &'static str) {
        self.skipped_updates
            .get_or_create(&KindLabels { kind })
            .inc();
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

/// Runs a closure when dropped.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[cfg(test)]
mod tests;
