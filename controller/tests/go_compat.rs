//! Drop-in for the Go deployment, seen from outside the process: logs in the shape Kubernetes
//! components print and `--vmodule`; controller-runtime's and client-go's metric names and
//! labels; the profiling endpoint; Events as Go's recorders and Kubernetes' load-balancer
//! controller write them, as `kubectl` shows them (`go_compat/events.rs`).

#![forbid(unsafe_code)]

pub mod common;
#[path = "go_compat/events.rs"]
mod events;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ControllerOptions, Env, eventually, free_port, http_get, mci_ip};
use kube::api::Api;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use pprof::protos::Message;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
const INGRESS_CLASS: &str = include_str!("../../examples/ingressclass-fake.yaml");
const MCI: &str = include_str!("../../examples/mci.yaml");
const MCS: &str = include_str!("../../examples/mcs.yaml");
const APPLICATION: &str = include_str!("../../examples/application.yaml");

async fn env_with_examples() -> Env {
    let env = Env::start().await;
    for yaml in [INGRESS_CLASS, APPLICATION, MCI, MCS] {
        env.apply(yaml, "default").await;
    }
    env
}

async fn wait_for_addresses(env: &Env) {
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mcss: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "the example MCI's and MCS's addresses", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        let mcs = mcss.get("web").await.ok()?;
        let mcs_ip = mcs.status?.load_balancer?.ingress?.first()?.ip.clone();
        (mci_ip(&mci).is_some() && mcs_ip.is_some()).then_some(())
    })
    .await;
}

/// `name{labels} value` lines of a metrics page, by series.
fn series(metrics: &str) -> BTreeMap<String, f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn logs_in_kubernetes_json_and_vmodule_raises_one_file() {
    let env = env_with_examples().await;
    let dir = tempfile::tempdir().unwrap();

    // JSON, as component-base's zap encoder writes it.
    let mut json = env.controller(
        ControllerOptions::new(dir.path())
            .arg("--controllers=multiclusteringress")
            .arg("--logging-format=json"),
    );
    json.wait_ready(WAIT).await;
    wait_for(&env, |mci| mci_ip(mci).is_some()).await;
    assert!(json.terminate(WAIT).await.success());
    let lines: Vec<Value> = json
        .logs()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(line["ts"].is_f64(), "{line}");
        assert!(line["msg"].is_string(), "{line}");
        assert!(keys.contains(&"v") || keys.contains(&"err"), "{line}");
    }
    // The reconcile span's fields, at klog verbosity 4 (--v=4 as the Go Deployment).
    let reconciled = lines
        .iter()
        .find(|l| l["msg"] == "reconciled")
        .expect("a reconciled line");
    assert_eq!(reconciled["v"], 4);
    assert_eq!(reconciled["controller"], "multiclusteringress");
    assert_eq!(reconciled["namespace"], "default");
    assert_eq!(reconciled["name"], "minimal-ingress");
    assert!(
        reconciled["caller"]
            .as_str()
            .unwrap()
            .starts_with("controllers/runtime.rs:"),
        "{reconciled}"
    );
    let started = &lines[0];
    assert_eq!(started["msg"], "starting");
    assert_eq!(started["v"], 0);

    // Text at -v=0 (the last -v wins, as with pflag) with runtime.rs raised to 4: its debug
    // lines appear, other files' debug lines do not.
    let mut text = env.controller(
        ControllerOptions::new(dir.path())
            .arg("--controllers=multiclusteringress,mci-service-locations")
            .arg("--v=0")
            .arg("--vmodule=runtime=4"),
    );
    text.wait_ready(WAIT).await;
    eventually(WAIT, "both controllers to reconcile the MCI", || async {
        let logs = text.logs();
        (logs.contains("controller=\"mci-service-locations\"")
            && logs.contains("reconciled")
            && logs.matches("reconciled").count() >= 2)
            .then_some(())
    })
    .await;
    assert!(text.terminate(WAIT).await.success());
    let logs = text.logs();
    assert!(logs.contains("DEBUG"), "{logs}");
    for line in logs.lines().filter(|l| l.contains("DEBUG")) {
        assert!(
            line.contains("reconciled"),
            "only runtime.rs logs at debug: {line}"
        );
    }
}

async fn wait_for(env: &Env, done: impl Fn(&MultiClusterIngress) -> bool) {
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "the MCI", || async {
        let mci = mcis.get("minimal-ingress").await.ok()?;
        done(&mci).then_some(())
    })
    .await;
}

/// The series Karmada's dashboards read from the Go controller exist here too, with its label
/// values, and move; the profiling endpoint answers as Go's does.
#[tokio::test]
async fn controller_runtime_metrics_and_pprof() {
    let env = env_with_examples().await;
    let dir = tempfile::tempdir().unwrap();
    let pprof_port = free_port();
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            // One failure, so the error and retry series move.
            .cloud_config(
                "faults:\n- {method: mcs_ensure, object: default/web, action: fail, times: 1, message: quota exceeded}\n",
            )
            .arg("--enable-pprof")
            .arg(format!("--profiling-bind-address=127.0.0.1:{pprof_port}")),
    );
    controller.wait_ready(WAIT).await;
    wait_for_addresses(&env).await;

    let metrics = eventually(WAIT, "the MCS's failed reconcile counted", || async {
        let metrics = series(&controller.metrics());
        (metrics.get(
            r#"controller_runtime_reconcile_errors_total{controller="multiclusterservice-controller"}"#,
        ) == Some(&1.0))
            .then_some(metrics)
    })
    .await;
    let value = |s: &str| {
        *metrics
            .get(s)
            .unwrap_or_else(|| panic!("no series {s} in:\n{metrics:#?}"))
    };
    // The Go controllers' label values: builder-made controllers are named after their kind.
    for go_name in [
        "multiclusteringress-controller",
        "multiclusterservice-controller",
        "cluster",
        "serviceexport-propagation-controller",
        "multiclusteringress",
    ] {
        let c = format!(r#"controller="{go_name}""#);
        let q = format!(r#"name="{go_name}",controller="{go_name}""#);
        assert_eq!(
            value(&format!(
                "controller_runtime_max_concurrent_reconciles{{{c}}}"
            )),
            10.0
        );
        // Gauges of the moment (their movement is unit tested in metrics.rs and workqueue.rs).
        value(&format!("controller_runtime_active_workers{{{c}}}"));
        value(&format!(r#"workqueue_depth{{{q},priority=""}}"#));
        for result in ["success", "error", "requeue", "requeue_after"] {
            value(&format!(
                r#"controller_runtime_reconcile_total{{{c},result="{result}"}}"#
            ));
        }
        value(&format!("controller_runtime_reconcile_errors_total{{{c}}}"));
        value(&format!("workqueue_adds_total{{{q}}}"));
        value(&format!("workqueue_retries_total{{{q}}}"));
        if go_name == "cluster" {
            continue; // no Clusters here: nothing to reconcile
        }
        assert!(
            value(&format!(
                r#"controller_runtime_reconcile_total{{{c},result="success"}}"#
            )) >= 1.0,
            "{go_name}"
        );
        assert!(value(&format!("workqueue_adds_total{{{q}}}")) >= 1.0);
        assert!(value(&format!("workqueue_queue_duration_seconds_count{{{q}}}")) >= 1.0);
        assert!(value(&format!("workqueue_work_duration_seconds_count{{{q}}}")) >= 1.0);
        assert!(
            value(&format!(
                "controller_runtime_reconcile_time_seconds_count{{{c}}}"
            )) >= 1.0
        );
    }
    let mcs = r#"controller="multiclusterservice-controller""#;
    assert!(
        value(&format!(
            r#"controller_runtime_reconcile_total{{{mcs},result="error"}}"#
        )) >= 1.0
    );
    assert!(
        value(
            r#"workqueue_retries_total{name="multiclusterservice-controller",controller="multiclusterservice-controller"}"#
        ) >= 1.0
    );
    assert_eq!(
        value(r#"leader_election_master_status{name="multicluster-controller-manager"}"#),
        1.0
    );
    let rest: Vec<(&String, &f64)> = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("rest_client_requests_total{"))
        .collect();
    assert!(
        rest.iter().all(|(k, _)| k.contains(r#"host="127.0.0.1:"#)),
        "the API server's host:port: {rest:?}"
    );
    for (code, method) in [("200", "GET"), ("200", "PATCH"), ("201", "POST")] {
        assert!(
            rest.iter().any(
                |(k, v)| k.contains(&format!(r#"code="{code}",method="{method}""#)) && **v >= 1.0
            ),
            "{code} {method}: {rest:?}"
        );
    }
    // Ours stay beside them.
    assert!(
        value(r#"multicluster_provider_reconcile_total{controller="multiclusterservice"}"#) >= 1.0
    );

    // The CPU profile: pprof's protobuf format, as Go's /debug/pprof/profile answers.
    let profile = tokio::task::spawn_blocking(move || {
        let (status, _) = http_get(pprof_port, "/debug/pprof/heap").unwrap();
        assert_eq!(status, 404);
        let (status, cmdline) = http_get(pprof_port, "/debug/pprof/cmdline").unwrap();
        assert_eq!(status, 200);
        assert!(cmdline.contains("--enable-pprof"), "{cmdline}");
        fetch_bytes(pprof_port, "/debug/pprof/profile?seconds=1")
    })
    .await
    .unwrap();
    let profile = pprof::protos::Profile::decode(profile.as_slice()).expect("a pprof profile");
    let strings = &profile.string_table;
    let sample_types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| {
            (
                strings[t.ty as usize].as_str(),
                strings[t.unit as usize].as_str(),
            )
        })
        .collect();
    assert_eq!(sample_types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert!(
        profile.duration_nanos >= 900_000_000,
        "{}",
        profile.duration_nanos
    );
    assert_eq!(profile.period, 10_000_000, "100 samples per second");

    assert!(controller.terminate(WAIT).await.success());
}

/// The raw body of GET `path` (the profile is binary).
fn fetch_bytes(port: u16, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    assert!(
        response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    response[at + 4..].to_vec()
}
