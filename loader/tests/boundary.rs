//! Every provider method across the real boundary, against the real fake library.

#![forbid(unsafe_code)]

pub mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::ErrorKind;
use mcp_interface::api::networking::{
    MultiClusterIngress, MultiClusterService, MultiClusterServiceSpec,
};
use mcp_loader::{CallError, Provider, SearchPath};

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

fn mci(ns: &str, name: &str) -> MultiClusterIngress {
    MultiClusterIngress {
        metadata: meta(ns, name),
        ..Default::default()
    }
}

fn mcs(ns: &str, name: &str) -> MultiClusterService {
    MultiClusterService {
        metadata: meta(ns, name),
        spec: MultiClusterServiceSpec {
            types: vec!["LoadBalancer".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

fn load(config: Option<&str>) -> Provider {
    let search = SearchPath::only(&[common::fake_dir().to_owned()]);
    mcp_loader::load("fake", &search, config.map(str::as_bytes)).expect("load the fake provider")
}

fn ip_of_ingress(s: &k8s_openapi::api::networking::v1::IngressLoadBalancerStatus) -> String {
    s.ingress.as_ref().unwrap()[0].ip.clone().unwrap()
}

fn ip_of_service(s: &k8s_openapi::api::core::v1::LoadBalancerStatus) -> String {
    s.ingress.as_ref().unwrap()[0].ip.clone().unwrap()
}

#[tokio::test]
async fn multicluster_ingress_methods_behave_like_the_go_fake() {
    let p = load(None);
    assert_eq!(p.name(), "fake");
    assert!(p.supports_multicluster_ingress());
    let web = mci("default", "web");
    assert_eq!(p.get(&web).await.unwrap(), None);
    let err = p.update(&web).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(
        ip_of_ingress(&p.ensure(&web).await.unwrap().status),
        "1.2.3.4"
    );
    let err = p.ensure(&web).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        ip_of_ingress(&p.get(&web).await.unwrap().unwrap()),
        "1.2.3.4"
    );
    assert_eq!(
        ip_of_ingress(&p.update(&web).await.unwrap().status),
        "1.2.3.5"
    );
    assert_eq!(
        ip_of_ingress(&p.get(&web).await.unwrap().unwrap()),
        "1.2.3.5"
    );
    p.ensure_deleted(&web).await.unwrap();
    p.ensure_deleted(&web).await.unwrap();
    assert_eq!(p.get(&web).await.unwrap(), None);
}

#[tokio::test]
async fn multicluster_service_methods_behave_like_the_go_fake() {
    let p = load(None);
    assert!(p.supports_multicluster_service());
    let svc = mcs("team-a", "api");
    assert_eq!(p.get(&svc).await.unwrap(), None);
    assert_eq!(
        p.update(&svc).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        ip_of_service(&p.ensure(&svc).await.unwrap().status),
        "1.2.3.4"
    );
    assert!(p.ensure(&svc).await.is_err());
    assert_eq!(
        ip_of_service(&p.update(&svc).await.unwrap().status),
        "1.2.3.5"
    );
    assert_eq!(
        ip_of_service(&p.get(&svc).await.unwrap().unwrap()),
        "1.2.3.5"
    );
    p.ensure_deleted(&svc).await.unwrap();
    assert_eq!(p.get(&svc).await.unwrap(), None);
    // An MCI of the same name is a different balancer.
    assert_eq!(p.get(&mci("team-a", "api")).await.unwrap(), None);
}

#[tokio::test]
async fn every_call_is_recorded_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let p = load(Some(&format!("stateFile: {}", state.display())));
    let web = mci("default", "web");
    p.get(&web).await.unwrap();
    p.ensure(&web).await.unwrap();
    p.ensure(&mcs("default", "web")).await.unwrap();
    p.ensure_deleted(&web).await.unwrap();
    let doc = common::fake_state(&state);
    let calls: Vec<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        ["mci_get", "mci_ensure", "mcs_ensure", "mci_ensure_deleted"]
    );
    assert_eq!(
        doc["created"],
        serde_json::json!(["mci/default/web", "mcs/default/web"])
    );
    assert_eq!(doc["deleted"], serde_json::json!(["mci/default/web"]));
    assert!(doc["balancers"].get("mcs/default/web").is_some());
    // A second instance (another controller process, as far as the fake knows) shares it.
    let q = load(Some(&format!("stateFile: {}", state.display())));
    assert!(q.get(&mcs("default", "web")).await.unwrap().is_some());
}

#[test]
fn concurrent_calls_from_many_threads() {
    let p = load(None);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for i in 0..25 {
                        let o = mci(&format!("ns-{t}"), &format!("obj-{i}"));
                        assert_eq!(p.get(&o).await.unwrap(), None);
                        assert_eq!(
                            ip_of_ingress(&p.ensure(&o).await.unwrap().status),
                            "1.2.3.4"
                        );
                        assert_eq!(
                            ip_of_ingress(&p.update(&o).await.unwrap().status),
                            "1.2.3.5"
                        );
                        p.ensure_deleted(&o).await.unwrap();
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread may panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_from_many_tasks_on_one_object_set() {
    let p = load(None);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.ensure(&mcs("shared", &format!("o{}", i % 50))).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    // Exactly one ensure per object wins; the others see "already exists".
    assert_eq!(ok, 50);
}

#[tokio::test]
async fn a_panicking_provider_is_contained() {
    let p = load(Some(
        "faults: [{method: mci_ensure, object: default/boom, action: panic}]",
    ));
    let err = p.ensure(&mci("default", "boom")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("injected panic in mci_ensure for default/boom"),
        "{text}"
    );
    assert!(
        text.contains("lib.rs:"),
        "the panic location is reported: {text}"
    );
    // The host and the provider keep working, for this object and the others.
    assert_eq!(
        ip_of_ingress(&p.ensure(&mci("default", "fine")).await.unwrap().status),
        "1.2.3.4"
    );
    let err = p.ensure(&mci("default", "boom")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
}

#[tokio::test]
async fn injected_failures_keep_their_kind_and_stop_after_n_times() {
    let p = load(Some(
        "faults: [{method: mci_ensure, object: default/flaky, action: fail, times: 2, kind: retryable, message: cloud API throttled}]",
    ));
    let o = mci("default", "flaky");
    for _ in 0..2 {
        let err = p.ensure(&o).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert!(err.to_string().contains("cloud API throttled"), "{err}");
    }
    assert_eq!(
        ip_of_ingress(&p.ensure(&o).await.unwrap().status),
        "1.2.3.4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_call_times_out_without_blocking_others() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let p = load(Some(&format!(
        "stateFile: {}\nfaults: [{{method: mcs_, object: default/stuck, action: hang, hangMs: 120000}}]",
        state.display()
    )))
    // Long enough for the calls that do not hang, even on a loaded machine; the hang outlasts
    // the test (the provider's thread does not hold the test up), so the stuck call is still
    // inside the provider whatever the scheduling.
    .with_call_timeout(Duration::from_secs(2));
    let stuck = {
        let p = p.clone();
        tokio::spawn(async move { p.ensure(&mcs("default", "stuck")).await })
    };
    // Others are served while the stuck call is in flight.
    for i in 0..10 {
        p.ensure(&mcs("default", &format!("ok-{i}"))).await.unwrap();
    }
    let err = stuck.await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Retryable);
    // A second call about the stuck object is not made beside the first: after waiting one
    // call timeout for it, it fails as busy (retryable), and the caller is not held.
    let err = p.get(&mcs("default", "stuck")).await.unwrap_err();
    assert!(matches!(err, CallError::Busy { .. }), "{err}");
    assert_eq!((err.kind(), err.label()), (ErrorKind::Retryable, "busy"));
    // The timeout bounds the wait: the caller got its answer while the provider was still
    // inside the call (the fake records a call when it returns).
    let log = common::fake_state(&state);
    let objects: Vec<&str> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["object"].as_str())
        .collect();
    assert_eq!(objects.len(), 10, "{objects:?}");
    assert!(!objects.contains(&"default/stuck"), "{objects:?}");
}

#[tokio::test]
async fn garbage_statuses_are_refused() {
    let p = load(Some(
        "faults: [{method: mci_ensure, action: garbage}, {method: mcs_get, action: garbage}]",
    ));
    let err = p.ensure(&mci("default", "g")).await.unwrap_err();
    assert!(matches!(err, CallError::InvalidResponse { .. }), "{err}");
    assert!(err.to_string().contains("is not an IP address"), "{err}");
    let err = p.get(&mcs("default", "g")).await.unwrap_err();
    assert!(matches!(err, CallError::InvalidResponse { .. }), "{err}");
}

#[tokio::test]
async fn a_missing_capability_is_not_supported_and_never_called() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let p = load(Some(&format!(
        "capabilities: [multiclusteringress]\nstateFile: {}",
        state.display()
    )));
    assert!(p.supports_multicluster_ingress());
    assert!(!p.supports_multicluster_service());
    let err = p.ensure(&mcs("default", "x")).await.unwrap_err();
    assert!(matches!(err, CallError::NotSupported { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    let calls = || {
        common::fake_state(&state)["calls"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(calls(), 0, "the provider was not called");
    p.get(&mci("default", "x")).await.unwrap();
    assert_eq!(calls(), 1, "a supported call is recorded");
}

#[tokio::test]
async fn calls_are_reported_to_the_observer() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let config = "faults: [{method: mci_update, action: fail}, {method: mci_get, action: garbage}]";
    let p = load(Some(config)).with_observer(Arc::new(move |method, _elapsed, outcome| {
        sink.lock().unwrap().push(format!("{method}:{outcome:?}"));
    }));
    let o = mci("default", "observed");
    p.ensure(&o).await.unwrap();
    p.update(&o).await.unwrap_err();
    // A status the loader refuses is a failed call, as the caller sees it.
    p.get(&o).await.unwrap_err();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "multiclusteringress_ensure:Ok",
            "multiclusteringress_update:Err(\"retryable\")",
            "multiclusteringress_get:Err(\"invalid_response\")"
        ]
    );
}

#[tokio::test]
async fn several_libraries_and_instances_in_one_process() {
    let fake = load(None);
    let other_instance = load(None);
    let next = mcp_loader::load(
        "next",
        &SearchPath::only(&[common::fixtures_dir().to_owned()]),
        None,
    )
    .expect("a second, different library loads beside the first");
    assert_eq!(fake.name(), "fake");
    assert_eq!(next.name(), "next");
    assert_ne!(fake.info().path, next.info().path);
    // Instances of one library are independent.
    fake.ensure(&mci("default", "mine")).await.unwrap();
    assert_eq!(
        other_instance.get(&mci("default", "mine")).await.unwrap(),
        None
    );
    // The fixture provider offers nothing, and says so.
    assert!(!next.supports_multicluster_ingress());
    assert!(matches!(
        next.get(&mci("default", "x")).await,
        Err(CallError::NotSupported { .. })
    ));
}

/// A fenced handle (a replica that lost its lease or is shutting down) makes no call: calls not
/// yet handed to the provider fail as `fenced`, in every clone of the handle, while a call
/// already inside the provider runs on; `drained` waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_handle_reaches_the_provider_no_more_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let p = load(Some(&format!(
        "stateFile: {}\nfaults: [{{method: mci_ensure, object: default/slow, action: hang, hangMs: 1500}}]",
        state.display()
    )))
    .with_call_timeout(Duration::from_secs(30));
    let slow = {
        let p = p.clone();
        tokio::spawn(async move { p.ensure(&mci("default", "slow")).await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while p.calls_in_provider() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the call never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let other_handle = p.with_call_timeout(Duration::from_secs(20));
    p.fence();
    let err = other_handle
        .ensure(&mci("default", "later"))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Fenced { .. }), "{err}");
    assert_eq!((err.kind(), err.label()), (ErrorKind::Retryable, "fenced"));
    assert_eq!(p.calls_in_provider(), 1, "the slow call is still inside");
    p.drained().await;
    assert_eq!(p.calls_in_provider(), 0);
    // The call made before the fence completed; nothing after it reached the cloud.
    assert!(slow.await.unwrap().is_ok());
    let log = common::fake_state(&state);
    let calls: Vec<(&str, &str)> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["method"].as_str().unwrap(), c["object"].as_str().unwrap()))
        .collect();
    assert_eq!(calls, [("mci_ensure", "default/slow")]);
}
