//! Integration-test harness: a real control plane per test (the controller watches every
//! namespace, so tests that run controllers must not share one), the real fake provider
//! library, and the real `multicluster-provider` binary as a child process.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use mcp_testenv::{ControlPlane, ControlPlaneOptions};

pub use mcp_testenv::{repo_root, target_dir};

/// Runs `cargo ARGS` in the repository and fails the test with cargo's output if it fails.
pub fn cargo(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
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

/// A port free on loopback when asked (the caller binds it later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct ControllerProcess {
    child: Option<Child>,
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

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
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

    /// Waits for `/readyz` to answer 200; panics with the log otherwise.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the controller exited ({status}) before it was ready:\n{}",
                    self.logs()
                );
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
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the exit (at most `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!(
                    "the controller did not exit within {timeout:?} of SIGTERM:\n{}",
                    std::fs::read_to_string(&self.log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
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
        let health_port = free_port();
        let metrics_port = free_port();
        let log_path = opts.dir.join(format!("controller-{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
        cmd.args(provider_args)
            .arg("--kubeconfig")
            .arg(opts.kubeconfig.as_deref().unwrap_or(kubeconfig))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={health_port}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics_port}"))
            .arg("--v=4")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(config) = &opts.cloud_config {
            let path = opts.dir.join(format!("cloud-config-{n}.yaml"));
            std::fs::write(&path, config).unwrap();
            cmd.arg("--cloud-config").arg(path);
        }
        cmd.args(&opts.args);
        let child = cmd.spawn().expect("start multicluster-provider");
        ControllerProcess {
            child: Some(child),
            log_path,
            health_port,
            metrics_port,
        }
    }
}
