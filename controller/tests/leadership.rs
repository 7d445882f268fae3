//! Leadership with real processes: a replica that loses the Lease exits before anyone else may
//! act, so no provider call of it reaches the cloud after its successor's; shutdown releases
//! the Lease only once no provider call runs; a hanging API server ends leadership within the
//! renew deadline (`leadership/api_server.rs`, with a relist that must delay no renewal). The
//! fake's `stateFile` is the shared cloud, its call log names each caller.

#![forbid(unsafe_code)]

#[path = "leadership/api_server.rs"]
mod api_server;
pub mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{ControllerOptions, ControllerProcess, Env, eventually, fake_state, mci_yaml};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams};
use mcp_interface::api::networking::MultiClusterIngress;

const WAIT: Duration = Duration::from_secs(60);
const LEASE: &str = "multicluster-controller-manager";
const SIGTERM: i32 = 15;
/// A series the MCI controller has from its start on (none before).
const MCI_CONTROLLER_SERIES: &str =
    "controller_runtime_active_workers{controller=\"multiclusteringress-controller\"}";

fn leases(env: &Env) -> Api<Lease> {
    Api::namespaced(env.client.clone(), "karmada-system")
}

async fn lease_spec(env: &Env) -> k8s_openapi::api::coordination::v1::LeaseSpec {
    leases(env)
        .get(LEASE)
        .await
        .unwrap()
        .spec
        .unwrap_or_default()
}

/// Whether the Lease's holder identity is that of process `pid` (`<host>_<pid>_<nanos>`).
fn holds(spec: &k8s_openapi::api::coordination::v1::LeaseSpec, pid: u32) -> bool {
    spec.holder_identity
        .as_deref()
        .is_some_and(|h| h.contains(&format!("_{pid}_")))
}

async fn wait_leading(env: &Env, controller: &ControllerProcess) {
    eventually(WAIT, "the controller to hold the lease", || async {
        holds(&lease_spec_opt(env).await?, controller.pid()).then_some(())
    })
    .await;
}

/// The fake's call log: `(seq, pid, method, object)`.
fn calls(state: &std::path::Path) -> Vec<(u64, u32, String, String)> {
    fake_state(state)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["seq"].as_u64().unwrap(),
                u32::try_from(c["pid"].as_u64().unwrap()).unwrap(),
                c["method"].as_str().unwrap().to_owned(),
                c["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A cloud-config sharing `state`, with `faults` (YAML flow list) if any.
fn cloud(state: &std::path::Path, faults: &str) -> String {
    format!("stateFile: {}\nfaults: [{faults}]", state.display())
}

/// Takes the Lease for someone else, as a replica that won an election during a partition.
async fn steal(env: &Env) {
    let steal = serde_json::json!({"spec": {
        "holderIdentity": "intruder",
        "leaseDurationSeconds": 30,
        "renewTime": MicroTime(k8s_openapi::jiff::Timestamp::now()),
    }});
    leases(env)
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&steal))
        .await
        .unwrap();
}

/// Replica A reaches the API server through a proxy; its provider call hangs for 45 s inside
/// the provider. The proxy is cut: A cannot renew, B takes over and creates the balancer. A
/// must have stopped (exited) before: no call of A is in the log after B's first.
#[tokio::test]
async fn a_replica_that_lost_the_lease_makes_no_provider_call_after_its_successor() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    let proxy = Proxy::start(env.server_address()).await;
    let timings = [
        "--controllers=multiclusteringress",
        "--leader-elect-lease-duration=8s",
        "--leader-elect-renew-deadline=6s",
        "--leader-elect-retry-period=1s",
        "--provider-call-timeout=60s",
    ];
    let mut options = ControllerOptions::new(dir.path()).cloud_config(&cloud(
        &state,
        "{method: mci_ensure, action: hang, hangMs: 45000}",
    ));
    for flag in timings {
        options = options.arg(flag);
    }
    let mut a =
        env.controller(options.with_kubeconfig(&env.kubeconfig_via(proxy.port, dir.path())));
    a.wait_ready(WAIT).await;
    wait_leading(&env, &a).await;
    let mut options = ControllerOptions::new(dir.path()).cloud_config(&cloud(&state, ""));
    for flag in timings {
        options = options.arg(flag);
    }
    let mut b = env.controller(options);
    b.wait_ready(WAIT).await;

    env.apply(&mci_yaml("web"), "default").await;
    // A asked whether the balancer exists, and is now inside its hanging `ensure`.
    let (a_pid, b_pid) = (a.pid(), b.pid());
    eventually(WAIT, "A's get", || async {
        calls(&state)
            .iter()
            .any(|(_, pid, method, _)| *pid == a_pid && method == "mci_get")
            .then_some(())
    })
    .await;
    let hang_started = Instant::now();
    proxy.cut();

    // B takes over and creates the balancer.
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "B to give the MCI its address", || async {
        common::mci_ip(&api.get("web").await.ok()?).map(|_| ())
    })
    .await;
    assert!(holds(&lease_spec(&env).await, b_pid));

    // A exited non-zero on losing the lease (had it lived on, its `ensure` would land when
    // the hang ends, 45 s after it started).
    let status = a
        .wait_exit(Duration::from_secs(50).saturating_sub(hang_started.elapsed()))
        .await;
    assert!(!status.success(), "A exited with {status}");
    let logs = a.logs();
    assert!(logs.contains("lost leadership"), "{logs}");
    let log = calls(&state);
    let b_first = log
        .iter()
        .find(|(_, pid, _, _)| *pid == b_pid)
        .map(|(seq, ..)| *seq)
        .expect("B made calls");
    let late: Vec<_> = log
        .iter()
        .filter(|(seq, pid, ..)| *pid == a_pid && *seq > b_first)
        .collect();
    assert!(
        late.is_empty(),
        "A's calls after B's first: {late:?}\n{log:?}"
    );
    assert_eq!(
        fake_state(&state)["created"],
        serde_json::json!(["mci/default/web"])
    );
    b.stop(WAIT).await;
}

/// A leader whose Lease is taken by another replica exits at once, without reconciling
/// anything more; restarted, it is a standby until the Lease is free, then leads and catches up.
#[tokio::test]
async fn a_leader_whose_lease_is_taken_exits_and_restarts_as_a_standby() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    let options = ControllerOptions::new(dir.path())
        .arg("--controllers=multiclusteringress")
        .arg("--leader-elect-lease-duration=8s")
        .arg("--leader-elect-renew-deadline=6s")
        .arg("--leader-elect-retry-period=1s");
    let mut controller = env.controller(options.clone());
    controller.wait_ready(WAIT).await;
    wait_leading(&env, &controller).await;

    steal(&env).await;
    let status = controller.wait_exit(WAIT).await;
    assert!(!status.success(), "exit {status}");
    assert!(
        controller
            .logs()
            .contains("lost leadership (another replica holds the lease): exiting now"),
        "{}",
        controller.logs()
    );

    // Restarted (as the Deployment would), it waits while the intruder holds the Lease: its
    // MCI cache handles a new MCI, and nothing is queued or reconciled for it. The cache's
    // counter moves before a request could reach a controller, so that is not proof enough: no
    // controller runs at all (a controller's controller-runtime series exist from its start,
    // as the end of this test shows), so none can take the request later either.
    let mut restarted = env.controller(options);
    restarted.wait_ready(WAIT).await;
    let controller_started = || restarted.metrics().contains(MCI_CONTROLLER_SERIES);
    let mci_events = || {
        restarted.metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "MultiClusterIngress")],
        )
    };
    let events = mci_events();
    env.apply(&mci_yaml("while-deposed"), "default").await;
    eventually(WAIT, "the MCI cache to handle the new MCI", || async {
        (mci_events() > events).then_some(())
    })
    .await;
    assert!(!controller_started(), "{}", restarted.metrics());
    assert_eq!(restarted.queued("multiclusteringress"), 0.0);
    assert_eq!(restarted.reconciles("multiclusteringress"), 0.0);
    assert!(
        restarted
            .metrics()
            .contains("multicluster_provider_leader 0")
    );
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mci = api.get("while-deposed").await.unwrap();
    assert!(mci.metadata.finalizers.is_none() && common::mci_ip(&mci).is_none());

    // The intruder releases the Lease: the replica leads and catches up.
    let release = serde_json::json!({"spec": {"holderIdentity": null, "leaseDurationSeconds": 1}});
    leases(&env)
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    eventually(WAIT, "the MCI's address", || async {
        common::mci_ip(&api.get("while-deposed").await.ok()?).map(|_| ())
    })
    .await;
    assert!(controller_started(), "{}", restarted.metrics());
    restarted.stop(WAIT).await;
}

/// SIGTERM while a provider call runs: the process waits for it (up to the grace period) and
/// releases the Lease only once none runs; a call still running after the grace period means
/// an exit without releasing; a Lease lost during the wait ends it at once.
#[tokio::test]
async fn shutdown_releases_the_lease_only_once_no_provider_call_runs() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    // A leader whose `mci_ensure` of `name` hangs `hang_ms` gets SIGTERM once that call is
    // inside the provider (the `get` before it is logged); its pid, for the call log.
    let terminated_in_call = async |name: &str, hang_ms: u32, grace: &str| {
        let object = format!("default/{name}");
        let faults =
            format!("{{method: mci_ensure, object: {object}, action: hang, hangMs: {hang_ms}}}");
        let mut controller = env.controller(
            ControllerOptions::new(dir.path())
                .cloud_config(&cloud(&state, &faults))
                .arg("--controllers=multiclusteringress")
                .arg("--leader-elect-lease-duration=15s")
                .arg("--leader-elect-renew-deadline=10s")
                .arg("--leader-elect-retry-period=1s")
                .arg("--provider-call-timeout=2s")
                .arg(format!("--shutdown-grace-period={grace}")),
        );
        controller.wait_ready(WAIT).await;
        wait_leading(&env, &controller).await;
        env.apply(&mci_yaml(name), "default").await;
        let pid = controller.pid();
        eventually(WAIT, "the get before the hanging ensure", || async {
            calls(&state)
                .iter()
                .any(|(_, p, m, o)| *p == pid && m == "mci_get" && *o == object)
                .then_some(())
        })
        .await;
        controller.signal(SIGTERM);
        (controller, pid)
    };
    let ensured = |pid: u32, object: &str| {
        calls(&state)
            .iter()
            .any(|(_, p, m, o)| *p == pid && m == "mci_ensure" && o == object)
    };

    // 1. The call (past its 2 s timeout, still inside the provider) ends within the grace
    //    period: it completes, then the Lease is released and the exit is clean.
    let (mut first, pid) = terminated_in_call("one", 4000, "30s").await;
    let status = first.wait_exit(WAIT).await;
    assert!(status.success(), "exit {status}:\n{}", first.logs());
    assert!(
        ensured(pid, "default/one"),
        "the call completed before the exit"
    );
    assert_eq!(lease_spec(&env).await.holder_identity, None, "released");

    // 2. The call outlives the grace period: exit non-zero, the Lease is not released.
    let (mut second, pid) = terminated_in_call("two", 60000, "3s").await;
    let status = second.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(1), "exit {status}");
    assert!(
        second
            .logs()
            .contains("provider call(s) still running after the shutdown grace period"),
        "{}",
        second.logs()
    );
    assert!(!ensured(pid, "default/two"));
    assert!(holds(&lease_spec(&env).await, pid), "not released");

    // 3. A Lease lost during the grace wait ends it at once (the call is still running).
    let (mut third, pid) = terminated_in_call("three", 60000, "60s").await;
    eventually(WAIT, "the grace wait", || async {
        third
            .logs()
            .contains("shutting down: taking no new work")
            .then_some(())
    })
    .await;
    steal(&env).await;
    let status = third.wait_exit(WAIT).await;
    assert!(!status.success(), "exit {status}");
    assert!(third.logs().contains("lost leadership"), "{}", third.logs());
    assert!(!ensured(pid, "default/three"));
}

async fn lease_spec_opt(env: &Env) -> Option<k8s_openapi::api::coordination::v1::LeaseSpec> {
    leases(env).get_opt(LEASE).await.ok().flatten()?.spec
}
