//! Shared test fixture: one control plane per test binary, one namespace per test.
//!
//! ```no_run
//! # async fn demo() {
//! let ctx = mcp_testenv::test_context("my-test").await;
//! let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
//!     kube::Api::namespaced(ctx.admin.clone(), ctx.namespace());
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, Config};
use tokio::sync::OnceCell;

use crate::control_plane::{ControlPlane, ControlPlaneOptions, RESTRICTED_USER};
use crate::crds::install_crds;
use crate::error::{Error, Result};

static SHARED: OnceCell<std::result::Result<ControlPlane, String>> = OnceCell::const_new();

/// The control plane shared by all tests of this test binary, started on first use with the
/// project's CRDs installed. Panics (failing the calling test) if it cannot start, or if one of
/// its servers has exited, with that server's log.
///
/// It is never dropped: when the test binary exits its servers are killed and its directory is
/// removed (see [`ControlPlane`]).
pub async fn shared() -> &'static ControlPlane {
    match try_shared().await {
        Ok(plane) => plane,
        Err(message) => panic!("{message}"),
    }
}

/// [`shared`] without the panic.
pub async fn try_shared() -> std::result::Result<&'static ControlPlane, String> {
    let started = SHARED
        .get_or_init(|| async {
            let plane = ControlPlane::start(ControlPlaneOptions::default())
                .await
                .map_err(|e| format!("starting the shared test control plane failed: {e:?}"))?;
            let client = plane
                .admin_client()
                .await
                .map_err(|e| format!("admin client: {e:?}"))?;
            install_crds(&client)
                .await
                .map_err(|e| format!("installing the project's CRDs failed: {e:?}"))?;
            Ok(plane)
        })
        .await;
    let plane = started.as_ref().map_err(Clone::clone)?;
    plane
        .check_health()
        .map_err(|e| format!("the shared test control plane is down: {e:?}"))?;
    Ok(plane)
}

/// What one test needs: the shared control plane, its own namespace and two clients.
///
/// Dropping it deletes the namespace (best effort) and, unless the test is already failing,
/// panics if a server of the control plane died during the test, with that server's log.
pub struct TestContext {
    /// The shared control plane.
    pub plane: &'static ControlPlane,
    /// A client in `system:masters`.
    pub admin: Client,
    /// A client for [`RESTRICTED_USER`], which has no permissions unless the test grants some.
    pub restricted: Client,
    /// The test's namespace.
    pub namespace: TestNamespace,
}

impl TestContext {
    /// The test's namespace name.
    pub fn namespace(&self) -> &str {
        self.namespace.name()
    }

    /// `Err` with the log of the failed server if etcd or kube-apiserver has exited.
    pub fn check_health(&self) -> Result<()> {
        self.plane.check_health()
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        if !std::thread::panicking()
            && let Err(error) = self.plane.check_health()
        {
            panic!("the test control plane failed during this test: {error:?}");
        }
    }
}

/// A [`TestContext`] on the [`shared`] control plane, with a fresh namespace named after `hint`.
pub async fn test_context(hint: &str) -> TestContext {
    let plane = shared().await;
    let setup = async {
        let admin = plane.admin_client().await?;
        let restricted = plane.client_for(RESTRICTED_USER).await?;
        let namespace = TestNamespace::create(plane, hint).await?;
        Ok::<_, Error>(TestContext {
            plane,
            admin,
            restricted,
            namespace,
        })
    };
    match setup.await {
        Ok(ctx) => ctx,
        Err(error) => panic!("setting up the test context failed: {error:?}"),
    }
}

/// A namespace with a unique name, deleted (best effort, without waiting) when dropped.
pub struct TestNamespace {
    name: String,
    admin_config: Config,
}

impl TestNamespace {
    /// Creates a namespace named `<hint>-<counter>-<random>` (a valid DNS label).
    pub async fn create(plane: &ControlPlane, hint: &str) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut prefix: String = hint
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        prefix.truncate(40);
        let prefix = prefix.trim_matches('-');
        let prefix = if prefix.is_empty() { "test" } else { prefix };
        let name = format!(
            "{prefix}-{}-{}",
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &crate::keys::random_token()[..6]
        );
        let admin_config = plane.config_for(crate::ADMIN_USER).await?;
        let client = Client::try_from(admin_config.clone())
            .map_err(Error::kube("building the admin client"))?;
        let namespace: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"mcp-testenv/test-namespace": "true"}}
        }))
        .expect("a valid Namespace");
        Api::<Namespace>::all(client)
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(Error::kube(format!("creating namespace {name}")))?;
        Ok(Self { name, admin_config })
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be single-threaded (blocked right here),
        // so delete from a short-lived thread with its own runtime and client.
        let name = self.name.clone();
        let config = self.admin_config.clone();
        let deleter = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(client) = Client::try_from(config) else {
                    return;
                };
                let api = Api::<Namespace>::all(client);
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    api.delete(&name, &DeleteParams::background()),
                )
                .await;
            });
        });
        let _ = deleter.join();
    }
}
