//! `mcp-fake-state PATH` prints the state database as the JSON the tests read.

#![forbid(unsafe_code)]

use std::process::Command;

use mcp_interface::prelude::*;
use mcp_provider_fake::FakeProvider;

fn mcp_fake_state(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-fake-state"))
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn prints_what_the_fake_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake-cloud.db");
    let config = format!("stateFile: {}", path.display());
    let fake = FakeProvider::from_cloud_config(Some(config.as_bytes())).unwrap();
    let mci: MultiClusterIngress = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "web", "namespace": "default"}}),
    )
    .unwrap();
    MultiClusterIngressLoadBalancer::ensure(&fake, &mci).unwrap();
    MultiClusterIngressLoadBalancer::ensure(&fake, &mci).unwrap_err();

    let out = mcp_fake_state(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = std::process::id();
    assert_eq!(
        printed,
        serde_json::json!({
            "balancers": {"mci/default/web": {"status": {"ingress": [{"ip": "1.2.3.4"}]}, "createdBy": pid}},
            "created": ["mci/default/web"],
            "deleted": [],
            "calls": [
                {"seq": 1, "pid": pid, "method": "mci_ensure", "object": "default/web"},
                {"seq": 2, "pid": pid, "method": "mci_ensure", "object": "default/web",
                 "error": "load balancer mci/default/web already exists"},
            ],
        })
    );
    assert_eq!(
        printed,
        serde_json::to_value(fake.state().unwrap()).unwrap()
    );
}

#[test]
fn a_missing_file_is_the_empty_state_and_a_bad_one_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcp_fake_state(&dir.path().join("missing.db"));
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"balancers": {}, "created": [], "deleted": [], "calls": []})
    );

    let bad = dir.path().join("old.json");
    std::fs::write(&bad, b"{}").unwrap();
    let out = mcp_fake_state(&bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a fake state database"), "{stderr}");
}
