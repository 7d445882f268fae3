//! controller-runtime's and client-go's series, with the Go original's names and labels, so
//! Karmada's dashboards and alerts read this controller as they read the Go one. The `controller`
//! (and workqueue `name`) label is the Go controller's name (`CONTROLLERS`' `go_name`).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::registered;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ControllerLabel {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResultLabels {
    pub controller: &'static str,
    pub result: &'static str,
}

/// A workqueue's labels: controller-runtime names each controller's queue after it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct QueueLabels {
    pub name: &'static str,
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DepthLabels {
    pub name: &'static str,
    pub controller: &'static str,
    /// Empty: controller-runtime's queues without priorities.
    pub priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RestLabels {
    pub code: ResponseCode,
    pub method: &'static str,
    pub host: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LeaseLabel {
    pub name: &'static str,
}

/// client-go's `code` label: the HTTP status, or `<error>` when no response came.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(super) struct ResponseCode(pub Option<u16>);

impl EncodeLabelValue for ResponseCode {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        match self.0 {
            Some(code) => write!(encoder, "{code}"),
            None => encoder.write_str("<error>"),
        }
    }
}

/// The results controller-runtime counts reconciles by.
pub(super) const RESULTS: [&str; 4] = ["success", "error", "requeue", "requeue_after"];

/// controller-runtime's `controller_runtime_reconcile_time_seconds` buckets.
const RECONCILE_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

fn reconcile_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// The workqueue histograms' buckets: 10 ns to 1000 s, times 10.
fn queue_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-8, 10.0, 12))
}

pub(super) struct ControllerRuntime {
    pub reconcile_total: Family<ResultLabels, Counter>,
    pub reconcile_errors: Family<ControllerLabel, Counter>,
    pub terminal_reconcile_errors: Family<ControllerLabel, Counter>,
    pub reconcile_panics: Family<ControllerLabel, Counter>,
    pub reconcile_time: Family<ControllerLabel, Histogram, fn() -> Histogram>,
    pub max_concurrent_reconciles: Family<ControllerLabel, Gauge>,
    pub active_workers: Family<ControllerLabel, Gauge>,
    pub depth: Family<DepthLabels, Gauge>,
    pub adds: Family<QueueLabels, Counter>,
    pub retries: Family<QueueLabels, Counter>,
    pub queue_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    pub work_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    pub rest_client_requests: Family<RestLabels, Counter>,
    pub leader_election_master_status: Family<LeaseLabel, Gauge>,
}

impl ControllerRuntime {
    /// Registers the series, without a prefix, in `r`.
    pub fn register(r: &mut Registry) -> Self {
        ControllerRuntime {
            reconcile_total: registered(
                r,
                "controller_runtime_reconcile",
                "Total number of reconciliations per controller",
                Family::default(),
            ),
            reconcile_errors: registered(
                r,
                "controller_runtime_reconcile_errors",
                "Total number of reconciliation errors per controller",
                Family::default(),
            ),
            terminal_reconcile_errors: registered(
                r,
                "controller_runtime_terminal_reconcile_errors",
                "Total number of terminal reconciliation errors per controller",
                Family::default(),
            ),
            reconcile_panics: registered(
                r,
                "controller_runtime_reconcile_panics",
                "Total number of reconciliation panics per controller",
                Family::default(),
            ),
            reconcile_time: registered(
                r,
                "controller_runtime_reconcile_time_seconds",
                "Length of time per reconciliation per controller",
                Family::new_with_constructor(reconcile_histogram),
            ),
            max_concurrent_reconciles: registered(
                r,
                "controller_runtime_max_concurrent_reconciles",
                "Maximum number of concurrent reconciles per controller",
                Family::default(),
            ),
            active_workers: registered(
                r,
                "controller_runtime_active_workers",
                "Number of currently used workers per controller",
                Family::default(),
            ),
            depth: registered(
                r,
                "workqueue_depth",
                "Current depth of workqueue by workqueue and priority",
                Family::default(),
            ),
            adds: registered(
                r,
                "workqueue_adds",
                "Total number of adds handled by workqueue",
                Family::default(),
            ),
            retries: registered(
                r,
                "workqueue_retries",
                "Total number of retries handled by workqueue",
                Family::default(),
            ),
            queue_duration: registered(
                r,
                "workqueue_queue_duration_seconds",
                "How long in seconds an item stays in workqueue before being requested",
                Family::new_with_constructor(queue_histogram),
            ),
            work_duration: registered(
                r,
                "workqueue_work_duration_seconds",
                "How long in seconds processing an item from workqueue takes.",
                Family::new_with_constructor(queue_histogram),
            ),
            rest_client_requests: registered(
                r,
                "rest_client_requests",
                "Number of HTTP requests, partitioned by status code, method, and host.",
                Family::default(),
            ),
            leader_election_master_status: registered(
                r,
                "leader_election_master_status",
                "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
                Family::default(),
            ),
        }
    }

    /// Creates every series of `controller` at zero, as controller-runtime does when a
    /// controller starts, so dashboards see it before anything happens.
    pub fn init_controller(&self, controller: &'static str, max_concurrent: u16) {
        for result in RESULTS {
            let _ = self
                .reconcile_total
                .get_or_create(&ResultLabels { controller, result });
        }
        let c = ControllerLabel { controller };
        let _ = self.reconcile_errors.get_or_create(&c);
        let _ = self.terminal_reconcile_errors.get_or_create(&c);
        let _ = self.reconcile_panics.get_or_create(&c);
        let _ = self.reconcile_time.get_or_create(&c);
        self.max_concurrent_reconciles
            .get_or_create(&c)
            .set(i64::from(max_concurrent));
        let _ = self.active_workers.get_or_create(&c);
        let q = queue(controller);
        let _ = self.depth.get_or_create(&DepthLabels {
            name: controller,
            controller,
            priority: "",
        });
        let _ = self.adds.get_or_create(&q);
        let _ = self.retries.get_or_create(&q);
        let _ = self.queue_duration.get_or_create(&q);
        let _ = self.work_duration.get_or_create(&q);
    }
}

pub(super) fn queue(controller: &'static str) -> QueueLabels {
    QueueLabels {
        name: controller,
        controller,
    }
}
