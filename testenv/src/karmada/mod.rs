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

mod components;
mod install;
mod member;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject};

use crate::binaries::{KarmadaBinaries, check_dir, locate_binaries, locate_karmada_binaries};
use crate::control_plane::{ControlPlane, ControlPlaneOptions, default_base_dir};
use crate::error::{Error, Result};
use crate::pki::CertificateAuthority;
use crate::process::{self, ProcessGroup};

pub use member::cluster_api_resource;

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

/// How long each phase of [`KarmadaEnv::start`] took.
#[derive(Debug, Clone, Default)]
pub struct StartupReport {
    /// (phase, duration), in order.
    pub phases: Vec<(String, Duration)>,
    /// From the call to ready.
    pub total: Duration,
}

impl std::fmt::Display for StartupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Karmada mode ready in {:.1} s:",
            self.total.as_secs_f64()
        )?;
        for (phase, took) in &self.phases {
            writeln!(f, "  {phase:<52} {:>6.1} s", took.as_secs_f64())?;
        }
        Ok(())
    }
}

/// Resident memory of one process of the environment.
#[derive(Debug, Clone)]
pub struct ProcessMemory {
    /// `karmada-apiserver/kube-apiserver`, `member1/etcd`, `karmada-scheduler`, ...
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// VmRSS in KiB (0 if the process is gone).
    pub rss_kib: u64,
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

/// Records how long each phase takes.
struct Phases {
    started: Instant,
    last: Instant,
    report: StartupReport,
}

impl Phases {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            report: StartupReport::default(),
        }
    }

    fn done(&mut self, phase: impl Into<String>) {
        let now = Instant::now();
        let phase = phase.into();
        tracing::info!(phase, took = ?now - self.last, "Karmada mode: step done");
        self.report.phases.push((phase, now - self.last));
        self.last = now;
    }

    fn finish(mut self) -> StartupReport {
        self.report.total = self.started.elapsed();
        self.report
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

    async fn bring_up(
        &self,
        pki: &Pki,
        options: &KarmadaOptions,
        mut phases: Phases,
    ) -> Result<StartupReport> {
        let deadline = Instant::now() + options.start_timeout;
        let client = self.karmada.admin_client().await?;
        // A port picked free may be taken by another process before the component binds it:
        // the component exits with "address already in use", and they all start again on new
        // ports (what registers them is applied again, with the new ones).
        let mut attempt = 1;
        loop {
            match self
                .start_components(&client, pki, options, deadline, &mut phases)
                .await
            {
                Ok(()) => break,
                Err(error)
                    if attempt < crate::control_plane::PORT_CLASH_RETRIES
                        && matches!(self.components.check(), Err(Error::PortInUse { .. })) =>
                {
                    tracing::warn!(
                        attempt,
                        "port clash, restarting Karmada's components on new ports: {error}"
                    );
                    self.components.reset();
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }

        let names = self.member_names();
        for name in &names {
            self.join(&client, name).await?;
        }
        for name in &names {
            self.wait_cluster_ready(&client, name, deadline).await?;
        }
        phases.done(format!("join {} and wait until Ready", names.join(", ")));
        Ok(phases.finish())
    }

    /// Starts Karmada's components on ports picked now, registers them, and waits until they
    /// serve.
    async fn start_components(
        &self,
        client: &Client,
        pki: &Pki,
        options: &KarmadaOptions,
        deadline: Instant,
        phases: &mut Phases,
    ) -> Result<()> {
        let ports = components::Ports::pick()?;
        let apiserver_ca = self.karmada.dir().join("pki/apiserver.crt");
        let service_account_key = self.karmada.service_account_key_path();
        let paths = components::Paths {
            dir: &self.dir,
            bin: &self.binaries.dir,
            kubeconfig: self.karmada.kubeconfig_path(),
            karmada_ca: &pki.karmada_ca_file,
            karmada_ca_key: &pki.karmada_ca_key_file,
            service_account_key: &service_account_key,
            apiserver_ca: &apiserver_ca,
            etcd_url: self.karmada.etcd_url(),
        };

        // Started at once: they only need the API server, and wait for what else they need.
        components::start_kube_controller_manager(&self.components, &paths, &ports)?;
        components::start_aggregated_apiserver(&self.components, &paths, &ports, pki)?;
        components::start_webhook(&self.components, &paths, &ports, pki)?;
        phases.done("start kube-controller-manager, karmada-aggregated-apiserver, karmada-webhook");

        install::apply_module_manifest(client, &self.binaries.module_dir, "namespace.yaml").await?;
        let webhook_url = format!("https://127.0.0.1:{}", ports.webhook);
        install::install_crds(
            client,
            &self.binaries.module_dir,
            &webhook_url,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        phases.done("install Karmada's CRDs");

        install::register_aggregated_apiserver(
            client,
            &self.binaries.module_dir,
            ports.aggregated_apiserver,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        self.wait(deadline, "karmada-webhook to serve", || async {
            components::listening(ports.webhook)
                .then_some(())
                .ok_or_else(|| format!("nothing listens on its port {} yet", ports.webhook))
        })
        .await?;
        install::register_webhooks(
            client,
            &self.binaries.module_dir,
            &webhook_url,
            &pki.karmada_ca.ca_bundle(),
        )
        .await?;
        self.wait(
            deadline,
            "APIService v1alpha1.cluster.karmada.io to be Available",
            || install::apiservice_available(client),
        )
        .await?;
        for manifest in [
            "admin-clusterrole-aggregation.yaml",
            "cluster-proxy-admin-rbac.yaml",
        ] {
            install::apply_module_manifest(client, &self.binaries.module_dir, manifest).await?;
        }
        phases.done("register karmada-aggregated-apiserver and karmada-webhook");

        components::start_scheduler(&self.components, &paths, &ports)?;
        components::start_controller_manager(&self.components, &paths, &ports, options)?;
        for (component, port) in [
            ("karmada-scheduler", ports.scheduler_health),
            (
                "karmada-controller-manager",
                ports.controller_manager_health,
            ),
        ] {
            self.wait(
                deadline,
                &format!("{component} to be healthy"),
                || async move {
                    components::http_ok(port, "/healthz")
                        .then_some(())
                        .ok_or_else(|| "its /healthz does not answer 200 yet".to_owned())
                },
            )
            .await?;
        }
        phases.done("start karmada-scheduler and karmada-controller-manager");
        Ok(())
    }

    /// Polls `check` until it returns `Ok`, a process dies (error with every log), or the
    /// deadline passes (error with the last reason and every log).
    async fn wait<F, Fut>(&self, deadline: Instant, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), String>>,
    {
        loop {
            self.check_health()?;
            let last = match check().await {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() > deadline {
                return Err(Error::Karmada {
                    what: format!("waiting for {what}"),
                    detail: format!("not done in time; last check: {last}"),
                    logs: String::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn join(&self, client: &Client, name: &str) -> Result<()> {
        let (member_yaml, server_url, ca_pem) = {
            let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let plane = members.get(name).ok_or_else(|| self.unknown_member(name))?;
            (
                plane.kubeconfig_yaml(crate::ADMIN_USER)?,
                plane.server_url().to_owned(),
                plane.ca_pem().to_vec(),
            )
        };
        let member_client = client_from_yaml(&member_yaml).await?;
        member::join(client, &member_client, name, &server_url, &ca_pem).await
    }

    async fn wait_cluster_ready(
        &self,
        client: &Client,
        name: &str,
        deadline: Instant,
    ) -> Result<()> {
        let clusters: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_api_resource());
        self.wait(deadline, &format!("Cluster {name} to be Ready"), || async {
            match clusters.get_opt(name).await {
                Ok(Some(cluster)) => match member::ready_condition(&cluster) {
                    Some((status, _)) if status == "True" => Ok(()),
                    Some((status, reason)) => Err(format!("Ready={status} ({reason})")),
                    None => Err("no Ready condition yet".to_owned()),
                },
                Ok(None) => Err("the Cluster does not exist".to_owned()),
                Err(e) => Err(format!("reading the Cluster: {e}")),
            }
        })
        .await?;
        // Karmada's cluster proxy impersonates the caller on the member with RBAC that
        // karmada-controller-manager (unified-auth) propagates after the Cluster turns Ready, for
        // the users Karmada grants `clusters/proxy` ([`KARMADA_ADMIN`]); until it lands the proxy
        // answers 403. `kubectl get --raw .../proxy/...` must work once the environment is up.
        let client = &self.karmada_client().await?;
        let path = format!(
            "/apis/cluster.karmada.io/v1alpha1/clusters/{name}/proxy/api/v1/namespaces/kube-system"
        );
        self.wait(
            deadline,
            &format!("Karmada's proxy to reach {name}"),
            || async {
                let request = http::Request::get(&path)
                    .body(Vec::new())
                    .expect("static request");
                client
                    .request_text(request)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
        .await
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

    /// Resident memory of every process.
    pub fn memory(&self) -> Vec<ProcessMemory> {
        let mut out = Vec::new();
        let plane_memory = |prefix: &str, plane: &ControlPlane, out: &mut Vec<ProcessMemory>| {
            for (server, pid) in ["etcd", "kube-apiserver"].iter().zip(plane.pids()) {
                out.push(ProcessMemory {
                    name: format!("{prefix}/{server}"),
                    pid,
                    rss_kib: process::rss_kib(pid),
                });
            }
        };
        plane_memory(KARMADA_APISERVER, &self.karmada, &mut out);
        for server in self.components.servers() {
            out.push(ProcessMemory {
                name: server.name.to_owned(),
                pid: server.pid,
                rss_kib: process::rss_kib(server.pid),
            });
        }
        for (name, plane) in self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            plane_memory(name, plane, &mut out);
        }
        out
    }

    /// `Err` (with every process's log tail) if any process exited on its own.
    pub fn check_health(&self) -> Result<()> {
        let failed = self
            .karmada
            .check_health()
            .and_then(|()| self.components.check())
            .and_then(|()| {
                self.members
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .try_for_each(ControlPlane::check_health)
            });
        failed.map_err(|e| self.with_logs(e))
    }

    /// The last `lines` lines of every process's log, each under a header naming the file.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut files: Vec<PathBuf> = self
            .karmada
            .log_tails(0)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        files.extend(self.components.servers().iter().map(|s| s.log.clone()));
        for plane in self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            files.extend(plane.log_tails(0).into_iter().map(|(path, _)| path));
        }
        let mut out = String::new();
        for file in files {
            let _ = writeln!(
                out,
                "--- last lines of {} ---\n{}",
                file.display(),
                process::log_tail(&file, lines)
            );
        }
        out
    }

    /// `error`, with every process's log tail attached (once).
    fn with_logs(&self, error: Error) -> Error {
        let logs = self.log_tails(25);
        match error {
            Error::Karmada { what, detail, .. } => Error::Karmada { what, detail, logs },
            other => Error::Karmada {
                what: "a step failed".into(),
                detail: other.to_string(),
                logs,
            },
        }
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

/// The certificate authorities and files of the Karmada mode.
struct Pki {
    karmada_ca: CertificateAuthority,
    karmada_ca_file: PathBuf,
    karmada_ca_key_file: PathBuf,
    front_proxy_ca_file: PathBuf,
    front_proxy_client: (PathBuf, PathBuf),
    aggregated_apiserver: (PathBuf, PathBuf),
    /// karmada-webhook reads `tls.crt` and `tls.key` from this directory.
    webhook_cert_dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Result<Self> {
        let pki = dir.join("pki");
        let karmada_ca = CertificateAuthority::new("karmada")?;
        let (karmada_ca_file, karmada_ca_key_file) = karmada_ca.write(&pki, "ca")?;
        let front_proxy_ca = CertificateAuthority::new("front-proxy-ca")?;
        let (front_proxy_ca_file, _) = front_proxy_ca.write(&pki, "front-proxy-ca")?;
        let front_proxy_client = front_proxy_ca
            .client("front-proxy-client", &[])?
            .write(&pki, "front-proxy-client")?;
        let aggregated_apiserver = karmada_ca
            .serving(
                "system:karmada:karmada-aggregated-apiserver",
                &[
                    "karmada-aggregated-apiserver.karmada-system.svc",
                    "karmada-aggregated-apiserver.karmada-system.svc.cluster.local",
                    "localhost",
                    "127.0.0.1",
                ],
            )?
            .write(&pki, "karmada-aggregated-apiserver")?;
        let webhook_cert_dir = pki.join("karmada-webhook");
        karmada_ca
            .serving(
                "system:karmada:karmada-webhook",
                &[
                    "karmada-webhook.karmada-system.svc",
                    "karmada-webhook.karmada-system.svc.cluster.local",
                    "localhost",
                    "127.0.0.1",
                ],
            )?
            .write(&webhook_cert_dir, "tls")?;
        Ok(Self {
            karmada_ca,
            karmada_ca_file,
            karmada_ca_key_file,
            front_proxy_ca_file,
            front_proxy_client,
            aggregated_apiserver,
            webhook_cert_dir,
        })
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
