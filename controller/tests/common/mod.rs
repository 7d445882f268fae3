//! Integration-test harness: a real control plane per test (the controller watches every
//! namespace, so tests that run controllers must not share one), the real fake provider
//! library, and the real `multicluster-provider` binary as a child process.
//!
//! Every test binary (and the scale bench) declares it `pub mod common;`: its items are then
//! exported, as a library's are, so a helper that one binary does not use is no warning there.
//! A helper that no binary uses any more is to be removed.

pub mod proxy;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use mcp_testenv::{ControlPlane, ControlPlaneOptions, Supervised};

pub use mcp_testenv::{repo_root, target_dir};

/// Runs `cmd` and returns its standard output; fails the test with its error output if it
/// fails.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cargo ARGS` in the repository and fails the test with cargo's output if it fails.
pub fn cargo(args: &[&std::ffi::OsStr]) {
    stdout_of(
        Command::new(env!("CARGO"))
            .args(args)
            .current_dir(repo_root()),
    );
}

/// The directory holding `libmcp_provider_fake.so`, built once per test binary.
pub fn fake_dir() -> &'static Path {
    mcp_testenv::fake_provider_dir().unwrap_or_else(|e| panic!("building the fake provider: {e}"))
}

/// Builds a crate of its own workspace (`manifest`, relative to the repository), as a vendor
/// builds a provider, into `<target>/examples`, once per test binary and manifest; returns the
/// directory holding its library.
pub fn standalone_build(manifest: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let target = target_dir().join("examples");
    if !built.iter().any(|m| m == manifest) {
        let manifest_path = repo_root().join(manifest);
        cargo(&[
            "build".as_ref(),
            "--manifest-path".as_ref(),
            manifest_path.as_ref(),
            "--target-dir".as_ref(),
            target.as_ref(),
        ]);
        built.push(manifest.to_owned());
    }
    target.join("debug")
}

/// A control plane of the test's own, with the Karmada CRDs and `karmada-system`.
pub struct Env {
    pub plane: ControlPlane,
    pub client: Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(ControlPlaneOptions::default()).await
    }

    pub fn kubeconfig(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    /// Applies YAML documents (server-side apply), `namespace` for namespaced objects without one.
    pub async fn apply(&self, yaml: &str, namespace: &str) {
        mcp_testenv::apply_yaml(&self.client, yaml, "test", namespace)
            .await
            .unwrap_or_else(|e| panic!("apply failed: {e}\n{yaml}"));
    }

    /// Creates the Clusters `names` as Karmada shows joined members: Push mode, `Ready`, and
    /// serving the ServiceExport API in `status.apiEnablements` (written through the status
    /// subresource, as Karmada's cluster status controller does).
    pub async fn join_clusters(&self, names: &[&str]) {
        let clusters: Api<mcp_interface::api::cluster::Cluster> = Api::all(self.client.clone());
        for name in names {
            self.apply(
                &format!(
                    "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec: {{syncMode: Push, apiEndpoint: 'https://{name}.example:6443'}}\n"
                ),
                "default",
            )
            .await;
            let status = serde_json::json!({"status": {
                "kubernetesVersion": "v1.36.3",
                "apiEnablements": [
                    {"groupVersion": "v1", "resources": [{"name": "services", "kind": "Service"}]},
                    {"groupVersion": "multicluster.x-k8s.io/v1alpha1", "resources": [
                        {"name": "serviceexports", "kind": "ServiceExport"},
                        {"name": "serviceimports", "kind": "ServiceImport"},
                    ]},
                ],
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady",
                    "message": "cluster is healthy and ready to accept workloads",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            }});
            clusters
                .patch_status(
                    name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&status),
                )
                .await
                .unwrap_or_else(|e| panic!("writing the status of Cluster {name}: {e}"));
        }
    }

    /// What Karmada would have written for the example application: Clusters member1 and
    /// member2 ([`Env::join_clusters`]) and the ResourceBinding placing `serve` on both
    /// (tests/data/karmada-state.yaml), in namespace `namespace`.
    pub async fn apply_karmada_state(&self, namespace: &str) {
        self.join_clusters(&["member1", "member2"]).await;
        self.apply(KARMADA_STATE, namespace).await;
    }

    /// Starts the controller against this control plane.
    pub fn controller(&self, opts: ControllerOptions) -> ControllerProcess {
        ControllerProcess::start(self.kubeconfig(), opts)
    }
}

#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// The fake provider's cloud-config (YAML), if any.
    pub cloud_config: Option<String>,
    /// Extra flags.
    pub args: Vec<String>,
    /// Use this kubeconfig instead of the admin one.
    pub kubeconfig: Option<PathBuf>,
    /// A directory for the cloud-config and logs (kept by the test).
    pub dir: PathBuf,
}

impl ControllerOptions {
    pub fn new(dir: &Path) -> Self {
        ControllerOptions {
            cloud_config: None,
            args: Vec::new(),
            kubeconfig: None,
            dir: dir.to_owned(),
        }
    }

    pub fn cloud_config(mut self, yaml: &str) -> Self {
        self.cloud_config = Some(yaml.to_owned());
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// `N` distinct ports free on loopback when asked (all held until every one is picked, so they
/// differ; the caller binds them later, and [`ControllerProcess::wait_ready`] restarts the
/// controller with new ports if another process took one meanwhile).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A port free on loopback when asked (the caller binds it later).
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// How often [`ControllerProcess::wait_ready`] restarts a controller whose port was taken.
const PORT_CLASH_RETRIES: usize = 3;

/// The controller under test: a child that dies with the test process (`mcp_testenv::Supervised`).
pub struct ControllerProcess {
    process: Option<Supervised>,
    command: Vec<std::ffi::OsString>,
    pub log_path: PathBuf,
    pub health_port: u16,
    pub metrics_port: u16,
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl ControllerProcess {
    pub fn start(kubeconfig: &Path, opts: ControllerOptions) -> Self {
        let fake = [
            "--cloud-provider=fake".to_owned(),
            "--provider-dir".to_owned(),
            fake_dir().display().to_string(),
            "--provider-ingress-class=karmada.io/fake".to_owned(),
        ];
        Self::start_with_provider(kubeconfig, opts, &fake)
    }

    fn process(&self) -> &Supervised {
        self.process.as_ref().expect("the controller was stopped")
    }

    pub fn pid(&self) -> u32 {
        self.process().pid()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// GET `path` on the health port; `(status, body)`.
    pub fn health(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.health_port, path)
    }

    pub fn metrics(&self) -> String {
        http_get(self.metrics_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The value of one series, e.g. `multicluster_provider_reconcile_total{controller="x"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// The sum of the series of metric `name` whose labels include every `key="value"` of
    /// `labels` (0 when there is none).
    pub fn metric_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics()
            .lines()
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let rest = series.strip_prefix(name)?;
                (rest.is_empty() || rest.starts_with('{')).then_some((rest, value))
            })
            .filter(|(series, _)| {
                labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }

    /// Reconciles `controller` has finished (0 before the first).
    pub fn reconciles(&self, controller: &str) -> f64 {
        self.metric(&format!(
            "multicluster_provider_reconcile_total{{controller=\"{controller}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Reconcile requests the watches of `controller` have queued (0 before the first).
    pub fn queued(&self, controller: &str) -> f64 {
        self.metric(&format!(
            "multicluster_provider_queue_adds_total{{controller=\"{controller}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Waits until `controller` has handled every request queued for it so far: none waits in
    /// its queue (`workqueue_depth` 0), no reconcile runs (`active_workers` 0), and as many
    /// reconciles have ended as objects were added to the queue (`workqueue_adds_total`, which
    /// counts an object once while it waits), on two scrapes in a row. Returns the reconcile
    /// count, a baseline a test can wait past. A request still on its way from a cache to the
    /// queue is not seen: a test that needs it handled first waits for a later request of the
    /// same controller (the queue reads them in order).
    pub async fn quiet(&self, controller: &str, timeout: Duration) -> f64 {
        let go = multicluster_provider::controllers::CONTROLLERS
            .iter()
            .find(|c| c.name == controller)
            .unwrap_or_else(|| panic!("no controller {controller}"))
            .go_name;
        let snapshot = || {
            let depth = self.metric_sum("workqueue_depth", &[("name", go)]);
            let active =
                self.metric_sum("controller_runtime_active_workers", &[("controller", go)]);
            let adds = self.metric_sum("workqueue_adds_total", &[("name", go)]);
            let ended =
                self.metric_sum("controller_runtime_reconcile_total", &[("controller", go)]);
            (depth == 0.0 && active == 0.0 && ended == adds).then_some(ended)
        };
        let mut last = None;
        eventually(
            timeout,
            &format!("{controller} to handle every queued request"),
            || {
                let now = snapshot();
                let settled = now.is_some() && now == last;
                last = now;
                async move { settled.then(|| self.reconciles(controller)) }
            },
        )
        .await
    }

    /// Waits for `/readyz` to answer 200; panics with the log otherwise. A controller that could
    /// not bind a port (another process took it since it was picked) is restarted on new ports.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        let mut restarts = 0;
        while start.elapsed() < timeout {
            if let Some(status) = self.process().exit_status() {
                let logs = self.logs();
                if logs.contains("cannot listen on") && restarts < PORT_CLASH_RETRIES {
                    restarts += 1;
                    self.respawn();
                    continue;
                }
                panic!("the controller exited ({status}) before it was ready:\n{logs}");
            }
            if matches!(self.health("/readyz"), Some((200, _))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the controller was not ready within {timeout:?}:\n{}",
            self.logs()
        );
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        self.process
            .as_ref()
            .is_some_and(|p| p.exit_status().is_none())
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }

    /// SIGTERM and wait for the exit (at most `timeout`); panics with the log if it does not
    /// exit. Use [`ControllerProcess::stop`] unless the test expects a failure.
    #[must_use = "a crash on SIGTERM shows only in the exit status; use stop() to require success"]
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let process = self.process.take().expect("running");
        match process.terminate(timeout).await {
            Some(status) => status,
            None => panic!(
                "the controller did not exit within {timeout:?} of SIGTERM:\n{}",
                self.logs()
            ),
        }
    }

    /// SIGTERM, and requires a clean exit (status 0) within `timeout`.
    pub async fn stop(&mut self, timeout: Duration) {
        let status = self.terminate(timeout).await;
        assert!(
            status.success(),
            "the controller exited with {status} on SIGTERM:\n{}",
            self.logs()
        );
    }

    /// Sends `signal` (`libc`'s number, e.g. 15 for SIGTERM) without waiting.
    pub fn signal(&self, signal: i32) {
        self.process().signal(signal);
    }

    /// Waits for the process to exit by itself.
    #[must_use]
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.process().exit_status() {
                self.process = None;
                return status;
            }
            if start.elapsed() > timeout {
                self.kill();
                panic!(
                    "the controller did not exit within {timeout:?}:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `check` until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first load balancer address of an MCI's status.
pub fn mci_ip(mci: &mcp_interface::api::networking::MultiClusterIngress) -> Option<String> {
    mci.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .ip
        .clone()
}

/// Waits until `name` no longer exists (finalizers done).
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(timeout, &format!("{name} to be gone"), || async {
        api.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await
}

/// The fake provider's state file (its SQLite database) as JSON: `balancers`, `created`,
/// `deleted`, `calls` (see docs/fake-provider.md); the empty state when there is no file yet.
pub fn fake_state(path: &Path) -> serde_json::Value {
    let state = mcp_provider_fake::read_state_file(path)
        .unwrap_or_else(|e| panic!("reading the fake state {}: {e}", path.display()));
    serde_json::to_value(state).unwrap()
}

/// Makes the fake provider's state file hold `state` (the JSON shape [`fake_state`] returns), as
/// a cloud another controller left behind.
pub fn seed_fake_state(path: &Path, state: serde_json::Value) {
    let state: mcp_provider_fake::State = serde_json::from_value(state).unwrap();
    mcp_provider_fake::write_state_file(path, &state)
        .unwrap_or_else(|e| panic!("writing the fake state {}: {e}", path.display()));
}

/// The ResourceBinding Karmada writes for the example application's Service (see
/// [`Env::apply_karmada_state`]).
pub const KARMADA_STATE: &str = include_str!("../data/karmada-state.yaml");

/// The IngressClass `fake` (controller `karmada.io/fake`, default) from the examples.
/// An MCI of the default class (`INGRESS_CLASS`) with one rule, to Service `name` port 80.
pub fn mci_yaml(name: &str) -> String {
    format!(
        r#"apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterIngress
metadata:
  name: {name}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {name}
            port:
              number: 80
"#
    )
}

pub const INGRESS_CLASS: &str = include_str!("../../../examples/ingressclass-fake.yaml");

// ---------------------------------------------------------------------------------------------
// Deploy manifests, RBAC and other providers (deploy_manifests.rs, rbac.rs, example_provider.rs)
// ---------------------------------------------------------------------------------------------

/// The user deploy/karmada-rbac.yaml binds (besides the ServiceAccount of that name).
pub const PROVIDER_USER: &str = "multicluster-provider";

/// deploy/karmada-rbac.yaml: what the controller's identity may do on the Karmada API server.
pub const DEPLOY_RBAC: &str = include_str!("../../../deploy/karmada-rbac.yaml");

/// The repository's deploy/ directory.
pub fn deploy_dir() -> PathBuf {
    mcp_testenv::repo_root().join("deploy")
}

impl Env {
    /// Like [`Env::start`], with `options` (extra users, API server flags).
    pub async fn start_with(options: ControlPlaneOptions) -> Env {
        let plane = ControlPlane::start(options)
            .await
            .unwrap_or_else(|e| panic!("control plane: {e}"));
        let client = plane.admin_client().await.unwrap();
        mcp_testenv::install_crds(&client).await.unwrap();
        let ns: Api<Namespace> = Api::all(client.clone());
        let karmada_system: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "karmada-system"}}))
                .unwrap();
        ns.create(&PostParams::default(), &karmada_system)
            .await
            .unwrap();
        Env { plane, client }
    }

    /// A control plane with the token user [`PROVIDER_USER`] and the RBAC `rbac_yaml` (normally
    /// [`DEPLOY_RBAC`]) applied; `extra_apiserver_args` as in [`ControlPlaneOptions`]. Returns
    /// the environment and that user's kubeconfig, for [`ControllerOptions::with_kubeconfig`].
    pub async fn start_with_rbac(
        rbac_yaml: &str,
        extra_apiserver_args: Vec<String>,
    ) -> (Env, PathBuf) {
        let env = Env::start_with(ControlPlaneOptions {
            extra_users: vec![(PROVIDER_USER.to_owned(), Vec::new())],
            extra_apiserver_args,
            ..ControlPlaneOptions::default()
        })
        .await;
        env.apply(rbac_yaml, "karmada-system").await;
        let kubeconfig = env.plane.kubeconfig_path_for(PROVIDER_USER).unwrap();
        (env, kubeconfig)
    }
}

impl Env {
    /// An admin kubeconfig (written into `dir`) whose server is `127.0.0.1:<port>` instead of the
    /// API server's own port (a [`proxy::Proxy`] in front of it).
    pub fn kubeconfig_via(&self, port: u16, dir: &Path) -> PathBuf {
        let yaml = self
            .plane
            .kubeconfig_yaml(mcp_testenv::ADMIN_USER)
            .unwrap()
            .replace(
                self.plane.server_url(),
                &format!("https://127.0.0.1:{port}"),
            );
        let path = dir.join(format!("kubeconfig-via-{port}"));
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// The API server's address.
    pub fn server_address(&self) -> std::net::SocketAddr {
        self.plane
            .server_url()
            .trim_start_matches("https://")
            .parse()
            .unwrap()
    }
}

impl ControllerOptions {
    /// Runs the controller with this kubeconfig (e.g. a restricted user's) instead of the admin's.
    pub fn with_kubeconfig(mut self, path: &Path) -> Self {
        self.kubeconfig = Some(path.to_owned());
        self
    }
}

impl ControllerProcess {
    /// Like [`ControllerProcess::start`], but with `provider_args` (`--cloud-provider`,
    /// `--provider-dir`, `--provider-ingress-class`, ...) instead of the fake provider's.
    pub fn start_with_provider(
        kubeconfig: &Path,
        opts: ControllerOptions,
        provider_args: &[String],
    ) -> Self {
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log_path = opts.dir.join(format!("controller-{n}.log"));
        let mut command: Vec<std::ffi::OsString> = provider_args.iter().map(Into::into).collect();
        command.push("--kubeconfig".into());
        command.push(opts.kubeconfig.as_deref().unwrap_or(kubeconfig).into());
        command.push("--bind-address=127.0.0.1".into());
        command.push("--v=4".into());
        if let Some(config) = &opts.cloud_config {
            let path = opts.dir.join(format!("cloud-config-{n}.yaml"));
            std::fs::write(&path, config).unwrap();
            command.push("--cloud-config".into());
            command.push(path.into());
        }
        command.extend(opts.args.iter().map(Into::into));
        let mut controller = ControllerProcess {
            process: None,
            command,
            log_path,
            health_port: 0,
            metrics_port: 0,
        };
        controller.respawn();
        controller
    }

    /// (Re)starts the process on newly picked ports, appending to the same log.
    fn respawn(&mut self) {
        [self.health_port, self.metrics_port] = free_ports();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
        cmd.args(&self.command)
            .arg(format!("--secure-port={}", self.health_port))
            .arg(format!(
                "--metrics-bind-address=127.0.0.1:{}",
                self.metrics_port
            ))
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        self.process = Some(
            Supervised::spawn("multicluster-provider", cmd, &self.log_path)
                .expect("start multicluster-provider"),
        );
    }
}

/// kubectl of the control plane's release: `$KUBECTL`, else built (once, cached) by
/// `hack/testenv/build.sh kubectl`.
pub fn kubectl() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("KUBECTL").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let out = stdout_of(
            Command::new("bash")
                .arg(mcp_testenv::repo_root().join("hack/testenv/build.sh"))
                .arg("kubectl"),
        );
        PathBuf::from(out.trim())
    })
}
