//! Provider calls that fail, hang or outlive their timeout, on a real control plane with the real
//! fake provider: the finalizer stays until the balancer is really deleted, two calls about one
//! object never overlap, and an object deleted while failing leaves no retry behind.

#![forbid(unsafe_code)]

pub mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ControllerOptions, ControllerProcess, Env, eventually, fake_state};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde::de::DeserializeOwned;

const WAIT: Duration = Duration::from_secs(60);
const MCI: &str = include_str!("../../examples/mci.yaml");
const MCS: &str = "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {name: minimal-ingress}\nspec: {types: [LoadBalancer], ports: [{port: 80}]}\n";
const ERRORS: &str = "multicluster_provider_provider_call_errors_total";
const PENDING: &str = "multicluster_provider_pending_objects";

/// One kind of balanced object: its controller, finalizer and fake-provider names.
struct Kind {
    controller: &'static str,
    finalizer: &'static str,
    /// The fake's method prefix and the balancer key prefix (`mci`, `mcs`).
    fake: &'static str,
    /// The metric label of `ensure_deleted`.
    ensure_deleted: &'static str,
    yaml: &'static str,
}

const INGRESS: Kind = Kind {
    controller: "multiclusteringress",
    finalizer: "karmada.io/multi-cluster-ingress-controller",
    fake: "mci",
    ensure_deleted: "multiclusteringress_ensure_deleted",
    yaml: MCI,
};

const SERVICE: Kind = Kind {
    controller: "multiclusterservice",
    finalizer: "karmada.io/multi-cluster-service-controller",
    fake: "mcs",
    ensure_deleted: "multiclusterservice_ensure_deleted",
    yaml: MCS,
};

/// What the balanced kinds' APIs need.
trait Balanced:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Balanced for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// A test's control plane, directory, controller and the API of the balanced kind.
type Started<K> = (Env, tempfile::TempDir, ControllerProcess, Api<K>);

/// A control plane with the object `default/minimal-ingress` of `kind` and a ready controller of
/// that kind whose fake has `faults` (state file `lbs.json` in the directory).
async fn start<K: Balanced>(kind: &Kind, faults: &str, args: &[&str]) -> Started<K> {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(kind.yaml, "default").await;
    let config = format!(
        "stateFile: {}\nfaults: {faults}",
        dir.path().join("lbs.json").display()
    );
    let mut options = ControllerOptions::new(dir.path())
        .cloud_config(&config)
        .arg(format!("--controllers={}", kind.controller));
    for arg in args {
        options = options.arg(*arg);
    }
    let mut controller = env.controller(options);
    controller.wait_ready(WAIT).await;
    let api: Api<K> = Api::namespaced(env.client.clone(), "default");
    (env, dir, controller, api)
}

/// [`start`], returning once the balancer exists.
async fn balanced<K: Balanced>(kind: &Kind, faults: &str, args: &[&str]) -> Started<K> {
    let started = start::<K>(kind, faults, args).await;
    let key = format!("{}/default/minimal-ingress", kind.fake);
    eventually(WAIT, "the balancer", || async {
        balancers(started.1.path()).get(&key).map(|_| ())
    })
    .await;
    started
}

fn balancers(dir: &Path) -> serde_json::Value {
    fake_state(&dir.join("lbs.json"))["balancers"].clone()
}

/// While `ensure_deleted` keeps failing, the object keeps its finalizer (its balancer exists);
/// removed by hand, it leaves no retry behind: `pending_objects` goes back to 0.
async fn failing_deletion_keeps_the_finalizer<K: Balanced>(kind: &Kind) {
    let faults = format!(
        "[{{method: {}_ensure_deleted, action: fail, message: cloud unavailable}}]",
        kind.fake
    );
    let (_env, dir, mut controller, api) = balanced::<K>(kind, &faults, &[]).await;
    api.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    let errors = || controller.metric_sum(ERRORS, &[("method", kind.ensure_deleted)]);
    eventually(WAIT, "two failed deletions", || async {
        (errors() >= 2.0).then_some(())
    })
    .await;
    let obj = api.get("minimal-ingress").await.unwrap();
    assert!(obj.meta().deletion_timestamp.is_some());
    assert_eq!(
        obj.finalizers(),
        [kind.finalizer],
        "the finalizer went before the balancer:\n{}",
        controller.logs()
    );
    assert_ne!(balancers(dir.path()), serde_json::json!({}));
    let pending = || controller.metric_sum(PENDING, &[("controller", kind.controller)]);
    assert_eq!(pending(), 1.0, "{}", controller.metrics());

    // An operator gives up on the cloud and removes the finalizer: nothing is pending any more.
    api.patch(
        "minimal-ingress",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    common::wait_gone(&api, "minimal-ingress", WAIT).await;
    eventually(WAIT, "pending_objects back to 0", || async {
        (pending() == 0.0).then_some(())
    })
    .await;
    controller.stop(WAIT).await;
}

/// While `ensure_deleted` hangs past its timeout, the object keeps its finalizer; once the call
/// returns, the retry deletes (once) and the finalizer goes.
async fn hanging_deletion_keeps_the_finalizer<K: Balanced>(kind: &Kind) {
    let faults = format!(
        "[{{method: {}_ensure_deleted, action: hang, hangMs: 8000, times: 1}}]",
        kind.fake
    );
    // A timeout long enough for the calls that do not hang, even on a loaded machine.
    let (_env, dir, mut controller, api) =
        balanced::<K>(kind, &faults, &["--provider-call-timeout=2s"]).await;
    api.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the deletion to time out", || async {
        let timeouts = controller.metric_sum(
            ERRORS,
            &[("method", kind.ensure_deleted), ("error", "timeout")],
        );
        (timeouts >= 1.0).then_some(())
    })
    .await;
    let obj = api.get("minimal-ingress").await.unwrap();
    assert_eq!(
        obj.finalizers(),
        [kind.finalizer],
        "the finalizer went while the deletion hung:\n{}",
        controller.logs()
    );
    common::wait_gone(&api, "minimal-ingress", WAIT).await;
    let state = fake_state(&dir.path().join("lbs.json"));
    assert_eq!(state["balancers"], serde_json::json!({}), "{state}");
    assert_eq!(
        state["deleted"],
        serde_json::json!([format!("{}/default/minimal-ingress", kind.fake)])
    );
    controller.stop(WAIT).await;
}

#[tokio::test]
async fn mcis_and_mcss_keep_their_finalizer_while_ensure_deleted_fails() {
    tokio::join!(
        failing_deletion_keeps_the_finalizer::<MultiClusterIngress>(&INGRESS),
        failing_deletion_keeps_the_finalizer::<MultiClusterService>(&SERVICE),
    );
}

#[tokio::test]
async fn mcis_and_mcss_keep_their_finalizer_while_ensure_deleted_hangs() {
    tokio::join!(
        hanging_deletion_keeps_the_finalizer::<MultiClusterIngress>(&INGRESS),
        hanging_deletion_keeps_the_finalizer::<MultiClusterService>(&SERVICE),
    );
}

/// A call that outlives `--provider-call-timeout` keeps running in the provider; the retry
/// waits for it (logged) instead of calling beside it, so no two calls about one object ever
/// overlap (the fake records overlaps in its call log).
#[tokio::test]
async fn a_retry_waits_for_the_call_that_timed_out() {
    let (_env, dir, mut controller, api) = start::<MultiClusterIngress>(
        &INGRESS,
        "[{method: mci_get, action: hang, hangMs: 6000, times: 1}]",
        // A timeout long enough for the calls that do not hang, even on a loaded machine.
        &["--provider-call-timeout=2s"],
    )
    .await;
    let state = dir.path().join("lbs.json");
    eventually(WAIT, "the balancer's address", || async {
        let mci = api.get("minimal-ingress").await.ok()?;
        (common::mci_ip(&mci).as_deref() == Some("1.2.3.4")).then_some(())
    })
    .await;
    let timeouts = controller.metric_sum(ERRORS, &[("error", "timeout")]);
    assert!(timeouts >= 1.0, "{}", controller.metrics());
    let calls = fake_state(&state)["calls"].clone();
    let overlapping: Vec<&serde_json::Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("overlapping").is_some())
        .collect();
    assert!(
        overlapping.is_empty(),
        "calls overlapped an earlier call about the same object: {overlapping:?}\nall calls: {calls}"
    );
    let methods: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["method"].as_str())
        .collect();
    assert_eq!(methods, ["mci_get", "mci_get", "mci_ensure"], "{calls}");
    assert!(
        controller.logs().contains("has not returned yet"),
        "{}",
        controller.logs()
    );
    controller.stop(WAIT).await;
}

/// The client-side limit of one kind's requests (`--kube-api-qps`, `--kube-api-burst`) and the
/// overall retry bucket (`--rate-limiter-qps`, `--rate-limiter-bucket-size`), end to end: MCIs
/// get their addresses no faster than their kind's requests allow (each needs a status write),
/// and failing MCIs, whose own backoff is negligible here, are retried no faster than the
/// bucket allows. Both bounds are upper bounds with room to spare, so a slow machine passes.
#[tokio::test]
async fn writes_and_retries_keep_to_their_rate_limits() {
    const API_QPS: f64 = 2.0;
    const API_BURST: f64 = 1.0;
    const RETRY_QPS: f64 = 2.0;
    const RETRY_BUCKET: f64 = 2.0;
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    let healthy: Vec<String> = (0..12).map(|i| format!("healthy-{i}")).collect();
    for name in healthy
        .iter()
        .map(String::as_str)
        .chain(["failing-0", "failing-1"])
    {
        env.apply(&common::mci_yaml(name), "default").await;
    }
    let config = "faults: [{method: mci_ensure, object: default/failing-0, action: fail, message: no quota}, {method: mci_ensure, object: default/failing-1, action: fail, message: no quota}]";
    let spawned = Instant::now();
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(config)
            .arg("--controllers=multiclusteringress")
            .arg(format!("--kube-api-qps={API_QPS}"))
            .arg(format!("--kube-api-burst={API_BURST}"))
            .arg("--rate-limiter-base-delay=1ms")
            .arg("--rate-limiter-max-delay=1ms")
            .arg(format!("--rate-limiter-qps={RETRY_QPS}"))
            .arg(format!("--rate-limiter-bucket-size={RETRY_BUCKET}")),
    );
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    // Each address written since the last list that showed none took one MultiClusterIngress
    // request (its status write) after that list began; two requests to spare for rounding.
    let mut none_seen = Instant::now();
    loop {
        assert!(spawned.elapsed() < WAIT, "{}", controller.logs());
        let listed = Instant::now();
        let list = api.list(&Default::default()).await.unwrap();
        let addressed = list
            .items
            .iter()
            .filter(|m| common::mci_ip(m).is_some())
            .count();
        if addressed == 0 {
            none_seen = listed;
        } else {
            let allowed = API_BURST + API_QPS * none_seen.elapsed().as_secs_f64() + 2.0;
            assert!(
                addressed as f64 <= allowed,
                "{addressed} MCIs written within {:?}, more than --kube-api-qps allows",
                none_seen.elapsed()
            );
        }
        if addressed == healthy.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Retries over a window: the bucket's size plus its rate over the window, a few to spare.
    let retries = || {
        controller.metric_sum(
            "workqueue_retries_total",
            &[("name", "multiclusteringress-controller")],
        )
    };
    let start = Instant::now();
    let first = retries();
    let last = eventually(WAIT, "a few retries", || async {
        let now = retries();
        (now >= first + 6.0).then_some(now)
    })
    .await;
    let allowed = RETRY_BUCKET + RETRY_QPS * start.elapsed().as_secs_f64() + 2.0;
    assert!(
        last - first <= allowed,
        "{} retries within {:?}, more than --rate-limiter-qps allows",
        last - first,
        start.elapsed()
    );
    controller.stop(WAIT).await;
}
