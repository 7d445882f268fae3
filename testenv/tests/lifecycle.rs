//! Start/stop behaviour of a dedicated control plane (not the shared one).

#![forbid(unsafe_code)]

use std::time::Instant;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use mcp_testenv::{ControlPlane, ControlPlaneOptions, Error, RESTRICTED_USER};

#[tokio::test]
async fn starts_authenticates_and_stops_cleanly() {
    let started = Instant::now();
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane starts");
    eprintln!("control plane ready in {:?}", started.elapsed());
    assert!(plane.kubeconfig_path().is_file());

    let admin = plane.admin_client().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(admin);
    assert!(namespaces.get_opt("default").await.unwrap().is_some());

    // The restricted identity is authenticated but RBAC grants it nothing.
    let restricted: Api<Namespace> = Api::all(plane.client_for(RESTRICTED_USER).await.unwrap());
    match restricted.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("restricted user could list namespaces: {other:?}"),
    }
    let restricted_kubeconfig = plane.kubeconfig_path_for(RESTRICTED_USER).unwrap();
    assert!(restricted_kubeconfig.is_file());

    let dir = plane.dir().to_path_buf();
    let pids = plane.pids();
    plane.stop();
    assert!(!dir.exists(), "{} was not removed", dir.display());
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "server pid {pid} survived stop"
        );
    }
}

#[tokio::test]
async fn a_crashed_server_fails_the_health_check_with_its_log() {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane starts");
    let [etcd_pid, _] = plane.pids();
    std::process::Command::new("kill")
        .args(["-9", &etcd_pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let error = loop {
        if let Err(e) = plane.check_health() {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "health check never noticed the dead etcd"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let text = format!("{error:?}");
    assert!(
        matches!(error, Error::ServerExited { server: "etcd", .. }),
        "{text}"
    );
    assert!(text.contains("last lines of"), "{text}");
    // The API server was taken down with it, so clients fail fast instead of hanging: connecting
    // fails (refused or reset: no server serves), which is no timeout.
    let admin = plane.admin_client().await.unwrap();
    let error = admin.apiserver_version().await.unwrap_err();
    let chain = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(
        chain.contains("(Connect)") && !chain.contains("timed out"),
        "{chain}"
    );
}

#[tokio::test]
async fn missing_binaries_are_named() {
    let error = ControlPlane::start(ControlPlaneOptions {
        bin_dir: Some("/nonexistent-bin-dir".into()),
        ..Default::default()
    })
    .await
    .expect_err("no binaries there");
    let text = format!("{error:?}");
    assert!(text.contains("etcd"), "{text}");
}
