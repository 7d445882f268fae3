//! What the controller under test reports on its metrics port: one series, sums over labels,
//! its reconcile and queue counters, and waiting until a controller has handled every request
//! queued so far.

use std::time::Duration;

use super::{ControllerProcess, eventually, http_get};

impl ControllerProcess {
    pub fn metrics(&self) -> String {
        http_get(self.metrics_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The value of one series, e.g. `multicluster_provider_reconcile_total{controller="x"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// The sum of the series of metric `name` whose labels include every `key="value"` of
    /// `labels` (0 when there is none).
    pub fn metric_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics()
            .lines()
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let rest = series.strip_prefix(name)?;
                (rest.is_empty() || rest.starts_with('{')).then_some((rest, value))
            })
            .filter(|(series, _)| {
                labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }

    /// Reconciles `controller` has finished (0 before the first).
    pub fn reconciles(&self, controller: &str) -> f64 {
        self.metric(&format!(
            "multicluster_provider_reconcile_total{{controller=\"{controller}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Reconcile requests the watches of `controller` have queued (0 before the first).
    pub fn queued(&self, controller: &str) -> f64 {
        self.metric(&format!(
            "multicluster_provider_queue_adds_total{{controller=\"{controller}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Waits until `controller` has handled every request queued for it so far: none waits in
    /// its queue (`workqueue_depth` 0), no reconcile runs (`active_workers` 0), and as many
    /// reconciles have ended as objects were added to the queue (`workqueue_adds_total`, which
    /// counts an object once while it waits), on two scrapes in a row. Returns the reconcile
    /// count, a baseline a test can wait past. A request still on its way from a cache to the
    /// queue is not seen: a test that needs it handled first waits for a later request of the
    /// same controller (the queue reads them in order).
    pub async fn quiet(&self, controller: &str, timeout: Duration) -> f64 {
        let go = multicluster_provider::controllers::CONTROLLERS
            .iter()
            .find(|c| c.name == controller)
            .unwrap_or_else(|| panic!("no controller {controller}"))
            .go_name;
        let snapshot = || {
            let depth = self.metric_sum("workqueue_depth", &[("name", go)]);
            let active =
                self.metric_sum("controller_runtime_active_workers", &[("controller", go)]);
            let adds = self.metric_sum("workqueue_adds_total", &[("name", go)]);
            let ended =
                self.metric_sum("controller_runtime_reconcile_total", &[("controller", go)]);
            (depth == 0.0 && active == 0.0 && ended == adds).then_some(ended)
        };
        let mut last = None;
        eventually(
            timeout,
            &format!("{controller} to handle every queued request"),
            || {
                let now = snapshot();
                let settled = now.is_some() && now == last;
                last = now;
                async move { settled.then(|| self.reconciles(controller)) }
            },
        )
        .await
    }
}
