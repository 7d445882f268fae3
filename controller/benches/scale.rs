//! `cargo bench -p multicluster-provider --bench scale [-- N...]`: N MultiClusterIngresses and
//! N MultiClusterServices (type LoadBalancer) created at once on a local control plane, with the
//! real controller (release build, all five controllers, client rate limits raised) and the real
//! fake provider library. Reports the time until every object's status has its load balancer,
//! API requests per object, and the controller's peak RSS. Default N: 100 and 1000.
//!
//! `cargo bench -p multicluster-provider --bench scale -- --backlog [N...]`: the comparison with
//! the Go original: N MCIs, N MCSs and the N Services the MCIs route to exist before the
//! controller starts, which runs with the default flags (`--kube-api-qps=40
//! --kube-api-burst=60`, one bucket per resource kind, as Go's per-kind REST clients). Reports
//! the time from the start of the process until every status has its balancer, and the requests
//! it sent. Default N: 500.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Client;
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

const REQUESTS: &str = "multicluster_provider_kube_api_requests_total";

/// A control plane with the CRDs, the namespaces and the IngressClass `fake`.
async fn control_plane() -> (ControlPlane, Client) {
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
    (plane, client)
}

/// Creates MCI `web-{i}` (routing to Service `web-{i}`, created too with `services`) and MCS
/// `api-{i}` for every i below `n`, 32 creations in flight.
async fn create_objects(client: &Client, n: usize, services: bool) {
    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), "bench");
    let mcss: Api<MultiClusterService> = Api::namespaced(client.clone(), "bench");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "bench");
    futures::stream::iter(0..n)
        .map(|i| {
            let (mcis, mcss, svcs) = (mcis.clone(), mcss.clone(), svcs.clone());
            async move {
                let name = format!("web-{i}");
                if services {
                    let svc: Service = serde_json::from_value(serde_json::json!({
                        "metadata": {"name": name},
                        "spec": {"ports": [{"port": 80}], "selector": {"app": name}}
                    }))
                    .unwrap();
                    svcs.create(&PostParams::default(), &svc).await.unwrap();
                }
                let mci: MultiClusterIngress = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name},
                    "spec": {"rules": [{"host": format!("{name}.example.com"), "http": {"paths": [
                        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}
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
        .collect::<Vec<_>>()
        .await;
}

/// How many of `objects` have an address in `status.loadBalancer.ingress`.
fn with_address<K: serde::Serialize>(objects: &[K]) -> usize {
    objects
        .iter()
        .filter(|o| {
            serde_json::to_value(o).unwrap()["status"]["loadBalancer"]["ingress"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
        })
        .count()
}

/// Polls until every MCI and MCS has its balancer's address.
async fn wait_converged(client: &Client, n: usize) {
    let mcis: Api<MultiClusterIngress> = Api::namespaced(client.clone(), "bench");
    let mcss: Api<MultiClusterService> = Api::namespaced(client.clone(), "bench");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done_mci = with_address(&mcis.list(&ListParams::default()).await.unwrap().items);
        let done_mcs = with_address(&mcss.list(&ListParams::default()).await.unwrap().items);
        if done_mci == n && done_mcs == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "N={n}: only {done_mci} MCIs and {done_mcs} MCSs converged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The release controller with the fake provider, health and metrics on free ports, `extra`
/// flags; its log in the control plane's directory.
struct Controller {
    child: Child,
    health: u16,
    metrics: u16,
}

impl Controller {
    fn start(plane: &ControlPlane, fake_dir: &Path, extra: &[&str]) -> Controller {
        let health = free_port();
        let metrics = free_port();
        let log = std::fs::File::create(plane.dir().join("controller.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
            .args([
                "--cloud-provider=fake",
                "--provider-ingress-class=karmada.io/fake",
                "--bind-address=127.0.0.1",
            ])
            .arg("--provider-dir")
            .arg(fake_dir)
            .arg("--kubeconfig")
            .arg(plane.kubeconfig_path())
            .arg(format!("--secure-port={health}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics}"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Controller {
            child,
            health,
            metrics,
        }
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(self.health, "/readyz").is_none() {
            assert!(Instant::now() < deadline, "controller not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn requests(&self) -> f64 {
        metric_sum(&http_get(self.metrics, "/metrics").unwrap(), REQUESTS)
    }

    /// Peak RSS, then SIGTERM and wait.
    fn stop(mut self) -> u64 {
        let rss = peak_rss_kib(self.child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        rss
    }
}

/// One run: N, the time of its first phase (objects created, or controller ready), the time
/// until every status had its balancer, the requests the controller sent, its peak RSS.
struct Run {
    n: usize,
    first: Duration,
    converge: Duration,
    requests: f64,
    rss_kib: u64,
}

/// Objects created while the controller runs, client limits raised.
async fn run(n: usize, fake_dir: &Path) -> Run {
    let (plane, client) = control_plane().await;
    let controller = Controller::start(
        &plane,
        fake_dir,
        &["--kube-api-qps=2000", "--kube-api-burst=4000", "--v=1"],
    );
    controller.wait_ready().await;
    // Requests before the objects exist (initial lists, lease) are not the objects' cost.
    let baseline = controller.requests();
    let started = Instant::now();
    create_objects(&client, n, false).await;
    let create = started.elapsed();
    wait_converged(&client, n).await;
    let converge = started.elapsed();
    // Let follow-up work (service exports, policies) settle before counting requests.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = controller.requests() - baseline;
    let rss_kib = controller.stop();
    drop(plane);
    Run {
        n,
        first: create,
        converge,
        requests,
        rss_kib,
    }
}

/// Objects and Services there before the start; default flags.
async fn run_backlog(n: usize, fake_dir: &Path) -> Run {
    let (plane, client) = control_plane().await;
    create_objects(&client, n, true).await;
    let started = Instant::now();
    let controller = Controller::start(&plane, fake_dir, &[]);
    controller.wait_ready().await;
    let ready = started.elapsed();
    wait_converged(&client, n).await;
    let converge = started.elapsed();
    let requests = controller.requests();
    let rss_kib = controller.stop();
    drop(plane);
    Run {
        n,
        first: ready,
        converge,
        requests,
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
    let backlog = std::env::args().any(|a| a == "--backlog");
    let sizes: Vec<usize> = if !args.is_empty() {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    } else if backlog {
        vec![500]
    } else {
        vec![100, 1000]
    };
    let fake_dir = mcp_testenv::build_fake_provider(true).expect("build the fake provider");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results: Vec<Run> = sizes
        .iter()
        .map(|&n| {
            runtime.block_on(async {
                if backlog {
                    run_backlog(n, &fake_dir).await
                } else {
                    run(n, &fake_dir).await
                }
            })
        })
        .collect();
    println!();
    if backlog {
        println!(
            "| N (MCIs + MCSs + Services, before the start) | ready after | every status has its balancer after | API requests (per object, per second) | controller peak RSS |"
        );
    } else {
        println!(
            "| N (MCIs + MCSs) | objects created in | every status has its balancer after | API requests per object | controller peak RSS |"
        );
    }
    println!("|---|---|---|---|---|");
    for r in results {
        let per_object = r.requests / (2 * r.n) as f64;
        let (objects, requests) = if backlog {
            (
                format!("{0} + {0} + {0}", r.n),
                format!(
                    "{:.0} ({per_object:.2}, {:.0}/s)",
                    r.requests,
                    r.requests / r.converge.as_secs_f64()
                ),
            )
        } else {
            (format!("{0} + {0}", r.n), format!("{per_object:.1}"))
        };
        println!(
            "| {objects} | {:.1} s | {:.1} s | {requests} | {:.1} MiB |",
            r.first.as_secs_f64(),
            r.converge.as_secs_f64(),
            r.rss_kib as f64 / 1024.0
        );
    }
}
