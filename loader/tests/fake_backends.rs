//! Interface 1.2 across the real boundary, against the real fake library: the fake asks for the
//! backend view (unless `backendView: off`), keeps the view it was sent, and its retry hints and
//! "in progress" answers reach the host.

#![forbid(unsafe_code)]

pub mod common;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::ErrorKind;
use mcp_interface::api::networking::{
    MultiClusterIngress, MultiClusterService, MultiClusterServiceSpec,
};
use mcp_interface::backends::Backends;
use mcp_loader::{Encoded, Provider, SearchPath};

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        ..Default::default()
    }
}

fn mci(name: &str) -> MultiClusterIngress {
    MultiClusterIngress {
        metadata: meta(name),
        ..Default::default()
    }
}

fn mcs(name: &str) -> MultiClusterService {
    MultiClusterService {
        metadata: meta(name),
        spec: MultiClusterServiceSpec {
            types: vec!["LoadBalancer".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

fn load(config: &str) -> Provider {
    let search = SearchPath::only(&[common::fake_dir().to_owned()]);
    mcp_loader::load("fake", &search, Some(config.as_bytes())).expect("load the fake provider")
}

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nsecret-key-text\n-----END PRIVATE KEY-----\n";

/// `serve` in member1 with `endpoints` endpoints, and a TLS certificate with `key`, as the
/// controller sends it.
fn view(endpoints: usize, key: &str) -> Backends {
    let endpoints: Vec<_> = (0..endpoints)
        .map(|i| serde_json::json!({"addresses": [format!("10.0.0.{i}")], "ready": true, "serving": true}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "resolved": true,
        "services": [{"namespace": "default", "name": "serve", "found": true,
            "clusters": [{"name": "member1", "ready": true, "endpoints": endpoints}]}],
        "tls": [{"hosts": ["demo.localdev.me"], "secretName": "demo-tls",
            "certificate": "-----BEGIN CERTIFICATE-----\ncert\n", "privateKey": key}],
    }))
    .unwrap()
}

#[test]
fn the_fake_asks_for_the_view_unless_told_not_to() {
    for (config, wants) in [
        ("{}", true),
        ("backendView: optional", true),
        // This host is 1.2: a provider that needs the view is created.
        ("backendView: required", true),
        ("backendView: off", false),
    ] {
        let p = load(config);
        assert_eq!(p.wants_backends(), wants, "{config}");
        assert!(p.supports_multicluster_ingress(), "{config}");
        assert!(p.supports_multicluster_service(), "{config}");
    }
}

#[tokio::test]
async fn the_fake_keeps_the_view_it_was_sent_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake-cloud.db");
    let p = load(&format!("stateFile: {}", path.display()));
    let web = mci("web");
    p.ensure(&Encoded::with_backends(&web, &view(1, KEY)))
        .await
        .unwrap();
    let state = common::fake_state(&path);
    let stored = &state["balancers"]["mci/default/web"]["backends"];
    assert_eq!(stored["resolved"], true);
    assert_eq!(stored["services"][0]["clusters"][0]["name"], "member1");
    let marker = stored["tls"][0]["privateKey"].as_str().unwrap().to_owned();
    assert!(marker.starts_with("sha256:"), "{marker}");
    assert_eq!(state["calls"][0]["view"], true);

    // A scale-up and a key rotation reach the state with the update.
    let rotated = KEY.replace("secret", "rotated");
    let applied = p
        .update(&Encoded::with_backends(&web, &view(3, &rotated)))
        .await
        .unwrap();
    assert_eq!(applied.check_after, None);
    let state = common::fake_state(&path);
    let stored = &state["balancers"]["mci/default/web"]["backends"];
    let endpoints = stored["services"][0]["clusters"][0]["endpoints"].as_array();
    assert_eq!(endpoints.map(Vec::len), Some(3));
    assert_ne!(stored["tls"][0]["privateKey"], marker.as_str());
    let printed = state.to_string();
    assert!(!printed.contains("key-text"), "{printed}");

    // The object alone (no view resolved by the host): the fake is told the view is unresolved.
    p.ensure(&mcs("api")).await.unwrap();
    let state = common::fake_state(&path);
    assert_eq!(
        state["balancers"]["mcs/default/api"]["backends"]["resolved"],
        false
    );
    assert!(state["calls"][2].get("view").is_none(), "{state}");
}

#[tokio::test]
async fn with_backend_view_off_the_fake_keeps_no_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake-cloud.db");
    let p = load(&format!(
        "{{stateFile: {}, backendView: off}}",
        path.display()
    ));
    // Even a host that sends a view anyway: a 1.0 balancer never sees it.
    p.ensure(&Encoded::with_backends(&mci("web"), &view(1, KEY)))
        .await
        .unwrap();
    let state = common::fake_state(&path);
    assert_eq!(state["created"], serde_json::json!(["mci/default/web"]));
    assert!(
        state["balancers"]["mci/default/web"]
            .get("backends")
            .is_none(),
        "{state}"
    );
    assert!(state["calls"][0].get("view").is_none(), "{state}");
}

#[tokio::test]
async fn retry_hints_and_progress_come_back_through_the_loader() {
    let p = load(
        "faults:
  - {method: mci_ensure, object: default/throttled, action: fail, retryAfterMs: 30000, message: throttled}
  - {method: mcs_, action: inprogress, checkAfterMs: 2500, times: 1}",
    );
    let err = p
        .ensure(&Encoded::with_backends(&mci("throttled"), &view(1, KEY)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err}");
    assert!(err.to_string().contains("throttled"), "{err}");

    let api = mcs("api");
    let applied = p
        .ensure(&Encoded::with_backends(&api, &view(1, KEY)))
        .await
        .unwrap();
    assert_eq!(applied.check_after, Some(Duration::from_millis(2500)));
    assert_eq!(applied.status.ingress, None, "no address while in progress");
    // The balancer was made meanwhile; once provisioned, update is done with its address.
    assert!(p.get(&api).await.unwrap().is_some());
    let applied = p
        .update(&Encoded::with_backends(&api, &view(1, KEY)))
        .await
        .unwrap();
    assert_eq!(applied.check_after, None);
    let ip = applied.status.ingress.unwrap()[0].ip.clone();
    assert_eq!(ip.as_deref(), Some("1.2.3.5"));
}
