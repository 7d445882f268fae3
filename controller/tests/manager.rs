//! The controller manager as a process: flags, provider loading, probes, metrics, leader
//! election, shutdown, restarts and faults, with the real binary, the real fake library and a
//! real control plane. The command line without a control plane is in `manager/cli.rs`, provider
//! faults in `manager/faults.rs`.

#![forbid(unsafe_code)]

#[path = "manager/cli.rs"]
mod cli;
pub mod common;
#[path = "manager/faults.rs"]
mod faults;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state, mci_yaml};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;

const WAIT: Duration = Duration::from_secs(60);
/// A series the MCI controller has from its start on (none before).
const MCI_CONTROLLER_SERIES: &str =
    "controller_runtime_active_workers{controller=\"multiclusteringress-controller\"}";

/// Waits until every named MCI in `namespace` has a load balancer address.
async fn all_have_addresses(api: &Api<MultiClusterIngress>, names: &[String]) {
    eventually(WAIT, "every MCI to get its address", || async {
        let list = api.list(&Default::default()).await.ok()?;
        let done: BTreeMap<String, bool> = list
            .items
            .iter()
            .map(|m| {
                (
                    m.metadata.name.clone().unwrap(),
                    common::mci_ip(m).is_some(),
                )
            })
            .collect();
        names
            .iter()
            .all(|n| done.get(n) == Some(&true))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn probes_metrics_and_a_clean_sigterm() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(&mci_yaml("web"), "default").await;
    env.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: elections}\n",
        "default",
    )
    .await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .arg("--controllers=multiclusteringress")
            .arg("--leader-elect-resource-namespace=elections"),
    );
    controller.wait_ready(WAIT).await;
    assert_eq!(controller.health("/healthz").unwrap().0, 200);
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    all_have_addresses(&api, &["web".to_owned()]).await;

    let metrics = controller.metrics();
    for needle in [
        "multicluster_provider_reconcile_total{controller=\"multiclusteringress\"}",
        "multicluster_provider_provider_calls_total{method=\"multiclusteringress_ensure\"} 1",
        "multicluster_provider_provider_call_duration_seconds_bucket{",
        "multicluster_provider_kube_api_requests_total{verb=\"patch\"}",
        "multicluster_provider_leader 1",
        "multicluster_provider_pending_objects{controller=\"multiclusteringress\"}",
    ] {
        assert!(
            metrics.contains(needle),
            "missing {needle:?} in:\n{metrics}"
        );
    }

    // The Lease is in the namespace the flag names, and only there.
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "elections");
    let held = leases.get("multicluster-controller-manager").await.unwrap();
    assert!(
        held.spec.and_then(|s| s.holder_identity).is_some(),
        "{}",
        controller.logs()
    );
    let default_namespace: Api<Lease> = Api::namespaced(env.client.clone(), "karmada-system");
    assert!(
        default_namespace
            .get_opt("multicluster-controller-manager")
            .await
            .unwrap()
            .is_none()
    );

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "exit {status}:\n{}", controller.logs());
    // The lease was released on the way out: no holder.
    let lease = leases.get("multicluster-controller-manager").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity,
        None,
        "{}",
        controller.logs()
    );
}

#[tokio::test]
async fn two_replicas_one_leader_and_a_handover_without_double_creation() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    let opts = ControllerOptions::new(dir.path())
        .cloud_config(&format!("stateFile: {}", state.display()))
        .arg("--controllers=multiclusteringress")
        // Shorter than the defaults (15s/10s/2s) to keep the test quick, with a renew deadline
        // a loaded machine still meets: a spurious loss ends the leader (and the count below).
        .arg("--leader-elect-lease-duration=8s")
        .arg("--leader-elect-renew-deadline=6s")
        .arg("--leader-elect-retry-period=1s");
    let mut first = env.controller(opts.clone());
    first.wait_ready(WAIT).await;
    let mut second = env.controller(opts);
    second.wait_ready(WAIT).await;

    let names: Vec<String> = (0..5).map(|i| format!("shop-{i}")).collect();
    for n in &names {
        env.apply(&mci_yaml(n), "default").await;
    }
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    all_have_addresses(&api, &names).await;

    // Exactly one replica leads.
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "karmada-system");
    let holder = leases
        .get("multicluster-controller-manager")
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity
        .unwrap();
    let (mut leader, mut standby) = if holder.contains(&format!("_{}_", first.pid())) {
        (first, second)
    } else {
        (second, first)
    };
    assert!(
        holder.contains(&format!("_{}_", leader.pid())),
        "holder {holder}"
    );
    assert!(leader.metrics().contains("multicluster_provider_leader 1"));
    assert!(standby.metrics().contains("multicluster_provider_leader 0"));
    // The standby's caches saw the MCIs, and no controller of it runs (its controller-runtime
    // series exist from a controller's start, as the leader's show), so none queued or
    // reconciled them, nor can later: the cache's counter alone moves before a request reaches
    // a controller.
    eventually(WAIT, "the standby's cache to see every MCI", || async {
        let seen = standby.metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "MultiClusterIngress")],
        );
        (seen >= names.len() as f64).then_some(())
    })
    .await;
    let started = |c: &common::ControllerProcess| c.metrics().contains(MCI_CONTROLLER_SERIES);
    assert!(started(&leader), "{}", leader.metrics());
    assert!(!started(&standby), "{}", standby.metrics());
    assert_eq!(standby.queued("multiclusteringress"), 0.0);
    assert_eq!(standby.reconciles("multiclusteringress"), 0.0);
    assert!(
        !standby.logs().contains("created the load balancer"),
        "the standby must not reconcile"
    );

    // Kill the leader (no release): the standby takes the lease once it expires, and serves.
    let transitions = |lease: &Lease| {
        lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_transitions)
            .unwrap_or(0)
    };
    let before = transitions(&leases.get("multicluster-controller-manager").await.unwrap());
    leader.kill();
    for n in ["after-0", "after-1"] {
        env.apply(&mci_yaml(n), "default").await;
    }
    let mut all = names.clone();
    all.extend(["after-0".to_owned(), "after-1".to_owned()]);
    all_have_addresses(&api, &all).await;
    assert!(standby.logs().contains("became the leader"));
    assert!(started(&standby), "{}", standby.metrics());
    let lease = leases.get("multicluster-controller-manager").await.unwrap();
    let spec = lease.spec.as_ref().unwrap();
    assert!(
        spec.holder_identity
            .as_deref()
            .is_some_and(|h| h.contains(&format!("_{}_", standby.pid()))),
        "{spec:?}"
    );
    assert_eq!(transitions(&lease), before + 1, "{spec:?}");

    // No balancer was created twice.
    let s = fake_state(&state);
    let created: Vec<&str> = s["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut unique = created.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        created.len(),
        unique.len(),
        "a balancer was created twice: {created:?}"
    );
    assert_eq!(created.len(), all.len());
    standby.stop(WAIT).await;
}

#[tokio::test]
async fn killed_mid_way_then_restarted_every_object_converges_without_leaks() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    let names: Vec<String> = (0..40).map(|i| format!("app-{i}")).collect();
    for n in &names {
        env.apply(&mci_yaml(n), "default").await;
    }
    // Slow provider calls so the kill lands in the middle of the work.
    let opts = ControllerOptions::new(dir.path())
        .cloud_config(&format!("stateFile: {}\nlatencyMs: 40", state.display()))
        .arg("--controllers=multiclusteringress")
        .arg("--concurrent-reconciles=4")
        .arg("--leader-elect=false");
    let mut first = env.controller(opts.clone());
    eventually(WAIT, "some balancers to exist", || async {
        let n = fake_state(&state)["created"].as_array().map_or(0, Vec::len);
        (n >= 5).then_some(())
    })
    .await;
    first.kill();
    let created_before = fake_state(&state)["created"].as_array().unwrap().len();
    assert!(
        created_before < names.len(),
        "the kill came too late to test anything"
    );

    // Delete a few while nobody runs: their balancers must go too.
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    for n in &names[..3] {
        api.delete(n, &DeleteParams::default()).await.unwrap();
    }
    let mut second = env.controller(opts);
    let remaining: Vec<String> = names[3..].to_vec();
    all_have_addresses(&api, &remaining).await;
    eventually(WAIT, "the deleted MCIs to be gone", || async {
        let list = api.list(&Default::default()).await.ok()?;
        (list.items.len() == remaining.len()).then_some(())
    })
    .await;

    let s = fake_state(&state);
    let balancers: Vec<String> = s["balancers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let expected: Vec<String> = {
        let mut e: Vec<String> = remaining
            .iter()
            .map(|n| format!("mci/default/{n}"))
            .collect();
        e.sort();
        e
    };
    assert_eq!(balancers, expected, "leaked or lost balancers");
    let created: Vec<&str> = s["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in &expected {
        assert_eq!(
            created.iter().filter(|c| *c == key).count(),
            1,
            "{key} created more than once: {created:?}"
        );
    }
    second.stop(WAIT).await;
}
