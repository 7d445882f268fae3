//! examples/provider, the vendor example (async SDK): built on its own (its own workspace and
//! target directory, as a vendor builds), checked with `multicluster-provider inspect`, and loaded
//! by the controller against a real control plane to give an MCI a DNS name and an MCS an
//! address; a call the controller stopped waiting for is cancelled inside the library. Also: the
//! controller refuses to run a controller whose capability the provider lacks.

#![forbid(unsafe_code)]

pub mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

const INGRESS_CLASS: &str = r#"apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: example
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: karmada.io/example
"#;

/// The directory holding `libmcp_provider_example.so`, built on its own as a vendor builds it.
fn example_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::standalone_build("examples/provider/Cargo.toml"))
}

fn controller_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

#[test]
fn inspect_describes_the_example_provider() {
    let library = example_dir().join("libmcp_provider_example.so");
    assert!(library.is_file(), "{} missing", library.display());
    let out = controller_binary()
        .args(["inspect", "--json"])
        .arg(&library)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["name"], "example");
    assert_eq!(doc["providerVersion"], "0.1.0");
    assert_eq!(doc["interfaceVersion"], mcp_interface::INTERFACE_VERSION);
    assert_eq!(doc["capabilities"]["multiclusteringress"], true);
    assert_eq!(doc["capabilities"]["multiclusterservice"], true);

    // By name, through --provider-dir, in text: what docs/vendors.md shows.
    let out = controller_binary()
        .args(["inspect", "--cloud-provider=example", "--provider-dir"])
        .arg(example_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("provider:           example"), "{text}");
    assert!(text.contains("multiclusterservice:  supported"), "{text}");

    // A bad cloud-config is the factory's error, in one paragraph.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cloud.json");
    std::fs::write(&config, "{\"zone\": 1}").unwrap();
    let out = controller_binary()
        .args(["inspect", "--cloud-config"])
        .arg(&config)
        .arg(&library)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("invalid cloud-config"), "{stderr}");
}

#[test]
fn the_controller_refuses_to_run_multiclusterservice_with_an_ingress_only_provider() {
    // The broken fixture of the verify tests offers MultiClusterIngress balancers only.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let out = controller_binary()
        .args([
            "--cloud-provider=broken",
            "--provider-ingress-class=karmada.io/broken",
            "--provider-dir",
        ])
        .arg(common::standalone_build(
            "controller/tests/fixtures/broken-provider/Cargo.toml",
        ))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("multiclusterservice"), "{stderr}");
    assert!(stderr.contains("--controllers"), "{stderr}");
}

fn example_args() -> Vec<String> {
    vec![
        "--cloud-provider=example".to_owned(),
        format!("--provider-dir={}", example_dir().display()),
        "--provider-ingress-class=karmada.io/example".to_owned(),
    ]
}

#[tokio::test]
async fn the_async_example_gives_an_mci_a_hostname_and_an_mcs_an_address() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(INGRESS_CLASS, "default").await;
    env.apply(include_str!("../../examples/mci.yaml"), "default")
        .await;
    env.apply(include_str!("../../examples/mcs.yaml"), "default")
        .await;
    let mut controller = ControllerProcess::start_with_provider(
        env.kubeconfig(),
        ControllerOptions::new(dir.path()).cloud_config(r#"{"domain": "lb.test.example"}"#),
        &example_args(),
    );
    controller.wait_ready(WAIT).await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mcss: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "the MCI's hostname", || async {
        let mci = serde_json::to_value(mcis.get("minimal-ingress").await.ok()?).unwrap();
        (mci["status"]["loadBalancer"]["ingress"][0]["hostname"]
            == "minimal-ingress.default.lb.test.example")
            .then_some(())
    })
    .await;
    // What docs/vendors.md shows for the MCS.
    eventually(WAIT, "the MCS's address", || async {
        let mcs = serde_json::to_value(mcss.get("web").await.ok()?).unwrap();
        (mcs["status"]["loadBalancer"]
            == serde_json::json!({"ingress": [{"ip": "198.51.100.1", "ipMode": "VIP"}]}))
        .then_some(())
    })
    .await;
    mcis.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    mcss.delete("web", &DeleteParams::default()).await.unwrap();
    common::wait_gone(&mcis, "minimal-ingress", WAIT).await;
    common::wait_gone(&mcss, "web", WAIT).await;
    let status = controller.terminate(WAIT).await;
    let logs = controller.logs();
    assert!(status.success(), "{status}\n{logs}");
    // The provider's own tracing events, in the controller's log.
    for line in [
        "example provider ready",
        "created an ingress load balancer",
        "deleted an ingress load balancer",
        "created a service load balancer",
        "deleted a service load balancer",
    ] {
        assert!(logs.contains(line), "{line:?} not in the log:\n{logs}");
    }
}

#[tokio::test]
async fn a_call_the_controller_stopped_waiting_for_is_cancelled_inside_the_library() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(INGRESS_CLASS, "default").await;
    env.apply(include_str!("../../examples/mci.yaml"), "default")
        .await;
    let mut args = example_args();
    args.push("--controllers=multiclusteringress".to_owned());
    args.push("--provider-call-timeout=1s".to_owned());
    // Every cloud API call takes 10 minutes: the controller gives up after 1 s, and so must the
    // provider's future (else it would hold its thread for the 10 minutes).
    let mut controller = ControllerProcess::start_with_provider(
        env.kubeconfig(),
        ControllerOptions::new(dir.path()).cloud_config(r#"{"apiLatencyMs": 600000}"#),
        &args,
    );
    controller.wait_ready(WAIT).await;
    eventually(
        WAIT,
        "the timeout and the cancellation in the log",
        || async {
            let logs = controller.logs();
            (logs.contains("multiclusteringress_get did not return within 1s")
                && logs.contains(
                    "call cancelled: still pending when the controller's call timeout ran out",
                ))
            .then_some(())
        },
    )
    .await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mci = serde_json::to_value(mcis.get("minimal-ingress").await.unwrap()).unwrap();
    assert!(mci["status"]["loadBalancer"].is_null(), "{mci}");
    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
