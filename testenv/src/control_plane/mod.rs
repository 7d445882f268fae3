//! Starting and stopping one etcd + kube-apiserver pair on loopback.
//!
//! Its token users, their kubeconfigs and clients are in `users.rs`; where its directory lives,
//! and the sweep of directories left by dead processes, in `dirs.rs`.

mod dirs;
mod users;

pub use dirs::{TMPDIR_ENV, default_base_dir, sweep_stale_dirs};
pub use users::User;

use dirs::DIR_PREFIX;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use crate::binaries::{check_dir, locate_binaries};
use crate::error::{Error, Result};
use crate::keys;
use crate::process::{self, ServerProcess};

/// User in `system:masters`: may do anything.
pub const ADMIN_USER: &str = "mcp-admin";
/// User with no groups beyond `system:authenticated`: may do only what RBAC grants it.
pub const RESTRICTED_USER: &str = "mcp-restricted";
/// Default cluster and context name in written kubeconfigs.
const CLUSTER_NAME: &str = "mcp-testenv";
/// The Service IP range: as large as kubeadm's default, so thousands of Services fit.
pub const SERVICE_CLUSTER_IP_RANGE: &str = "10.96.0.0/12";
/// How often a start is retried when a freshly picked port was taken meanwhile.
pub(crate) const PORT_CLASH_RETRIES: usize = 3;

/// How to start a [`ControlPlane`].
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Cluster and context name in the kubeconfigs it writes (default `mcp-testenv`).
    pub name: String,
    /// Directory with `etcd` and `kube-apiserver`; `None` = [`locate_binaries`].
    pub bin_dir: Option<PathBuf>,
    /// Where the control plane's own directory is created; `None` = `$MCP_TESTENV_TMPDIR` or the
    /// system temp directory. Stale directories of dead owners in it are removed on start.
    pub base_dir: Option<PathBuf>,
    /// How long to wait for `/readyz` and the `default` namespace.
    pub start_timeout: Duration,
    /// More token users: (name, groups). Admin and restricted users always exist.
    pub extra_users: Vec<(String, Vec<String>)>,
    /// Extra kube-apiserver flags, appended last (so they win).
    pub extra_apiserver_args: Vec<String>,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            name: CLUSTER_NAME.into(),
            bin_dir: None,
            base_dir: None,
            start_timeout: Duration::from_secs(90),
            extra_users: Vec::new(),
            extra_apiserver_args: Vec::new(),
        }
    }
}

/// A running etcd + kube-apiserver pair with RBAC and token authentication.
///
/// Dropping it kills both servers and removes its directory. If the process ends without
/// dropping it (a static, a panic, SIGKILL), the servers die with the process
/// (`PR_SET_PDEATHSIG`), a normal exit still removes the directory, and otherwise the next
/// start in the same base directory removes it.
#[derive(Debug)]
pub struct ControlPlane {
    name: String,
    group: u64,
    dir: PathBuf,
    server_url: String,
    etcd_url: String,
    ca_pem: Vec<u8>,
    users: Vec<User>,
    etcd: Arc<ServerProcess>,
    apiserver: Arc<ServerProcess>,
    kubeconfig: PathBuf,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver, waits until the API is ready and writes an admin
    /// kubeconfig (see [`ControlPlane::kubeconfig_path`]).
    pub async fn start(options: ControlPlaneOptions) -> Result<Self> {
        let bin_dir = match options.bin_dir.clone() {
            Some(dir) => {
                check_dir(&dir, "ControlPlaneOptions::bin_dir")?;
                dir
            }
            None => tokio::task::spawn_blocking(locate_binaries)
                .await
                .map_err(|e| Error::io("locating binaries")(std::io::Error::other(e)))??,
        };
        let base = options.base_dir.clone().unwrap_or_else(default_base_dir);
        std::fs::create_dir_all(&base)
            .map_err(Error::io(format!("creating {}", base.display())))?;
        let swept = sweep_stale_dirs(&base);
        if swept > 0 {
            tracing::info!(swept, base = %base.display(), "removed stale control-plane directories");
        }
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            match Self::start_once(&bin_dir, &base, &options).await {
                Err(error @ Error::PortInUse { .. }) if attempt < PORT_CLASH_RETRIES => {
                    tracing::warn!(attempt, "port clash, retrying with new ports: {error}");
                    attempt += 1;
                }
                Ok(plane) => {
                    tracing::info!(
                        url = %plane.server_url,
                        dir = %plane.dir.display(),
                        elapsed = ?started.elapsed(),
                        "control plane ready"
                    );
                    return Ok(plane);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn start_once(
        bin_dir: &Path,
        base: &Path,
        options: &ControlPlaneOptions,
    ) -> Result<Self> {
        let group = process::next_group();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(base)
            .map_err(Error::io(format!(
                "creating a directory in {}",
                base.display()
            )))?
            .keep();
        let write = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, contents)
                .map_err(Error::io(format!("writing {}", path.display())))
                .map(|()| path)
        };

        let users = users::with_tokens(&options.extra_users);
        let tokens_file = write("tokens.csv", users::token_file(&users).as_bytes())?;
        let (sa_key, sa_pub) = keys::service_account_key_pair();
        let sa_key_file = write("sa.key", sa_key.as_bytes())?;
        let sa_pub_file = write("sa.pub", sa_pub.as_bytes())?;

        let [client_port, peer_port, secure_port] = free_ports()?;
        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");

        let mut etcd = Command::new(bin_dir.join("etcd"));
        etcd.arg("--name=mcp-testenv")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=mcp-testenv={peer_url}"))
            .arg("--unsafe-no-fsync=true")
            .current_dir(&dir);
        let etcd = match process::spawn(group, "etcd", etcd, &dir.join("etcd.log")) {
            Ok(etcd) => etcd,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };

        let mut apiserver = Command::new(bin_dir.join("kube-apiserver"));
        apiserver
            .arg(format!("--etcd-servers={etcd_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={secure_port}"))
            .arg(format!("--cert-dir={}", dir.join("pki").display()))
            .arg("--authorization-mode=RBAC")
            .arg(format!("--token-auth-file={}", tokens_file.display()))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!(
                "--service-account-key-file={}",
                sa_pub_file.display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                sa_key_file.display()
            ))
            .arg(format!(
                "--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"
            ))
            .arg("--allow-privileged=true")
            // No controller-manager runs, so nothing would create the service-account tokens
            // this admission plugin insists on for pods.
            .arg("--disable-admission-plugins=ServiceAccount")
            .args(&options.extra_apiserver_args)
            .current_dir(&dir);
        let apiserver = match process::spawn(
            group,
            "kube-apiserver",
            apiserver,
            &dir.join("kube-apiserver.log"),
        ) {
            Ok(apiserver) => apiserver,
            Err(error) => {
                process::stop_group(group);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        process::register(
            group,
            vec![etcd.clone(), apiserver.clone()],
            Some(dir.clone()),
        );

        let mut plane = ControlPlane {
            name: options.name.clone(),
            group,
            kubeconfig: dir.join("kubeconfig"),
            dir,
            server_url: format!("https://127.0.0.1:{secure_port}"),
            etcd_url,
            ca_pem: Vec::new(),
            users,
            etcd,
            apiserver,
        };
        // On error `plane` is dropped here, which stops both servers and removes the directory;
        // the error already carries the log tail.
        plane.wait_ready(secure_port, options.start_timeout).await?;
        Ok(plane)
    }

    async fn wait_ready(&mut self, secure_port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let not_ready = |what: &str, last_error: String, plane: &ControlPlane| Error::NotReady {
            what: what.into(),
            timeout,
            last_error,
            log: plane.apiserver.log.clone(),
            log_tail: process::log_tail(&plane.apiserver.log, 40),
        };

        // kube-apiserver writes its serving certificate before it opens the port. Both are
        // awaited: something else may hold the port for a moment (a port picked by another
        // plane starting at the same time), and then kube-apiserver exits with "address already
        // in use", which `check_health` turns into a retry with new ports.
        let cert = self.dir.join("pki/apiserver.crt");
        loop {
            self.check_health()?;
            if cert.exists() && std::net::TcpStream::connect(("127.0.0.1", secure_port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(not_ready(
                    "kube-apiserver's port",
                    "connection refused".into(),
                    self,
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.ca_pem =
            std::fs::read(&cert).map_err(Error::io(format!("reading {}", cert.display())))?;
        self.write_kubeconfig(ADMIN_USER, &self.kubeconfig.clone())?;

        let client = self.admin_client().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut last_error;
        loop {
            self.check_health()?;
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("static request");
            match client.request_text(request).await {
                Ok(_) => match namespaces.get_opt("default").await {
                    Ok(Some(_)) => return Ok(()),
                    Ok(None) => last_error = "namespace default does not exist yet".into(),
                    Err(e) => last_error = format!("reading namespace default: {e}"),
                },
                Err(e) => last_error = format!("/readyz: {e}"),
            }
            if Instant::now() > deadline {
                return Err(not_ready("kube-apiserver", last_error, self));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `Err` (with the server's log tail) if etcd or kube-apiserver exited on its own.
    pub fn check_health(&self) -> Result<()> {
        self.etcd.check()?;
        self.apiserver.check()
    }

    /// `https://127.0.0.1:<port>` of the API server.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// `http://127.0.0.1:<port>` of etcd.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The control plane's own directory (data, logs, keys, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Log file of `etcd` or `kube-apiserver`.
    pub fn log_path(&self, server: &str) -> PathBuf {
        self.dir.join(format!("{server}.log"))
    }

    /// PEM of the CA that signed the API server's serving certificate.
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// The name it was started with ([`ControlPlaneOptions::name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service-account signing key (PKCS#8 PEM), for a controller-manager's token signer.
    pub fn service_account_key_path(&self) -> PathBuf {
        self.dir.join("sa.key")
    }

    /// Stops etcd and kube-apiserver now (SIGKILL), keeping the directory until dropped: what a
    /// crashed or powered-off cluster looks like to its clients.
    pub fn kill(&self) {
        process::stop_group(self.group);
    }

    /// Log files of etcd and kube-apiserver with their last lines, for error reports.
    pub fn log_tails(&self, lines: usize) -> Vec<(PathBuf, String)> {
        [&self.etcd, &self.apiserver]
            .iter()
            .map(|s| (s.log.clone(), process::log_tail(&s.log, lines)))
            .collect()
    }

    /// Pids of etcd and kube-apiserver.
    pub fn pids(&self) -> [u32; 2] {
        [self.etcd.pid, self.apiserver.pid]
    }

    /// Stops both servers and removes the directory (same as dropping).
    pub fn stop(self) {}
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        process::stop_group(self.group);
        process::unregister(self.group);
        if let Err(e) = process::remove_dir(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), "could not remove control-plane directory: {e}");
        }
    }
}

/// Three distinct free loopback ports. They are free when picked; a race with another process
/// shows up as a port clash, which [`ControlPlane::start`] retries.
fn free_ports() -> Result<[u16; 3]> {
    let bind = || {
        std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(Error::io("picking a free loopback port"))
    };
    let listeners = [bind()?, bind()?, bind()?];
    let mut ports = [0u16; 3];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(Error::io("picking a free loopback port"))?
            .port();
    }
    Ok(ports)
}
