//! The result of a `verify` run: a pass/fail table and per-method latencies, as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mcp_loader::{CallError, LibraryInfo, Method};
use serde::Serialize;

/// The label of the clean-up row.
pub(crate) const CLEANUP: &str = "clean-up: ensure_deleted of what this run created";

/// A failed call, with its metric label (a provider error's message already names its kind).
pub(crate) fn failed(error: &CallError) -> String {
    match error {
        CallError::Provider { .. } => error.to_string(),
        _ => format!("{error} ({})", error.label()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        }
    }
}

/// One check on one object.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `multiclusteringress` or `multiclusterservice`.
    pub capability: &'static str,
    /// The object's shape (e.g. `tls`), or what the check covered.
    pub object: String,
    pub check: &'static str,
    pub outcome: Outcome,
    /// The status returned, or what went wrong.
    pub detail: String,
}

/// Latency of one method over a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    pub method: &'static str,
    pub calls: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// Summarises the durations recorded per method.
pub fn latencies(samples: &BTreeMap<&'static str, Vec<Duration>>) -> Vec<Latency> {
    let order = |m: &str| Method::ALL.iter().position(|x| x.as_str() == m);
    let mut out: Vec<Latency> = samples
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(method, durations)| {
            let mut sorted = durations.clone();
            sorted.sort();
            let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
            Latency {
                method,
                calls: sorted.len(),
                min_ms: ms(sorted[0]),
                median_ms: ms(sorted[sorted.len() / 2]),
                max_ms: ms(sorted[sorted.len() - 1]),
            }
        })
        .collect();
    out.sort_by_key(|l| order(l.method));
    out
}

/// The provider `verify` ran against.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSummary {
    pub name: String,
    pub library: String,
    pub provider_version: String,
    pub interface_version: String,
    pub host_interface_version: &'static str,
    pub capabilities: BTreeMap<&'static str, bool>,
}

impl ProviderSummary {
    pub fn new(info: &LibraryInfo, capabilities: BTreeMap<&'static str, bool>) -> Self {
        ProviderSummary {
            name: info.name.clone(),
            library: info.path.display().to_string(),
            provider_version: info.provider_version.clone(),
            interface_version: info.interface_version.clone(),
            host_interface_version: mcp_interface::INTERFACE_VERSION,
            capabilities,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub provider: ProviderSummary,
    /// Lines that do not fail the run but may be mistakes (`verify --expect`'s warnings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub namespace: String,
    pub checks: Vec<Row>,
    pub latency: Vec<Latency>,
    pub summary: Summary,
}

impl Report {
    pub fn new(
        provider: ProviderSummary,
        namespace: String,
        checks: Vec<Row>,
        latency: Vec<Latency>,
    ) -> Self {
        let count = |o: Outcome| checks.iter().filter(|r| r.outcome == o).count();
        let summary = Summary {
            passed: count(Outcome::Pass),
            failed: count(Outcome::Fail),
            skipped: count(Outcome::Skip),
        };
        Report {
            provider,
            warnings: Vec::new(),
            namespace,
            checks,
            latency,
            summary,
        }
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    pub fn passed(&self) -> bool {
        self.summary.failed == 0
    }

    /// The report as a table for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let p = &self.provider;
        let _ = writeln!(
            out,
            "provider {} {} (interface {}, this controller speaks {}), library {}",
            p.name, p.provider_version, p.interface_version, p.host_interface_version, p.library
        );
        for (capability, supported) in &p.capabilities {
            if !supported {
                let _ = writeln!(
                    out,
                    "{capability}: not supported by the provider, not checked"
                );
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        let _ = writeln!(out, "objects in namespace {}\n", self.namespace);
        let widths = (
            column_width(self.checks.iter().map(|r| r.capability), "CAPABILITY"),
            column_width(self.checks.iter().map(|r| r.object.as_str()), "OBJECT"),
            column_width(self.checks.iter().map(|r| r.check), "CHECK"),
        );
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  RESULT  DETAIL",
            "CAPABILITY",
            "OBJECT",
            "CHECK",
            w0 = widths.0,
            w1 = widths.1,
            w2 = widths.2
        );
        for row in &self.checks {
            let _ = writeln!(
                out,
                "{:w0$}  {:w1$}  {:w2$}  {:6}  {}",
                row.capability,
                row.object,
                row.check,
                row.outcome.as_str(),
                one_line(&row.detail, row.outcome),
                w0 = widths.0,
                w1 = widths.1,
                w2 = widths.2
            );
        }
        if !self.latency.is_empty() {
            let width = column_width(self.latency.iter().map(|l| l.method), "METHOD");
            let _ = writeln!(
                out,
                "\n{:width$}  {:>5}  {:>9}  {:>9}  {:>9}",
                "METHOD", "CALLS", "MIN ms", "MEDIAN ms", "MAX ms"
            );
            for l in &self.latency {
                let _ = writeln!(
                    out,
                    "{:width$}  {:>5}  {:>9.3}  {:>9.3}  {:>9.3}",
                    l.method, l.calls, l.min_ms, l.median_ms, l.max_ms
                );
            }
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\n{}: {} passed, {} failed, {} skipped",
            if self.passed() { "PASS" } else { "FAIL" },
            s.passed,
            s.failed,
            s.skipped
        );
        out
    }
}

fn column_width<'a>(values: impl Iterator<Item = &'a str>, header: &str) -> usize {
    values
        .map(str::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0)
}

/// Details of passing checks are statuses: shorten them; failures are shown in full.
fn one_line(detail: &str, outcome: Outcome) -> String {
    let detail = detail.replace('\n', " ");
    if outcome == Outcome::Fail || detail.chars().count() <= 100 {
        detail
    } else {
        let short: String = detail.chars().take(99).collect();
        format!("{short}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_summarised_per_method_in_method_order() {
        let mut samples = BTreeMap::new();
        samples.insert(Method::MciUpdate.as_str(), vec![Duration::from_millis(3)]);
        samples.insert(
            Method::MciGet.as_str(),
            vec![
                Duration::from_millis(5),
                Duration::from_millis(1),
                Duration::from_millis(2),
            ],
        );
        let l = latencies(&samples);
        assert_eq!(l[0].method, "multiclusteringress_get");
        assert_eq!(
            (l[0].calls, l[0].min_ms, l[0].median_ms, l[0].max_ms),
            (3, 1.0, 2.0, 5.0)
        );
        assert_eq!(l[1].method, "multiclusteringress_update");
    }
}
