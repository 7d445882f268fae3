//! What `mcp-try-provider` checks once the controller runs with the library: every sample gets
//! an address (`ensure`'s status, validated by the controller), and then the balancer reads back:
//! each sample is annotated, twice, so the controller calls `get` (its status validated the same
//! way) and `update` again, which proves `get` after `ensure` and `get` after `update`.
//!
//! The controller's metrics tell which provider calls were made and which reconciles failed (a
//! status the controller refuses fails the reconcile as `invalid_response`); its log says why,
//! in the error that names the provider method. A failure names the object (kind
//! namespace/name) and the method.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use mcp_testenv::log_tail;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::Controller;

/// The annotation that makes the controller reconcile a sample again.
const REREAD_ANNOTATION: &str = "mcp-try-provider.karmada.io/reread";

/// A sample object the controller hands to the provider.
pub struct Sample {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    resource: ApiResource,
}

impl Sample {
    pub fn new(object: &DynamicObject) -> Sample {
        let types = object.types.clone().unwrap_or_default();
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", &types.api_version));
        Sample {
            resource: ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind)),
            kind: types.kind,
            namespace: object
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: object.metadata.name.clone().unwrap_or_default(),
        }
    }

    fn api(&self, client: &Client) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), &self.namespace, &self.resource)
    }

    /// The controller that handles it, also the prefix of its provider methods.
    fn controller(&self) -> String {
        self.kind.to_lowercase()
    }

    /// The provider method of this sample's kind: `multiclusteringress_get`, ...
    fn method(&self, operation: &str) -> String {
        format!("{}_{operation}", self.controller())
    }

    /// `MultiClusterIngress default/minimal-ingress`.
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    /// Its `status.loadBalancer`, when it has an address.
    async fn address(&self, client: &Client) -> Result<Option<String>> {
        let object = self.api(client).get(&self.name).await?;
        let status = &object.data["status"]["loadBalancer"];
        let has_address = status["ingress"].as_array().is_some_and(|i| !i.is_empty());
        Ok(has_address.then(|| status.to_string()))
    }
}

/// What the controller's metrics count: provider calls per method, reconciles per controller
/// and failed ones per controller and error label. A status the controller refuses fails the
/// reconcile (`invalid_response`); the log line of that failure names the method.
#[derive(Debug, Default, Clone)]
struct Counters {
    calls: BTreeMap<String, f64>,
    reconciles: BTreeMap<String, f64>,
    failed: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Counters {
    fn calls_since(&self, before: &Counters, method: &str) -> f64 {
        self.calls.get(method).copied().unwrap_or(0.0)
            - before.calls.get(method).copied().unwrap_or(0.0)
    }

    fn failed(&self, controller: &str, label: Option<&str>) -> f64 {
        self.failed.get(controller).map_or(0.0, |by_label| {
            by_label
                .iter()
                .filter(|(l, _)| label.is_none_or(|label| label == l.as_str()))
                .map(|(_, n)| n)
                .sum()
        })
    }

    /// Whether a reconcile of `controller` ended without an error since `before`.
    fn succeeded_since(&self, before: &Counters, controller: &str) -> bool {
        let ran = self.reconciles.get(controller).copied().unwrap_or(0.0)
            - before.reconciles.get(controller).copied().unwrap_or(0.0);
        ran > self.failed(controller, None) - before.failed(controller, None)
    }

    fn failed_since(&self, before: &Counters, controller: &str, label: &str) -> bool {
        self.failed(controller, Some(label)) > before.failed(controller, Some(label))
    }
}

/// The errors of the controller's failed reconciles of `sample`, oldest first, from its log
/// (`reconcile failed: <error> controller="..." namespace="..." name="..."`): the error names the
/// provider method.
fn failures(log_path: &Path, sample: &Sample) -> Vec<String> {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let object = format!(
        " controller=\"{}\" namespace=\"{}\" name=\"{}\"",
        sample.controller(),
        sample.namespace,
        sample.name
    );
    log.lines()
        .filter_map(|line| {
            let (_, error) = line.split_once("reconcile failed: ")?;
            let (error, _) = error.split_once(&object)?;
            Some(error.to_owned())
        })
        .collect()
}

/// Reads the controller's metrics endpoint (plain HTTP on loopback).
pub struct Metrics {
    pub port: u16,
}

impl Metrics {
    async fn counters(&self) -> Counters {
        let mut counters = Counters::default();
        let text = match self.scrape().await {
            Ok(text) => text,
            Err(error) => {
                // Not serving yet: nothing counted.
                tracing::debug!(%error, port = self.port, "cannot read the controller's metrics");
                return counters;
            }
        };
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let label = |name: &str| {
                let start = series.find(&format!("{name}=\""))? + name.len() + 2;
                let len = series[start..].find('"')?;
                Some(series[start..start + len].to_owned())
            };
            let Some((name, _)) = series.split_once('{') else {
                continue;
            };
            match (name, label("method"), label("controller"), label("error")) {
                ("multicluster_provider_provider_calls_total", Some(method), _, _) => {
                    *counters.calls.entry(method).or_default() += value;
                }
                ("multicluster_provider_reconcile_total", _, Some(controller), _) => {
                    *counters.reconciles.entry(controller).or_default() += value;
                }
                (
                    "multicluster_provider_reconcile_errors_total",
                    _,
                    Some(controller),
                    Some(error),
                ) => {
                    *counters
                        .failed
                        .entry(controller)
                        .or_default()
                        .entry(error)
                        .or_default() += value;
                }
                _ => {}
            }
        }
        counters
    }

    async fn scrape(&self) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        Ok(response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default())
    }
}

/// Where the controller runs, to fail early when it exits and to show its log.
pub struct Watch<'a> {
    pub client: &'a Client,
    pub controller: &'a mut Controller,
    pub log_path: &'a Path,
    pub metrics: &'a Metrics,
    pub timeout: Duration,
}

impl Watch<'_> {
    fn log(&self) -> String {
        format!(
            "the controller's log ({}):\n{}",
            self.log_path.display(),
            log_tail(self.log_path, 40)
        )
    }

    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.controller.0.try_wait()? {
            bail!("the controller exited ({status}); {}", self.log());
        }
        Ok(())
    }

    /// Waits until every sample has `status.loadBalancer.ingress`; returns each one's
    /// description and status as JSON. The error names each sample still without one and the
    /// provider calls about it that failed.
    pub async fn addresses(&mut self, samples: &[Sample]) -> Result<Vec<(String, String)>> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let mut done = Vec::new();
            let mut waiting = Vec::new();
            for sample in samples {
                match sample.address(self.client).await? {
                    Some(status) => done.push((sample.describe(), status)),
                    None => waiting.push(sample),
                }
            }
            if waiting.is_empty() {
                return Ok(done);
            }
            self.check_running()?;
            if Instant::now() > deadline {
                let why: Vec<String> = waiting
                    .iter()
                    .map(|sample| {
                        let reason = match failures(self.log_path, sample).pop() {
                            Some(error) => format!("its last reconcile failed: {error}"),
                            None => format!(
                                "no reconcile of it failed (no call of {} returned an error)",
                                ["get", "ensure", "update"]
                                    .map(|m| sample.method(m))
                                    .join(", ")
                            ),
                        };
                        format!("{} got no address; {reason}", sample.describe())
                    })
                    .collect();
                bail!(
                    "not every sample object got an address within {:?}:\n  {}\n{}",
                    self.timeout,
                    why.join("\n  "),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Annotates `sample` so the controller reconciles it again (`get`, then `update` of the
    /// balancer `after` made), and waits for a reconcile that succeeds with an `update` (so its
    /// `get` found the balancer and both statuses passed the controller's checks). Fails at once
    /// when `get` says the balancer does not exist (the controller then calls `ensure`) or a
    /// status is refused (`invalid_response`: the same call again will not help), else after
    /// the timeout; the error names the sample and, from the controller's log, the method.
    pub async fn reread(&mut self, sample: &Sample, after: &str, round: u32) -> Result<()> {
        let before = self.metrics.counters().await;
        let failed_before = failures(self.log_path, sample).len();
        let patch = serde_json::json!({
            "metadata": {"annotations": {REREAD_ANNOTATION: round.to_string()}}
        });
        sample
            .api(self.client)
            .patch(&sample.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let (controller, get, update, ensure) = (
            sample.controller(),
            sample.method("get"),
            sample.method("update"),
            sample.method("ensure"),
        );
        let what = format!("{} after {after}", sample.describe());
        let deadline = Instant::now() + self.timeout;
        let mut succeeded = false;
        loop {
            let now = self.metrics.counters().await;
            if now.calls_since(&before, &ensure) > 0.0 {
                bail!(
                    "{what}: {get} said the balancer does not exist (the controller called {ensure} again); get must return the status of the balancer {after} returned\n{}",
                    self.log()
                );
            }
            if now.failed_since(&before, &controller, "invalid_response") {
                let error = self.new_failure(sample, failed_before).await;
                bail!(
                    "{what}: the controller refused a status: {}\n{}",
                    error.unwrap_or_else(|| format!("{get} or {update} returned an invalid one")),
                    self.log()
                );
            }
            // Seen twice: a reconcile is counted before its failure is (the error policy runs
            // after it), so one scrape may show a failed one as ended without an error.
            if now.calls_since(&before, &update) > 0.0 && now.succeeded_since(&before, &controller)
            {
                if succeeded {
                    return Ok(());
                }
                succeeded = true;
            } else {
                succeeded = false;
            }
            self.check_running()?;
            if Instant::now() > deadline {
                let reason = match self.new_failure(sample, failed_before).await {
                    Some(error) => format!("its last reconcile failed: {error}"),
                    None => format!("no reconcile with a successful {get} and {update}"),
                };
                bail!(
                    "{what}: the balancer did not read back within {:?}; {reason}\n{}",
                    self.timeout,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The error of the last failed reconcile of `sample` logged after the first `seen`, waiting
    /// a little for its line (the log is written as the failure is counted).
    async fn new_failure(&self, sample: &Sample, seen: usize) -> Option<String> {
        for _ in 0..20 {
            let failures = failures(self.log_path, sample);
            if failures.len() > seen {
                return failures.last().cloned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}
