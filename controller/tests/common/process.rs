//! The controller under test as a child process ([`ControllerProcess`]): its options, start on
//! free ports (restarted on new ones if another process took one), readiness, logs and how it
//! ends; its health and metrics ports answer over plain HTTP ([`http_get`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use mcp_testenv::Supervised;

use super::fake_dir;

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

    /// Runs the controller with this kubeconfig (e.g. a restricted user's) instead of the admin's.
    pub fn with_kubeconfig(mut self, path: &Path) -> Self {
        self.kubeconfig = Some(path.to_owned());
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
