//! Tests of the provider as the SDK calls it: which traits each `backendView` offers, the view
//! kept with each balancer (in memory and in the state file), and the interface 1.2 faults.

use std::time::Duration;

use super::*;

fn fake(config: &str) -> FakeProvider {
    FakeProvider::from_cloud_config(Some(config.as_bytes())).unwrap()
}

fn mci(name: &str) -> MultiClusterIngress {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": "default"}}))
        .unwrap()
}

fn mcs(name: &str) -> MultiClusterService {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"types": ["LoadBalancer"]},
    }))
    .unwrap()
}

const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nhunter2\n-----END PRIVATE KEY-----\n";

/// A view with one Service in two clusters (the second blocked) and a TLS certificate.
fn view(endpoints_in_member1: usize, key: &str) -> Backends {
    let cluster = |name: &str, blocked: bool, n: usize| BackendCluster {
        name: name.into(),
        ready: true,
        traffic_blocked: blocked,
        load_balancer: vec![],
        endpoints: (0..n)
            .map(|i| Endpoint {
                addresses: vec![format!("10.0.{}.{i}", name.len())],
                ready: true,
                serving: true,
                ..Endpoint::default()
            })
            .collect(),
    };
    Backends {
        resolved: true,
        services: vec![BackendService {
            namespace: "default".into(),
            name: "serve".into(),
            found: true,
            ports: vec![],
            clusters: vec![
                cluster("member1", false, endpoints_in_member1),
                cluster("member2", true, 1),
            ],
        }],
        tls: vec![TlsCertificate {
            hosts: vec!["demo.localdev.me".into()],
            secret_name: "demo-tls".into(),
            certificate: Some("-----BEGIN CERTIFICATE-----\ncert\n".into()),
            private_key: Some(PrivateKey::new(key)),
            problem: None,
        }],
    }
}

fn ip(status: &IngressLoadBalancerStatus) -> Option<&str> {
    status.ingress.as_ref()?.first()?.ip.as_deref()
}

#[test]
fn backend_view_selects_the_traits_offered() {
    for (config, with_view, required) in [
        ("", true, false),
        ("backendView: optional", true, false),
        ("backendView: required", true, true),
        ("backendView: off", false, false),
    ] {
        let fake = fake(config);
        assert!(fake.multicluster_ingress().is_some(), "{config}");
        assert!(fake.multicluster_service().is_some(), "{config}");
        assert_eq!(
            fake.multicluster_ingress_balancer().is_some(),
            with_view,
            "{config}"
        );
        assert_eq!(
            fake.multicluster_service_balancer().is_some(),
            with_view,
            "{config}"
        );
        assert_eq!(fake.backends_required(), required, "{config}");
    }
    // `capabilities` still decides the kinds.
    let fake = fake("capabilities: [multiclusterservice]");
    assert!(fake.multicluster_ingress_balancer().is_none());
    assert!(fake.multicluster_ingress().is_none());
    assert!(fake.multicluster_service_balancer().is_some());
}

/// Ensures, updates with a changed view and a rotated key, and checks what `fake` kept.
fn keeps_the_view_of_the_last_ensure_or_update(fake: &FakeProvider) {
    let lb: &dyn MultiClusterIngressBalancer = fake.multicluster_ingress_balancer().unwrap();
    let web = mci("web");
    let first = view(1, KEY_PEM);
    let done = lb.ensure(&web, &first).unwrap();
    assert_eq!(
        (ip(&done.status), done.check_after),
        (Some(ENSURED_IP), None)
    );
    let state = fake.state().unwrap();
    let stored = state.balancers["mci/default/web"].backends.clone().unwrap();
    let marker = view::key_marker(&PrivateKey::new(KEY_PEM));
    assert_eq!(stored["tls"][0]["privateKey"], marker.as_str());
    assert_eq!(stored["services"][0]["clusters"][1]["trafficBlocked"], true);
    // The view as given, but for the key.
    let mut expected = serde_json::to_value(&first).unwrap();
    expected["tls"][0]["privateKey"] = marker.clone().into();
    assert_eq!(stored, expected);

    // get, and ensure_deleted of another object, leave it; update replaces it.
    assert!(lb.get(&web, &view(5, "other")).unwrap().is_some());
    lb.ensure_deleted(&mci("gone"), &view(5, "other")).unwrap();
    assert_eq!(
        fake.state().unwrap().balancers["mci/default/web"]
            .backends
            .as_ref(),
        Some(&stored)
    );
    let second = view(3, "-----BEGIN PRIVATE KEY-----\nrotated\n");
    let updated = lb.update(&web, &second).unwrap();
    assert_eq!(ip(&updated.status), Some(UPDATED_IP));
    let state = fake.state().unwrap();
    let stored = &state.balancers["mci/default/web"]
        .backends
        .as_ref()
        .unwrap();
    let endpoints = stored["services"][0]["clusters"][0]["endpoints"].as_array();
    assert_eq!(endpoints.map(Vec::len), Some(3));
    assert_ne!(stored["tls"][0]["privateKey"], marker.as_str());
    let text = serde_json::to_string(&state).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("rotated"),
        "{text}"
    );

    // Every call had a resolved view; a 1.0 call has none and clears the stored one.
    assert!(state.calls.iter().all(|c| c.view), "{:?}", state.calls);
    MultiClusterIngressLoadBalancer::update(fake, &web).unwrap();
    let state = fake.state().unwrap();
    assert_eq!(state.balancers["mci/default/web"].backends, None);
    assert!(!state.calls.last().unwrap().view);
}

#[test]
fn the_view_is_kept_in_memory() {
    keeps_the_view_of_the_last_ensure_or_update(&fake(""));
}

#[test]
fn the_view_is_kept_in_the_state_file_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let fake = fake(&format!("stateFile: {}", path.display()));
    keeps_the_view_of_the_last_ensure_or_update(&fake);
    // Nothing of the keys is anywhere in the file, its WAL included.
    let lb = fake.multicluster_service_balancer().unwrap();
    lb.ensure(&mcs("api"), &view(2, KEY_PEM)).unwrap();
    assert!(
        fake.state().unwrap().balancers["mcs/default/api"]
            .backends
            .is_some()
    );
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let found = bytes.windows(7).any(|w| w == b"hunter2" || w == b"rotated");
        assert!(!found, "a private key reached the state file");
    }
}

#[test]
fn an_unresolved_view_is_kept_as_given_and_not_counted_as_a_view() {
    let fake = fake("");
    let lb = fake.multicluster_ingress_balancer().unwrap();
    lb.ensure(&mci("web"), &Backends::unresolved()).unwrap();
    let state = fake.state().unwrap();
    assert_eq!(
        state.balancers["mci/default/web"].backends,
        Some(serde_json::json!({"resolved": false, "services": [], "tls": []}))
    );
    assert!(!state.calls[0].view);
}

#[test]
fn backend_view_off_behaves_as_fake_1_1() {
    let fake = fake("backendView: off");
    MultiClusterIngressLoadBalancer::ensure(&fake, &mci("web")).unwrap();
    let printed = serde_json::to_value(fake.state().unwrap()).unwrap();
    let pid = std::process::id();
    assert_eq!(
        printed["balancers"],
        serde_json::json!({"mci/default/web": {"status": {"ingress": [{"ip": ENSURED_IP}]}, "createdBy": pid}})
    );
    assert_eq!(
        printed["calls"],
        serde_json::json!([{"seq": 1, "pid": pid, "method": "mci_ensure", "object": "default/web"}])
    );
}

#[test]
fn a_fail_fault_carries_its_retry_hint() {
    let fake = fake(
        "faults: [{method: mci_update, action: fail, retryAfterMs: 30000, message: throttled}]",
    );
    let lb = fake.multicluster_ingress_balancer().unwrap();
    let web = mci("web");
    lb.ensure(&web, &view(1, KEY_PEM)).unwrap();
    let err = lb.update(&web, &view(2, KEY_PEM)).unwrap_err();
    assert_eq!(err.message(), "throttled");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    // The fault fired before the cloud was touched: the view is the ensure's.
    let state = fake.state().unwrap();
    let stored = state.balancers["mci/default/web"]
        .backends
        .as_ref()
        .unwrap();
    let endpoints = stored["services"][0]["clusters"][0]["endpoints"].as_array();
    assert_eq!(endpoints.map(Vec::len), Some(1));
    assert_eq!(state.calls.len(), 1);
}

#[test]
fn an_in_progress_fault_does_the_work_and_says_when_to_check_back() {
    let fake = fake("faults: [{method: mci_, action: inprogress, checkAfterMs: 2500, times: 2}]");
    let lb = fake.multicluster_ingress_balancer().unwrap();
    let web = mci("web");
    let ensured = lb.ensure(&web, &view(1, KEY_PEM)).unwrap();
    assert_eq!(ensured.check_after, Some(Duration::from_millis(2500)));
    assert_eq!(ensured.status, IngressLoadBalancerStatus::default());
    // The balancer was created with its address and view; `get` is not affected.
    let got = lb.get(&web, &view(1, KEY_PEM)).unwrap().unwrap();
    assert_eq!(ip(&got), Some(ENSURED_IP));
    let state = fake.state().unwrap();
    assert_eq!(state.creations("mci/default/web"), 1);
    assert!(state.balancers["mci/default/web"].backends.is_some());
    // The fault matched the get too (which behaved) and has now fired twice: update is done.
    let updated = lb.update(&web, &view(1, KEY_PEM)).unwrap();
    assert_eq!(
        (ip(&updated.status), updated.check_after),
        (Some(UPDATED_IP), None)
    );

    // Through the 1.0 trait (backendView: off) the address is taken away, nothing more.
    let old = self::fake("{backendView: off, faults: [{action: inprogress}]}");
    let status = MultiClusterServiceLoadBalancer::ensure(&old, &mcs("api")).unwrap();
    assert_eq!(status, LoadBalancerStatus::default());
    assert!(
        old.state()
            .unwrap()
            .balancers
            .contains_key("mcs/default/api")
    );
}
