//! The Karmada mode: Karmada v1.16's own control plane and member clusters on loopback.
//!
//! [`KarmadaEnv::start`] runs what Karmada's `hack/deploy-karmada.sh` deploys, as plain
//! processes with credentials made here:
//!
//! * the **Karmada API server**: kube-apiserver + etcd (a [`ControlPlane`]) with aggregation
//!   turned on (front-proxy client certificate and request-header CA);
//! * **kube-controller-manager** against it, with the controllers Karmada runs there (namespace,
//!   garbage collector, service-account tokens, ...);
//! * Karmada's **CRDs** as Karmada installs them (its kustomization, with the conversion-webhook
//!   patches pointing at karmada-webhook);
//! * **karmada-aggregated-apiserver**, registered by Karmada's APIService
//!   `v1alpha1.cluster.karmada.io` (so `cluster.karmada.io` is the real API, served from its own
//!   etcd storage, with the cluster proxy);
//! * **karmada-webhook**, registered by Karmada's Mutating/ValidatingWebhookConfigurations;
//! * **karmada-scheduler** and **karmada-controller-manager**;
//! * **member clusters** (default `member1` and `member2`), each its own kube-apiserver + etcd,
//!   joined in Push mode as `karmadactl join` does it, and Ready in Karmada.
//!
//! Dropping the environment stops everything; servers never outlive the process (see
//! [`ControlPlane`]). Every error carries the last lines of every process's log.
//!
//! Here: the options, [`KarmadaEnv`] and its members. `startup.rs` brings it up (phases, ports,
//! waits), `components.rs` and `install.rs` are Karmada's processes and manifests, `member.rs`
//! the member clusters, `pki.rs` the certificates, and `health.rs` what a running environment
//! reports (health, memory, logs).

mod components;
mod health;
mod install;
mod member;
mod pki;
mod startup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;

use crate::binaries::{KarmadaBinaries, check_dir, locate_binaries, locate_karmada_binaries};
use crate::control_plane::{ControlPlane, ControlPlaneOptions, default_base_dir};
use crate::error::{Error, Result};
use crate::process::{self, ProcessGroup};
use pki::Pki;
use startup::Phases;

pub use health::ProcessMemory;
pub use member::cluster_api_resource;
pub use startup::StartupReport;

/// Names of the member clusters started by default.
pub const DEFAULT_MEMBERS: [&str; 2] = ["member1", "member2"];
/// The Karmada API server's name in kubeconfigs (as `karmadactl` and Karmada's docs call it).
pub const KARMADA_APISERVER: &str = "karmada-apiserver";
/// The Karmada administrator, as Karmada's installers name it: in `system:masters`, and the
/// user Karmada's `cluster-proxy-admin` binding lets through the cluster proxy to the members.
pub const KARMADA_ADMIN: &str = "system:admin";

/// How to start a [`KarmadaEnv`].
#[derive(Debug, Clone)]
pub struct KarmadaOptions {
    /// Member clusters to start and join (default `member1`, `member2`).
    pub members: Vec<String>,
    /// Directory with `etcd` and `kube-apiserver`; `None` = [`locate_binaries`].
    pub bin_dir: Option<PathBuf>,
    /// Karmada's binaries and module; `None` = [`locate_karmada_binaries`].
    pub karmada: Option<KarmadaBinaries>,
    /// Where the directories are created; `None` = [`default_base_dir`].
    pub base_dir: Option<PathBuf>,
    /// How long the whole start may take (the first start on a loaded 2-core machine takes
    /// about a minute).
    pub start_timeout: Duration,
    /// karmada-controller-manager's `--cluster-status-update-frequency` (Karmada's default is
    /// 10 s; shorter here so a stopped member turns not-Ready quickly in tests).
    pub cluster_status_update_frequency: Duration,
    /// karmada-controller-manager's `--cluster-failure-threshold` (Karmada's default is 30 s).
    pub cluster_failure_threshold: Duration,
    /// More token users of the Karmada API server: (name, groups), e.g. a controller's own
    /// identity whose RBAC a test applies.
    pub extra_users: Vec<(String, Vec<String>)>,
}

impl Default for KarmadaOptions {
    fn default() -> Self {
        Self {
            members: DEFAULT_MEMBERS.iter().map(|m| (*m).to_owned()).collect(),
            bin_dir: None,
            karmada: None,
            base_dir: None,
            start_timeout: Duration::from_secs(300),
            cluster_status_update_frequency: Duration::from_secs(3),
            cluster_failure_threshold: Duration::from_secs(9),
            extra_users: Vec::new(),
        }
    }
}

/// Karmada's control plane and its member clusters, running. See the module documentation.
pub struct KarmadaEnv {
    /// The kubeconfig of [`KARMADA_ADMIN`] on the Karmada API server.
    admin_kubeconfig: PathBuf,
    /// Karmada's components (kube-controller-manager included): stopped first.
    components: ProcessGroup,
    members: Mutex<BTreeMap<String, ControlPlane>>,
    karmada: ControlPlane,
    dir: PathBuf,
    bin_dir: PathBuf,
    base_dir: PathBuf,
    binaries: KarmadaBinaries,
    report: StartupReport,
    start_timeout: Duration,
}

impl std::fmt::Debug for KarmadaEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KarmadaEnv")
            .field("karmada", &self.karmada.server_url())
            .field("members", &self.member_names())
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl KarmadaEnv {
    /// Starts Karmada's control plane and the member clusters, joins them, and returns once
    /// every Cluster is Ready.
    pub async fn start(options: KarmadaOptions) -> Result<Self> {
        let mut phases = Phases::new();
        let bin_dir = match options.bin_dir.clone() {
            Some(dir) => {
                check_dir(&dir, "KarmadaOptions::bin_dir")?;
                dir
            }
            None => blocking(locate_binaries).await?,
        };
        let binaries = match options.karmada.clone() {
            Some(binaries) => binaries,
            None => blocking(locate_karmada_binaries).await?,
        };
        phases.done("locate the binaries");
        let base_dir = options.base_dir.clone().unwrap_or_else(default_base_dir);
        std::fs::create_dir_all(&base_dir)
            .map_err(Error::io(format!("creating {}", base_dir.display())))?;
        crate::control_plane::sweep_stale_dirs(&base_dir);
        let dir = tempfile::Builder::new()
            .prefix(&format!("mcp-testenv-{}-karmada-", std::process::id()))
            .tempdir_in(&base_dir)
            .map_err(Error::io(format!(
                "creating a directory in {}",
                base_dir.display()
            )))?
            .keep();
        let components = ProcessGroup::new();
        process::register_dir(components.group(), dir.clone());
        let started = async {
            let pki = Pki::new(&dir)?;
            phases.done("make certificates");

            // The Karmada API server and the members start together: most of a start is waiting.
            let karmada_options = ControlPlaneOptions {
                name: KARMADA_APISERVER.into(),
                bin_dir: Some(bin_dir.clone()),
                base_dir: Some(base_dir.clone()),
                start_timeout: options.start_timeout,
                extra_users: std::iter::once((KARMADA_ADMIN.into(), vec!["system:masters".into()]))
                    .chain(options.extra_users.iter().cloned())
                    .collect(),
                extra_apiserver_args: components::karmada_apiserver_args(&pki),
            };
            let member_starts = options
                .members
                .iter()
                .map(|name| member::start_plane(name, &bin_dir, &base_dir, options.start_timeout));
            let (karmada, members) = tokio::join!(
                ControlPlane::start(karmada_options),
                futures::future::join_all(member_starts)
            );
            let mut planes = BTreeMap::new();
            let mut failed = None;
            for (name, plane) in options.members.iter().zip(members) {
                match plane {
                    Ok(plane) => {
                        planes.insert(name.clone(), plane);
                    }
                    Err(error) => failed = failed.or(Some(error)),
                }
            }
            // Whatever started is stopped (dropped) before an error is returned.
            let karmada = karmada?;
            if let Some(error) = failed {
                return Err(error);
            }
            let admin_kubeconfig = karmada.write_kubeconfig(
                KARMADA_ADMIN,
                &dir.join(format!("{KARMADA_APISERVER}.config")),
            )?;
            Ok((pki, karmada, planes, admin_kubeconfig))
        };
        let (pki, karmada, planes, admin_kubeconfig) = match started.await {
            Ok(started) => started,
            Err(error) => {
                drop(components);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        phases.done(format!(
            "start the Karmada API server and {} member API servers",
            planes.len()
        ));

        let env = KarmadaEnv {
            admin_kubeconfig,
            components,
            members: Mutex::new(planes),
            karmada,
            dir,
            bin_dir,
            base_dir,
            binaries,
            report: StartupReport::default(),
            start_timeout: options.start_timeout,
        };
        let mut env = env;
        match env.bring_up(&pki, &options, phases).await {
            Ok(report) => {
                env.report = report;
                tracing::info!("{}", env.report);
                Ok(env)
            }
            Err(error) => Err(env.with_logs(error)),
        }
    }

    /// The Karmada API server (its URL, users, logs).
    pub fn karmada(&self) -> &ControlPlane {
        &self.karmada
    }

    /// A client of the Karmada API server as [`KARMADA_ADMIN`].
    pub async fn karmada_client(&self) -> Result<Client> {
        self.karmada.client_for(KARMADA_ADMIN).await
    }

    /// The kubeconfig of [`KARMADA_ADMIN`] on the Karmada API server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// Names of the member clusters still running (joined or not).
    pub fn member_names(&self) -> Vec<String> {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn unknown_member(&self, name: &str) -> Error {
        Error::UnknownMember(name.to_owned(), self.member_names().join(", "))
    }

    /// The admin kubeconfig of member `name` as YAML.
    pub fn member_kubeconfig_yaml(&self, name: &str) -> Result<String> {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members
            .get(name)
            .ok_or_else(|| self.unknown_member(name))?
            .kubeconfig_yaml(crate::ADMIN_USER)
    }

    /// The path of member `name`'s admin kubeconfig.
    pub fn member_kubeconfig_path(&self, name: &str) -> Result<PathBuf> {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        Ok(members
            .get(name)
            .ok_or_else(|| self.unknown_member(name))?
            .kubeconfig_path()
            .to_owned())
    }

    /// `https://127.0.0.1:<port>` of member `name`'s API server.
    pub fn member_server_url(&self, name: &str) -> Result<String> {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        Ok(members
            .get(name)
            .ok_or_else(|| self.unknown_member(name))?
            .server_url()
            .to_owned())
    }

    /// An admin client of member `name`'s API server.
    pub async fn member_client(&self, name: &str) -> Result<Client> {
        let yaml = self.member_kubeconfig_yaml(name)?;
        client_from_yaml(&yaml).await
    }

    /// Starts a new member cluster `name`, joins it (Push mode) and waits until it is Ready.
    pub async fn add_member(&self, name: &str) -> Result<()> {
        if self.member_names().iter().any(|m| m == name) {
            return Err(Error::Karmada {
                what: format!("adding member {name}"),
                detail: "a member of that name exists".into(),
                logs: String::new(),
            });
        }
        let plane =
            member::start_plane(name, &self.bin_dir, &self.base_dir, self.start_timeout).await?;
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), plane);
        let client = self.karmada.admin_client().await?;
        let deadline = Instant::now() + self.start_timeout;
        let joined = async {
            self.join(&client, name).await?;
            self.wait_cluster_ready(&client, name, deadline).await
        };
        joined.await.map_err(|e| self.with_logs(e))
    }

    /// Unjoins member `name` as `karmadactl unjoin` does: deletes its Cluster and waits until
    /// Karmada has cleaned up after it (the Cluster is gone), then removes the credentials on
    /// both sides. The member's API server keeps running.
    pub async fn unjoin_member(&self, name: &str, timeout: Duration) -> Result<()> {
        let client = self.karmada.admin_client().await?;
        let member_client = self.member_client(name).await.ok();
        member::unjoin(&client, member_client.as_ref(), name, timeout)
            .await
            .map_err(|e| self.with_logs(e))
    }

    /// Kills member `name`'s API server and etcd (as a crashed cluster): Karmada sees it
    /// unreachable. The member is forgotten (its files are removed).
    pub fn stop_member(&self, name: &str) -> Result<()> {
        let plane = self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .ok_or_else(|| self.unknown_member(name))?;
        plane.kill();
        drop(plane);
        Ok(())
    }

    /// How long each phase of the start took.
    pub fn startup_report(&self) -> &StartupReport {
        &self.report
    }
    /// Writes the admin kubeconfigs into `dir`: `karmada-apiserver.config` and
    /// `<member>.config` for every member. Returns their paths, Karmada's first.
    pub fn write_kubeconfigs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let mut written = vec![self.karmada.write_kubeconfig(
            KARMADA_ADMIN,
            &dir.join(format!("{KARMADA_APISERVER}.config")),
        )?];
        for (name, plane) in self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            written.push(
                plane.write_kubeconfig(crate::ADMIN_USER, &dir.join(format!("{name}.config")))?,
            );
        }
        Ok(written)
    }

    /// The environment's own directory (certificates, component logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for KarmadaEnv {
    fn drop(&mut self) {
        // Karmada's components first (they talk to everything else), then the members, then
        // the Karmada API server (its field is dropped after this).
        self.components.stop();
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if let Err(e) = process::remove_dir(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), "could not remove the Karmada directory: {e}");
        }
    }
}

async fn client_from_yaml(yaml: &str) -> Result<Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kubeconfig_error = |source| Error::Kubeconfig {
        user: crate::ADMIN_USER.into(),
        source,
    };
    let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(kubeconfig_error)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(kubeconfig_error)?;
    config.connect_timeout = Some(Duration::from_secs(5));
    Client::try_from(config).map_err(Error::kube("building a member client"))
}

async fn blocking<T: Send + 'static>(f: fn() -> Result<T>) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::io("locating binaries")(std::io::Error::other(e)))?
}
