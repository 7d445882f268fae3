//! `cargo bench -p multicluster-provider --bench scale [-- N...]`: N MultiClusterIngresses and
//! N MultiClusterServices (type LoadBalancer) created at once on a local control plane, with the
//! real controller (release build, all five controllers, client rate limits raised) and the real
//! fake provider library. Reports the time until every object's status has its load balancer,
//! API requests per object, and the controller's peak RSS. Then EndpointSlice churn: the
//! controller's CPU time per EndpointSlice event, which must not grow with N (the MCIs of a
//! Service are found through an index, not by scanning all N). Default N: 100 and 1000.

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

use common::free_ports;

/// EndpointSlice updates in the churn phase.
const CHURN_EVENTS: usize = 2000;

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
    /// Controller CPU time per EndpointSlice event during the churn.
    churn_cpu_per_event: Duration,
}

/// The CPU time (user + system, all threads) process `pid` has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Updates an EndpointSlice of a Service no MCI references [`CHURN_EVENTS`] times, then one of
/// Service `web-0`, whose MCI is then updated (address 1.2.3.5): once it is, the controller has
/// handled every event before it (one watch stream). Returns the controller's CPU time per
/// event.
async fn churn_endpoint_slices(client: &kube::Client, pid: u32) -> Duration {
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use kube::api::{Patch, PatchParams};
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "bench");
    let slice = |name: &str, service: &str, revision: usize| {
        serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [format!("10.0.{}.{}", revision / 250, revision % 250 + 1)]}],
        })
    };
    let apply = |name: &'static str, service: &'static str, revision: usize| {
        let slices = slices.clone();
        async move {
            slices
                .patch(
                    name,
                    &PatchParams::apply("bench").force(),
                    &Patch::Apply(slice(name, service, revision)),
                )
                .await
                .unwrap();
        }
    };
    apply("unreferenced-1", "unreferenced", 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_time(pid);
    for revision in 1..=CHURN_EVENTS {
        apply("unreferenced-1", "unreferenced", revision).await;
    }
    apply("web-0-1", "web-0", 0).await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), "bench");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mci = mcis.get("web-0").await.unwrap();
        let ip = mci
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .and_then(|i| i.first().and_then(|i| i.ip.clone()));
        if ip.as_deref() == Some("1.2.3.5") {
            break;
        }
        assert!(Instant::now() < deadline, "the churn was not handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (cpu_time(pid) - before) / (CHURN_EVENTS as u32 + 1)
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

    let [health, metrics_port] = free_ports();
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
    let churn_cpu_per_event = churn_endpoint_slices(&client, pid).await;
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
        churn_cpu_per_event,
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
        "| N (MCIs + MCSs) | objects created in | every status has its balancer after | API requests per object | controller peak RSS | controller CPU per EndpointSlice event |"
    );
    println!("|---|---|---|---|---|---|");
    for r in results {
        println!(
            "| {} + {} | {:.1} s | {:.1} s | {:.1} | {:.1} MiB | {:.0} µs |",
            r.n,
            r.n,
            r.create.as_secs_f64(),
            r.converge.as_secs_f64(),
            r.requests,
            r.rss_kib as f64 / 1024.0,
            r.churn_cpu_per_event.as_secs_f64() * 1e6
        );
    }
}
