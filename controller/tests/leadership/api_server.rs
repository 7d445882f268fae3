//! Leadership against a struggling API server: one that answers nothing ends leadership within
//! the renew deadline, and a relist of a large kind delays no renewal.

use std::time::{Duration, Instant, SystemTime};

use kube::api::Api;

use super::{WAIT, holds, lease_spec, lease_spec_opt, wait_leading};
use crate::common::proxy::Proxy;
use crate::common::{ControllerOptions, ControllerProcess, Env};

/// An API server that accepts connections and answers nothing: the leader steps down (exits)
/// no later than renew deadline + retry period after its last successful renewal.
#[tokio::test]
async fn a_hanging_api_server_ends_leadership_within_the_renew_deadline() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(env.server_address()).await;
    let (renew_deadline, retry) = (Duration::from_secs(5), Duration::from_secs(1));
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&env.kubeconfig_via(proxy.port, dir.path()))
            .arg("--controllers=multiclusteringress")
            .arg("--leader-elect-lease-duration=8s")
            .arg("--leader-elect-renew-deadline=5s")
            .arg("--leader-elect-retry-period=1s"),
    );
    controller.wait_ready(WAIT).await;
    wait_leading(&env, &controller).await;
    let pid = controller.pid();
    proxy.hang();
    let status = controller.wait_exit(WAIT).await;
    let exited = SystemTime::now();
    assert!(!status.success(), "exit {status}");
    assert!(
        controller
            .logs()
            .contains("the lease could not be renewed within the renew deadline"),
        "{}",
        controller.logs()
    );
    let spec = lease_spec(&env).await;
    assert!(holds(&spec, pid));
    let renewed = spec.renew_time.unwrap().0;
    let renewed = SystemTime::UNIX_EPOCH
        + Duration::from_nanos(u64::try_from(renewed.as_nanosecond()).unwrap());
    let after = exited.duration_since(renewed).unwrap_or_default();
    assert!(
        after <= renew_deadline + retry,
        "stepped down {after:?} after the last renewal"
    );
}

/// A relist of a large kind does not delay a renewal: 10 000 ResourceBindings (about 3 KB
/// each) are listed and decoded by a replica that leads meanwhile (it campaigns while its
/// caches sync), with the Lease renewed every 2 s; no renewal is missed (no gap between two
/// renewals reaches two retry periods).
#[tokio::test]
async fn a_relist_of_ten_thousand_objects_misses_no_renewal() {
    use futures::StreamExt;
    use mcp_interface::api::work::ResourceBinding;

    const BINDINGS: usize = 10_000;
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api: Api<ResourceBinding> = Api::namespaced(env.client.clone(), "default");
    let padding = "x".repeat(1500);
    let clusters: Vec<serde_json::Value> = (0..30)
        .map(|i| serde_json::json!({"name": format!("member-{i:02}"), "replicas": i}))
        .collect();
    let created = futures::stream::iter(0..BINDINGS)
        .map(|i| {
            let binding: ResourceBinding = serde_json::from_value(serde_json::json!({
                "apiVersion": "work.karmada.io/v1alpha2",
                "kind": "ResourceBinding",
                "metadata": {
                    "name": format!("svc-{i:05}-service"),
                    "annotations": {"example.com/padding": padding},
                },
                "spec": {
                    "resource": {"apiVersion": "v1", "kind": "Service", "name": format!("svc-{i:05}"), "namespace": "default"},
                    "clusters": clusters,
                },
            }))
            .unwrap();
            let api = api.clone();
            async move { api.create(&Default::default(), &binding).await.map(|_| ()) }
        })
        .buffer_unordered(16)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(created, BINDINGS);

    let retry = Duration::from_secs(2);
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .arg("--controllers=mci-service-locations")
            .arg("--leader-elect-retry-period=2s"),
    );
    let pid = controller.pid();
    let bindings_handled = |c: &ControllerProcess| {
        c.metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "ResourceBinding")],
        )
    };
    // Every renewal the test sees, from the first while leading until three after the
    // relist was handled.
    let mut renewals: Vec<SystemTime> = Vec::new();
    let mut after_relist: Option<usize> = None;
    // Renewals seen while the relist was still being handled: the two overlap (the replica
    // campaigns while its caches sync), or the test would prove nothing.
    let mut during_relist = 0;
    let deadline = Instant::now() + Duration::from_secs(180);
    while after_relist.is_none_or(|n| renewals.len() < n + 3) {
        assert!(
            Instant::now() < deadline,
            "renewals seen: {renewals:?}\n{}",
            controller.logs()
        );
        assert!(controller.running(), "{}", controller.logs());
        let spec = lease_spec_opt(&env).await;
        if let Some(spec) = spec.filter(|s| holds(s, pid)) {
            let renewed = spec.renew_time.unwrap().0;
            let renewed = SystemTime::UNIX_EPOCH
                + Duration::from_nanos(u64::try_from(renewed.as_nanosecond()).unwrap());
            if renewals.last() != Some(&renewed) {
                renewals.push(renewed);
                if bindings_handled(&controller) < BINDINGS as f64 {
                    during_relist += 1;
                }
            }
        }
        if after_relist.is_none()
            && !renewals.is_empty()
            && bindings_handled(&controller) >= BINDINGS as f64
        {
            after_relist = Some(renewals.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gaps: Vec<Duration> = renewals
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default())
        .collect();
    let longest = gaps.iter().max().copied().unwrap_or_default();
    eprintln!("{during_relist} renewals during the relist; gaps between renewals: {gaps:?}");
    assert!(
        during_relist >= 1,
        "the relist must overlap leadership ({during_relist} renewals during it)"
    );
    assert!(longest < 2 * retry, "a renewal was missed: gaps {gaps:?}");
    controller.wait_ready(WAIT).await;
    controller.stop(WAIT).await;
}
