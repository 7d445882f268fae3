//! `verify`: a sanity suite for provider libraries, run without a cluster.
//!
//! It loads the library exactly as the controller does and drives each capability the provider
//! offers through the contract on realistic objects ([`objects`]): `get` of an unknown object is
//! absent, `ensure` then `get` agree, `update` of an existing balancer, `ensure_deleted` twice,
//! `get` after delete is absent, `update` of a missing balancer is `not_found`, and many objects
//! at once. Statuses go through the controller's own validation (the loader's handle), calls
//! through its timeout. It prints a pass/fail table with per-method latencies (or `--json`),
//! exits non-zero on a failure and deletes what it created; `--dry-run` lists the calls instead
//! of making them, `--cleanup` deletes what an interrupted run left. `--expect` names the
//! capabilities the provider must offer ([`expect`]).

mod backend;
mod cleanup;
mod expect;
mod objects;
mod report;
mod suite;
mod view;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use mcp_loader::{CallObserver, Method};
use serde_json::json;

use crate::cli::{ProviderArgs, VerifyArgs};
use crate::provider;
use report::{ProviderSummary, Report, Row};
use suite::{Backend, Ingress, Kind, Model, Service};

/// What one run of the suite should do.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Namespace of the objects.
    pub namespace: String,
    /// Objects in the parallel check.
    pub parallel: usize,
    /// Delete every balancer the run created at the end.
    pub cleanup: bool,
}

/// Per-method call durations, filled by the loader's call observer.
type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>>;

pub fn run(provider_args: &ProviderArgs, args: &VerifyArgs) -> anyhow::Result<()> {
    let loaded = match provider::load(provider_args, args.target.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            if args.json {
                println!("{}", provider::error_json(&e));
            }
            return Err(e);
        }
    };
    let samples: Samples = Arc::default();
    let observer: CallObserver = {
        let samples = samples.clone();
        Arc::new(move |method: Method, took: Duration, _| {
            samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(method.as_str())
                .or_default()
                .push(took);
        })
    };
    let provider = loaded
        .with_call_timeout(args.provider_call_timeout.0)
        .with_observer(observer);
    let capabilities = BTreeMap::from([
        (
            Ingress::CAPABILITY,
            provider.supports_multicluster_ingress(),
        ),
        (
            Service::CAPABILITY,
            provider.supports_multicluster_service(),
        ),
    ]);
    let summary = ProviderSummary::new(provider.info(), capabilities.clone());
    let warnings = expect::warnings(&args.expect, &capabilities, provider.name());
    let missing = expect::missing(&args.expect, &capabilities);
    if !capabilities.values().any(|supported| *supported) && args.expect.is_empty() {
        warnings.iter().for_each(|w| eprintln!("warning: {w}"));
        anyhow::bail!(
            "provider {:?} offers no capability (neither MultiClusterIngress nor MultiClusterService load balancers): nothing to verify",
            provider.name()
        );
    }
    let plan = Plan {
        namespace: args.namespace.clone(),
        parallel: usize::from(args.parallel),
        cleanup: !args.keep,
    };
    if args.dry_run {
        warnings.iter().for_each(|w| eprintln!("warning: {w}"));
        if let Some(capability) = missing.first() {
            anyhow::bail!("{}", expect::missing_sentence(provider.name(), *capability));
        }
        return dry_run(&summary, &plan, args.json);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        if !args.cleanup {
            rows.extend(expect::rows(&args.expect, &capabilities, provider.name()));
        }
        if capabilities[Ingress::CAPABILITY] {
            rows.extend(run_kind::<Ingress>(&provider, &plan, args.cleanup).await?);
        }
        if capabilities[Service::CAPABILITY] {
            rows.extend(run_kind::<Service>(&provider, &plan, args.cleanup).await?);
        }
        anyhow::Ok(rows)
    });
    // A call that hung past its timeout keeps a blocking thread; do not wait for it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let rows = rows?;
    let latency = report::latencies(&samples.lock().unwrap_or_else(|e| e.into_inner()));
    let report =
        Report::new(summary, plan.namespace.clone(), rows, latency).with_warnings(warnings);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    if report.passed() {
        return Ok(());
    }
    let failed = format!(
        "provider {:?} failed {} of {} checks (see the table above; `detail` says what the contract expects)",
        report.provider.name,
        report.summary.failed,
        report.checks.len()
    );
    if missing.is_empty() {
        anyhow::bail!("{failed}")
    }
    let sentences: Vec<String> = missing
        .iter()
        .map(|c| expect::missing_sentence(&report.provider.name, *c))
        .collect();
    anyhow::bail!("{}; {failed}", sentences.join("; "))
}

async fn run_kind<K: Kind>(
    provider: &mcp_loader::Provider,
    plan: &Plan,
    cleanup_only: bool,
) -> anyhow::Result<Vec<Row>>
where
    mcp_loader::Provider: Backend<K>,
{
    let rows = if cleanup_only {
        cleanup::cleanup::<K, _>(provider, plan).await
    } else {
        suite::run::<K, _>(provider, plan).await
    };
    rows.context("building the verify objects")
}

/// Runs the suite against a model provider that honours the contract and prints the calls it
/// made: exactly the calls a passing run makes.
fn dry_run(summary: &ProviderSummary, plan: &Plan, as_json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("cannot start the async runtime")?;
    let mut calls = Vec::new();
    runtime.block_on(async {
        if summary.capabilities[Ingress::CAPABILITY] {
            let model = Model::<Ingress>::default();
            suite::run::<Ingress, _>(&model, plan).await?;
            calls.extend(model.calls());
        }
        if summary.capabilities[Service::CAPABILITY] {
            let model = Model::<Service>::default();
            suite::run::<Service, _>(&model, plan).await?;
            calls.extend(model.calls());
        }
        anyhow::Ok(())
    })?;
    if as_json {
        let calls: Vec<_> = calls
            .iter()
            .map(|(method, object)| json!({"method": method.as_str(), "object": object}))
            .collect();
        let doc = json!({
            "provider": summary,
            "dryRun": true,
            "checks": suite::CHECKS,
            "calls": calls,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "dry run: provider {} {} would get these {} calls (no call was made):",
            summary.name,
            summary.provider_version,
            calls.len()
        );
        for (method, object) in &calls {
            println!("  {:36} {object}", method.as_str());
        }
        println!("\nchecks, for each object:");
        for check in suite::CHECKS {
            println!("  - {check}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
