//! Integration-test harness: a real control plane per test (the controller watches every
//! namespace, so tests that run controllers must not share one), the real fake provider
//! library, and the real `multicluster-provider` binary as a child process.
//!
//! Every test binary (and the scale bench) declares it `pub mod common;`: its items are then
//! exported, as a library's are, so a helper that one binary does not use is no warning there.
//! A helper that no binary uses any more is to be removed.
//!
//! The control plane is in `env.rs`, the controller process in `process.rs` and what its metrics
//! say in `metrics.rs`; their items are re-exported here, so callers name them `common::Env`.
//! `verify.rs` runs the `verify` command and reads its report.

mod env;
mod metrics;
mod process;
pub mod proxy;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::api::Api;

pub use env::Env;
pub use mcp_testenv::{repo_root, target_dir};
pub use process::{ControllerOptions, ControllerProcess, free_port, free_ports, http_get};

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
