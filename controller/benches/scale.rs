//! `cargo bench -p multicluster-provider --bench scale [-- OPTIONS] [N...]`: the release
//! controller (all five controllers, the release fake provider) on a local control plane with N
//! Services, N MultiClusterIngresses (class `fake`, one rule to the Service of the same name) and
//! N MultiClusterServices (type LoadBalancer, named like the Service).
//!
//! Modes:
//! - default: the objects exist **before** the controller starts (a restart or a leader
//!   takeover); times are from the controller's process start. Default N: 1000, 3000, 10000.
//! - `--while-running`: the controller starts first and N MCIs and N MCSs (no Services) are
//!   created while it runs, 32 at a time; times are from the first creation. Default N: 100, 1000.
//!
//! Options: `--churn` then updates EndpointSlices (see `scale/churn.rs`) and prints the
//! controller's CPU time per EndpointSlice event, which must not grow with N; `--default-limits` keeps `--kube-api-qps=40 --kube-api-burst=60` (otherwise they are
//! raised to 2000/4000 so the run measures the controller, not the limiter); `--state-file` gives
//! the fake provider a state file (its multi-process mode); `--backends` also creates, before
//! the controller starts, two Ready Clusters and for each Service its ResourceBinding and two
//! collected EndpointSlices (see `scale/backends.rs`), so that the backend view of interface 1.2
//! has two clusters of endpoints per object; `--backend-view=off` runs the fake without the view
//! (`backendView: off`, the calls of an interface 1.1 provider), to measure what building it
//! costs; `--heaptrack` runs the controller under heaptrack (a heap profile per N in
//! `target/heaptrack/`, read it with `heaptrack_print`; times and CPU are then heaptrack's, not
//! the controller's).
//!
//! Printed per N: time until every MCI and MCS has an address in `status.loadBalancer`, the
//! controller's CPU seconds (user + system) until then (and those of the provider's live call
//! threads among them), its peak RSS (`VmHWM`) then, its RSS after settling (3 s later), API requests per MCI/MCS by verb (from the controller's own
//! counter: in the default mode everything from start, lists and watches included), and the API
//! server's view by verb and resource. With more than one N, the memory slope per
//! Service + MCI + MCS between the smallest and the largest N.

#![forbid(unsafe_code)]

#[path = "scale/backends.rs"]
mod backends;
#[path = "scale/churn.rs"]
mod churn;
#[path = "../tests/common/mod.rs"]
pub mod common;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/options.rs"]
mod options;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use mcp_testenv::{ControlPlane, ControlPlaneOptions};

use common::free_port;
use objects::Convergence;
use options::Options;

const REQUESTS: &str = "multicluster_provider_kube_api_requests_total";

/// The body of GET `path` on loopback `port`, if it answers 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    common::http_get(port, path)
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
}

struct Controller {
    child: Child,
    /// The controller's process id (under heaptrack, the child of `child`).
    pid: u32,
    metrics_port: u16,
    health_port: u16,
}

impl Controller {
    fn start(plane: &ControlPlane, fake_dir: &Path, options: &Options, n: usize) -> Controller {
        let health_port = free_port();
        let metrics_port = free_port();
        let log = std::fs::File::create(plane.dir().join("controller.log")).unwrap();
        let binary = env!("CARGO_BIN_EXE_multicluster-provider");
        let mut command = if options.heaptrack {
            let dir = mcp_testenv::target_dir().join("heaptrack");
            std::fs::create_dir_all(&dir).unwrap();
            let mut command = Command::new("heaptrack");
            command
                .arg("-o")
                .arg(dir.join(format!("scale-{n}")))
                .arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command
            .args([
                "--cloud-provider=fake",
                "--provider-ingress-class=karmada.io/fake",
            ])
            .arg("--provider-dir")
            .arg(fake_dir)
            .arg("--kubeconfig")
            .arg(plane.kubeconfig_path())
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={health_port}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics_port}"))
            .arg("--v=1");
        if !options.default_limits {
            command.args(["--kube-api-qps=2000", "--kube-api-burst=4000"]);
        }
        let mut cloud_config = String::new();
        if options.state_file {
            let state = plane.dir().join("fake-state.db");
            cloud_config += &format!("stateFile: {}\n", state.display());
        }
        if options.view_off {
            cloud_config += "backendView: off\n";
        }
        if !cloud_config.is_empty() {
            let config = plane.dir().join("cloud-config.yaml");
            std::fs::write(&config, cloud_config).unwrap();
            command.arg("--cloud-config").arg(config);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let pid = if options.heaptrack {
            controller_child(child.id(), binary)
        } else {
            child.id()
        };
        Controller {
            child,
            pid,
            metrics_port,
            health_port,
        }
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(self.health_port, "/readyz").is_none() {
            assert!(Instant::now() < deadline, "controller not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// controller-runtime's reconcile counter, summed over results, by controller.
    fn reconciles(&self) -> BTreeMap<String, f64> {
        let metrics = http_get(self.metrics_port, "/metrics").unwrap_or_default();
        measure::counter_by(
            &metrics,
            "controller_runtime_reconcile_total",
            &["controller"],
        )
    }

    fn requests_by_verb(&self) -> BTreeMap<String, f64> {
        let metrics = http_get(self.metrics_port, "/metrics").unwrap_or_default();
        measure::counter_by(&metrics, REQUESTS, &["verb"])
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The child of `parent` running `binary` (heaptrack's script starts it), waiting for it.
fn controller_child(parent: u32, binary: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        let found = children.split_whitespace().find_map(|c| {
            let exe = std::fs::read_link(format!("/proc/{c}/exe")).ok()?;
            (exe == Path::new(binary)).then(|| c.parse().ok())?
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "heaptrack did not start the controller"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The API server's request counters by verb and resource (subresource).
async fn apiserver_requests(client: &Client) -> BTreeMap<String, f64> {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(request).await.unwrap_or_default();
    measure::counter_by(
        &text,
        "apiserver_request_total",
        &["verb", "resource", "subresource"],
    )
}

struct Run {
    n: usize,
    create: Duration,
    converge: Duration,
    cpu_seconds: f64,
    /// CPU seconds by thread name at convergence, exited threads included.
    threads_cpu: BTreeMap<String, f64>,
    /// Reconciles by controller at convergence.
    reconciles: BTreeMap<String, f64>,
    peak_kib: u64,
    settled_kib: u64,
    by_verb: BTreeMap<String, f64>,
    apiserver: BTreeMap<String, f64>,
    /// With `--churn`: the controller's CPU time per EndpointSlice event.
    churn_cpu: Option<Duration>,
}

impl Run {
    /// The CPU of the provider's call threads (the provider's own work, decoding what it is
    /// sent).
    fn call_cpu_seconds(&self) -> f64 {
        self.threads_cpu
            .get("provider-call")
            .copied()
            .unwrap_or(0.0)
    }

    fn per_object(&self) -> f64 {
        self.by_verb.values().sum::<f64>() / (2 * self.n) as f64
    }
}

async fn plane_with_crds() -> (ControlPlane, Client) {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane");
    let client = plane.admin_client().await.unwrap();
    mcp_testenv::install_crds(&client).await.unwrap();
    let ns: Api<Namespace> = Api::all(client.clone());
    for name in ["karmada-system", objects::NAMESPACE] {
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

async fn run(n: usize, fake_dir: &Path, options: &Options) -> Run {
    let (plane, client) = plane_with_crds().await;
    let timeout = Duration::from_secs(300) + Duration::from_millis(50 * n as u64);

    let (controller, create, started, baseline, apiserver_before) = if options.while_running {
        let controller = Controller::start(&plane, fake_dir, options, n);
        controller.wait_ready().await;
        // Requests before the objects exist (initial lists, lease) are not the objects' cost.
        let baseline = controller.requests_by_verb();
        let apiserver_before = apiserver_requests(&client).await;
        let started = Instant::now();
        let create = objects::create(&client, n, false).await;
        (controller, create, started, baseline, apiserver_before)
    } else {
        let mut create = objects::create(&client, n, true).await;
        if options.backends {
            let started = Instant::now();
            backends::create(&client, n).await;
            create += started.elapsed();
        }
        let apiserver_before = apiserver_requests(&client).await;
        let started = Instant::now();
        let controller = Controller::start(&plane, fake_dir, options, n);
        (
            controller,
            create,
            started,
            BTreeMap::new(),
            apiserver_before,
        )
    };
    let threads = measure::ThreadCpu::watch(controller.pid());
    let mut convergence = Convergence::watch(&client);
    convergence.wait(n, timeout).await;
    let converge = started.elapsed();
    let pid = controller.pid();
    let cpu_seconds = measure::cpu_seconds(pid);
    let threads_cpu = threads.by_name();
    drop(threads);
    let reconciles = controller.reconciles();
    let peak_kib = measure::status_kib(pid, "VmHWM");

    // Let follow-up work (service exports) settle before counting requests.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled_kib = measure::status_kib(pid, "VmRSS");
    let by_verb = measure::difference(&controller.requests_by_verb(), &baseline);
    let apiserver = measure::difference(&apiserver_requests(&client).await, &apiserver_before);
    let churn_cpu = if options.churn {
        Some(churn::cpu_per_event(&client, pid, options.backends).await)
    } else {
        None
    };
    controller.stop();
    drop(convergence);
    drop(plane);
    Run {
        n,
        create,
        converge,
        cpu_seconds,
        threads_cpu,
        reconciles,
        peak_kib,
        settled_kib,
        by_verb,
        apiserver,
        churn_cpu,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("scale: bench");
        return;
    }
    let options = Options::parse();
    let fake_dir = mcp_testenv::build_fake_provider(true).expect("build the fake provider");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut runs = Vec::new();
    for &n in &options.sizes {
        let r = runtime.block_on(run(n, &fake_dir, &options));
        println!(
            "N={n}: converged after {:.1} s, {:.2} CPU s ({:.2} s on the provider's call threads), peak RSS {:.1} MiB, {:.3} requests per object",
            r.converge.as_secs_f64(),
            r.cpu_seconds,
            r.call_cpu_seconds(),
            mib(r.peak_kib),
            r.per_object()
        );
        runs.push(r);
    }
    println!();
    println!("{}", options.describe());
    println!(
        "| N | objects created in | every status has its balancer after | controller CPU | peak RSS | RSS after converging | API requests per MCI/MCS | by verb |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {:.1} s | {:.1} s | {:.2} s | {:.1} MiB | {:.1} MiB | {:.3} | {} |",
            r.n,
            r.create.as_secs_f64(),
            r.converge.as_secs_f64(),
            r.cpu_seconds,
            mib(r.peak_kib),
            mib(r.settled_kib),
            r.per_object(),
            measure::per_object(&r.by_verb, (2 * r.n) as f64),
        );
    }
    println!();
    for r in &runs {
        let list = |values: &BTreeMap<String, f64>, precision: usize| {
            values
                .iter()
                .map(|(name, value)| format!("{name} {value:.precision$}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "N={}: CPU seconds by thread at convergence (exited threads included): {}; reconciles by controller: {}",
            r.n,
            list(&r.threads_cpu, 2),
            list(&r.reconciles, 0)
        );
    }
    println!();
    for r in &runs {
        println!(
            "N={}: API server requests per MCI/MCS while the controller ran, at least 0.001 (the bench's own watches, and with --while-running its creations, included): {}",
            r.n,
            measure::per_object(
                &measure::significant(r.apiserver.clone(), (2 * r.n) as f64, 0.001),
                (2 * r.n) as f64
            )
        );
    }
    for r in &runs {
        if let Some(cpu) = r.churn_cpu {
            println!(
                "N={}: controller CPU per EndpointSlice event ({} events): {} µs",
                r.n,
                churn::EVENTS + 1,
                cpu.as_micros()
            );
        }
    }
    if let (Some(first), Some(last)) = (runs.first(), runs.last())
        && last.n > first.n
    {
        let slope = |a: u64, b: u64| (b as f64 - a as f64) / (last.n - first.n) as f64;
        println!(
            "memory slope N={}..{}: peak {:.1} KiB, after converging {:.1} KiB per object set (Service + MCI + MCS, or MCI + MCS with --while-running)",
            first.n,
            last.n,
            slope(first.peak_kib, last.peak_kib),
            slope(first.settled_kib, last.settled_kib),
        );
    }
}
