//! examples/provider, the vendor example: built on its own (its own workspace and target
//! directory, as a vendor builds), checked with `multicluster-provider inspect`, refused for a
//! controller it cannot serve, and loaded by the controller to give an MCI a DNS name.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;
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
    assert_eq!(doc["capabilities"]["multiclusterservice"], false);

    // By name, through --provider-dir, in text: what docs/vendors.md shows.
    let out = controller_binary()
        .args(["inspect", "--cloud-provider=example", "--provider-dir"])
        .arg(example_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("provider:           example"), "{text}");
    assert!(
        text.contains("multiclusterservice:  not supported"),
        "{text}"
    );

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
fn the_controller_refuses_to_run_multiclusterservice_with_the_example_provider() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let out = controller_binary()
        .args([
            "--cloud-provider=example",
            "--provider-ingress-class=karmada.io/example",
            "--provider-dir",
        ])
        .arg(example_dir())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("multiclusterservice"), "{stderr}");
    assert!(stderr.contains("--controllers"), "{stderr}");
}

#[tokio::test]
async fn the_controller_loads_the_example_provider_and_the_mci_gets_a_hostname() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(INGRESS_CLASS, "default").await;
    env.apply(include_str!("../../examples/mci.yaml"), "default")
        .await;
    let provider_args = vec![
        "--cloud-provider=example".to_owned(),
        format!("--provider-dir={}", example_dir().display()),
        "--provider-ingress-class=karmada.io/example".to_owned(),
        "--controllers=*,-multiclusterservice".to_owned(),
    ];
    let mut controller = ControllerProcess::start_with_provider(
        env.kubeconfig(),
        ControllerOptions::new(dir.path()).cloud_config(r#"{"domain": "lb.test.example"}"#),
        &provider_args,
    );
    controller.wait_ready(WAIT).await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "the MCI's hostname", || async {
        let mci = serde_json::to_value(mcis.get("minimal-ingress").await.ok()?).unwrap();
        (mci["status"]["loadBalancer"]["ingress"][0]["hostname"]
            == "minimal-ingress.default.lb.test.example")
            .then_some(())
    })
    .await;
    mcis.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the MCI to be gone", || async {
        mcis.get_opt("minimal-ingress")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let status = controller.terminate(WAIT).await;
    let logs = controller.logs();
    assert!(status.success(), "{status}\n{logs}");
    // The provider's own tracing events, in the controller's log.
    for line in [
        "example provider ready",
        "created a load balancer",
        "deleted a load balancer",
    ] {
        assert!(logs.contains(line), "{line:?} not in the log:\n{logs}");
    }
}
