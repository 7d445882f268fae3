//! Faults of the provider: one object's failing, panicking or hanging calls delay only that
//! object, and a permanent error is retried with the usual backoff.

use kube::api::Api;
use mcp_interface::api::networking::MultiClusterIngress;

use super::{WAIT, all_have_addresses};
use crate::common::{self, ControllerOptions, Env, eventually, mci_yaml};

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
