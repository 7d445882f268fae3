//! The controller manager as a process: flags, provider loading, probes, metrics, leader
//! election, shutdown, restarts and faults, with the real binary, the real fake library and a
//! real control plane.

pub mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state, mci_yaml};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;

const WAIT: Duration = Duration::from_secs(60);
/// A series the MCI controller has from its start on (none before).
const MCI_CONTROLLER_SERIES: &str =
    "controller_runtime_active_workers{controller=\"multiclusteringress-controller\"}";

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Fails with the command's stderr unless it exited 0.
fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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

#[test]
fn invalid_flags_are_reported_together_before_connecting() {
    let out = binary()
        .args([
            "--leader-elect-lease-duration=5s",
            "--leader-elect-renew-deadline=10s",
            "--controllers=multiclusteringress,bogus",
            // 0 is client-go's default, as in Go; a negative burst would fail every request.
            "--kube-api-burst=-1",
            "--kubeconfig=/nonexistent/kubeconfig",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "--cloud-provider is required",
        "--provider-ingress-class is required",
        "--leader-elect-lease-duration (5s) must be greater than --leader-elect-renew-deadline (10s)",
        "unknown controllers bogus",
        "--kube-api-burst must not be negative",
        "--kubeconfig /nonexistent/kubeconfig does not exist",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn provider_errors_stop_start_up_with_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let run = |extra: &[&str]| {
        let out = binary()
            .args(["--provider-ingress-class=karmada.io/fake", "--provider-dir"])
            .arg(common::fake_dir())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--cloud-provider=acme"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no cloud provider named \"acme\"") && err.contains("fake ("),
        "{err}"
    );

    let config = dir.path().join("cloud.yaml");
    std::fs::write(&config, "capabilities: [multiclusteringress]\n").unwrap();
    let (code, err) = run(&[
        "--cloud-provider=fake",
        "--cloud-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("does not support what the enabled controllers need")
            && err.contains("multiclusterservice"),
        "{err}"
    );

    std::fs::write(&config, "latencyMs: [oops\n").unwrap();
    let (code, err) = run(&[
        "--cloud-provider=fake",
        "--cloud-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cloud provider \"fake\" failed to start"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn inspect_prints_name_versions_and_capabilities() {
    let out = binary()
        .args(["inspect", "--cloud-provider=fake", "--provider-dir"])
        .arg(common::fake_dir())
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("provider:           fake"), "{text}");
    assert!(
        text.contains(&format!(
            "interface version:  {}",
            mcp_interface::INTERFACE_VERSION
        )),
        "{text}"
    );
    assert!(text.contains("multiclusteringress:  supported"), "{text}");
    let out = binary()
        .args(["inspect", "--json", "--provider-dir"])
        .arg(common::fake_dir())
        .arg("fake")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["capabilities"]["multiclusterservice"], true);

    let out = binary()
        .args(["inspect", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a shared library"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one paragraph: {err}");
}

/// `inspect` (and the manager) refuse a library whose directory others may write, as the
/// loader does, naming the directory; the development flag loads it.
#[test]
fn inspect_and_the_manager_refuse_a_library_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::fake_dir().join("libmcp_provider_fake.so"),
        dir.path().join("libmcp_provider_fake.so"),
    )
    .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = binary()
        .args([
            "inspect",
            "--json",
            "--cloud-provider=fake",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["reason"], "insecure_permissions", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{} is writable by every user (owner uid",
            dir.path().display()
        )) && message.contains("mode 0777"),
        "{message}"
    );
    // The manager refuses it before connecting anywhere.
    let out = binary()
        .args([
            "--cloud-provider=fake",
            "--provider-ingress-class=karmada.io/fake",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to load the provider library"),
        "{err}"
    );
    let out = binary()
        .args([
            "inspect",
            "--cloud-provider=fake",
            "--allow-insecure-provider-permissions",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
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

#[tokio::test]
async fn one_objects_failing_panicking_or_hanging_provider_calls_delay_only_that_object() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    let names: Vec<String> = ["failing", "panicking", "hanging", "garbage"]
        .iter()
        .map(|s| s.to_string())
        .chain((0..10).map(|i| format!("healthy-{i}")))
        .collect();
    for n in &names {
        env.apply(&mci_yaml(n), "default").await;
    }
    let config = format!(
        r#"stateFile: {}
faults:
- {{method: mci_ensure, object: default/failing, action: fail, kind: retryable, message: cloud quota exceeded}}
- {{method: mci_ensure, object: default/panicking, action: panic}}
- {{method: mci_get, object: default/hanging, action: hang, hangMs: 600000}}
- {{method: mci_ensure, object: default/garbage, action: garbage}}
"#,
        state.display()
    );
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&config)
            .arg("--controllers=multiclusteringress")
            .arg("--provider-call-timeout=2s")
            .arg("--rate-limiter-max-delay=2s")
            .arg("--shutdown-grace-period=2s"),
    );
    controller.wait_ready(WAIT).await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let healthy: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("healthy"))
        .cloned()
        .collect();
    all_have_addresses(&api, &healthy).await;

    // The broken ones are retried with backoff and keep failing, the process keeps running.
    eventually(WAIT, "retries of the failing objects", || async {
        let logs = controller.logs();
        let retries = logs.matches("cloud quota exceeded").count();
        (retries >= 3
            && logs.contains("panicked in MultiClusterIngress ensure")
            && logs.contains("did not return within 2s")
            && logs.contains("is not an IP address"))
        .then_some(())
    })
    .await;
    assert!(
        controller.running(),
        "the controller must survive a panicking provider"
    );
    for n in ["failing", "panicking", "hanging", "garbage"] {
        assert_eq!(
            common::mci_ip(&api.get(n).await.unwrap()),
            None,
            "{n} must not get a bogus status"
        );
    }
    let metrics = controller.metrics();
    assert!(metrics.contains("error=\"panicked\""), "{metrics}");
    assert!(metrics.contains("error=\"timeout\""), "{metrics}");
    assert!(metrics.contains("error=\"invalid_response\""), "{metrics}");
    // A hung call delays shutdown by the grace period only, and the exit says that a call was
    // still running (so the Lease was not released).
    let status = controller.terminate(WAIT).await;
    assert!(!status.success(), "{status}\n{}", controller.logs());
    assert!(
        controller
            .logs()
            .contains("provider call(s) still running after the shutdown grace period"),
        "{}",
        controller.logs()
    );
}

/// `ErrorKind::Permanent` says so: a permanent error is retried with the same per-object backoff
/// as any failure (here the defaults, 5 ms doubling), not at the slowest delay (1000 s), so the
/// object converges as soon as the provider stops failing. Then `--resync-period` reconciles it
/// again without any change.
#[tokio::test]
async fn a_permanent_provider_error_is_retried_with_the_usual_backoff() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(&mci_yaml("quota"), "default").await;
    let config = "faults:\n- {method: mci_ensure, object: default/quota, action: fail, kind: permanent, times: 3, message: quota exceeded}\n";
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(config)
            .arg("--controllers=multiclusteringress")
            .arg("--resync-period=1s"),
    );
    controller.wait_ready(WAIT).await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    all_have_addresses(&api, &["quota".to_owned()]).await;
    let metrics = controller.metrics();
    assert!(
        metrics.contains(
            "provider_call_errors_total{method=\"multiclusteringress_ensure\",error=\"permanent\"} 3"
        ),
        "{metrics}"
    );

    // Nobody changes anything, yet the MCI is reconciled again and again (its balancer asked
    // for each time).
    let (reconciled, asked) = (
        controller.reconciles("multiclusteringress"),
        fake_calls(&controller, "multiclusteringress_get"),
    );
    eventually(WAIT, "two resyncs", || async {
        (controller.reconciles("multiclusteringress") >= reconciled + 2.0
            && fake_calls(&controller, "multiclusteringress_get") >= asked + 2.0)
            .then_some(())
    })
    .await;
    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

/// Provider calls of `method` the controller made.
fn fake_calls(controller: &common::ControllerProcess, method: &str) -> f64 {
    controller.metric_sum(
        "multicluster_provider_provider_calls_total",
        &[("method", method)],
    )
}
