//! Prometheus metrics: per controller (reconciles, errors, duration, pending objects), per
//! provider method (calls, errors, latency), Kubernetes API requests, and leadership.

use std::sync::Arc;
use std::time::Duration;

use mcp_loader::{CallObserver, CallOutcome, Method};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerErrorLabels {
    pub controller: &'static str,
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodErrorLabels {
    pub method: &'static str,
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabels {
    pub verb: &'static str,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms .. ~65 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ControllerLabels, Counter>,
    pub reconcile_errors: Family<ControllerErrorLabels, Counter>,
    pub reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    pub pending: Family<ControllerLabels, Gauge>,
    pub provider_calls: Family<MethodLabels, Counter>,
    pub provider_errors: Family<MethodErrorLabels, Counter>,
    pub provider_latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    pub api_requests: Family<VerbLabels, Counter>,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("multicluster_provider");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_errors = Family::<ControllerErrorLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let pending = Family::<ControllerLabels, Gauge>::default();
        let provider_calls = Family::<MethodLabels, Counter>::default();
        let provider_errors = Family::<MethodErrorLabels, Counter>::default();
        let provider_latency =
            Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let api_requests = Family::<VerbLabels, Counter>::default();
        let leader = Gauge::default();
        registry.register(
            "reconcile",
            "Reconciles run, by controller",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by controller and error",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took, by controller",
            reconcile_duration.clone(),
        );
        registry.register(
            "pending_objects",
            "Objects queued or waiting for a retry, by controller (queue depth)",
            pending.clone(),
        );
        registry.register(
            "provider_calls",
            "Provider calls, by method",
            provider_calls.clone(),
        );
        registry.register(
            "provider_call_errors",
            "Failed provider calls, by method and error kind",
            provider_errors.clone(),
        );
        registry.register(
            "provider_call_duration_seconds",
            "Provider call latency, by method",
            provider_latency.clone(),
        );
        registry.register(
            "kube_api_requests",
            "Requests sent to the Karmada API server, by verb",
            api_requests.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            pending,
            provider_calls,
            provider_errors,
            provider_latency,
            api_requests,
            leader,
        }
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
