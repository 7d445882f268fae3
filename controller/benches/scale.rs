//! `cargo bench -p multicluster-provider --bench scale [-- N...]`: N MultiClusterIngresses and
//! N MultiClusterServices (type LoadBalancer) created at once on a local control plane, with the
//! real controller (release build, all five controllers, client rate limits raised) and the real
//! fake provider library. Reports the time until every object's status has its load balancer,
//! API requests per object, and the controller's peak RSS. Default N: 100 and 1000.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_testenv::{ControlPlane, ControlPlaneOptions};

#[path = "../tests/common/mod.rs"]
mod common;

use common::free_port;

/// The body of GET `path` on loopback `port`, if it answers 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    common::http_get(port, path)
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

struct Result {
    n: usize,
    create: Duration,
    converge: Duration,
    requests: f64,
    rss_kib: u64,
}

async fn run(n: usize, fake_dir: &Path) -> Result {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane");
    let client = plane.admin_client().await.unwrap();
    mcp_testenv::install_crds(&client).await.unwrap();
    let ns: Api<Namespace> = Api::all(client.clone());
    for name in ["karmada-system", "bench"] {
        let obj: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        ns.create(&PostParams::default(), &obj).await.unwrap();
    }
    mcp_testenv::apply_yaml(
        &client,
        include_str!("../../examples/ingressclass-fake.yaml"),
        "ingressclass",
        "default",
    )
    .await
    .unwrap();

    let health = free_port();
    let metrics_port = free_port();
    let log = std::fs::File::create(plane.dir().join("controller.log")).unwrap();
    let mut controller: Child = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
        .args([
            "--cloud-provider=fake",
            "--provider-ingress-class=karmada.io/fake",
        ])
        .arg("--provider-dir")
        .arg(fake_dir)
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .args([
            "--bind-address=127.0.0.1",
            "--kube-api-qps=2000",
            "--kube-api-burst=4000",
        ])
        .arg(format!("--secure-port={health}"))
        .arg(format!("--metrics-bind-address=127.0.0.1:{metrics_port}"))
        .arg("--v=1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = controller.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(health, "/readyz").is_none() {
        assert!(Instant::now() < deadline, "controller not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Requests before the objects exist (initial lists, lease) are not the objects' cost.
    let baseline = metric_sum(
        &http_get(metrics_port, "/metrics").unwrap(),
        "multicluster_provider_kube_api_requests_total",
    );

    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), "bench");
    let mcss: Api<MultiClusterService> = Api::namespaced(client.clone(), "bench");
    let started = Instant::now();
    let creates = futures::stream::iter(0..n)
        .map(|i| {
            let (mcis, mcss) = (mcis.clone(), mcss.clone());
            async move {
                let mci: MultiClusterIngress = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("web-{i}")},
                    "spec": {"rules": [{"host": format!("web-{i}.example.com"), "http": {"paths": [
                        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("web-{i}"), "port": {"number": 80}}}}
                    ]}}]}
                }))
                .unwrap();
                let mcs: MultiClusterService = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("api-{i}")},
                    "spec": {"types": ["LoadBalancer"], "ports": [{"port": 80}]}
                }))
                .unwrap();
                mcis.create(&PostParams::default(), &mci).await.unwrap();
                mcss.create(&PostParams::default(), &mcs).await.unwrap();
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    creates.await;
    let create = started.elapsed();

    let has_ip_mci = |m: &MultiClusterIngress| {
        m.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| !i.is_empty())
    };
    let has_ip_mcs = |m: &MultiClusterService| {
        m.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| !i.is_empty())
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done_mci = mcis
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|m| has_ip_mci(m))
            .count();
        let done_mcs = mcss
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|m| has_ip_mcs(m))
            .count();
        if done_mci == n && done_mcs == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "N={n}: only {done_mci} MCIs and {done_mcs} MCSs converged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converge = started.elapsed();
    // Let follow-up work (service exports, policies) settle before counting requests.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = http_get(metrics_port, "/metrics").unwrap();
    let requests = metric_sum(&metrics, "multicluster_provider_kube_api_requests_total") - baseline;
    let rss_kib = peak_rss_kib(pid);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = controller.wait();
    drop(plane);
    Result {
        n,
        create,
        converge,
        requests: requests / (2 * n) as f64,
        rss_kib,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        println!("scale: bench");
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![100, 1000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    let fake_dir = mcp_testenv::build_fake_provider(true).expect("build the fake provider");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results: Vec<Arc<Result>> = sizes
        .iter()
        .map(|&n| Arc::new(runtime.block_on(run(n, &fake_dir))))
        .collect();
    println!();
    println!(
        "| N (MCIs + MCSs) | objects created in | every status has its balancer after | API requests per object | controller peak RSS |"
    );
    println!("|---|---|---|---|---|");
    for r in results {
        println!(
            "| {} + {} | {:.1} s | {:.1} s | {:.1} | {:.1} MiB |",
            r.n,
            r.n,
            r.create.as_secs_f64(),
            r.converge.as_secs_f64(),
            r.requests,
            r.rss_kib as f64 / 1024.0
        );
    }
}
