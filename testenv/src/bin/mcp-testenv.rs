//! `mcp-testenv up | down | status`: a local Karmada-shaped control plane for people.
//!
//! `up` starts a detached `mcp-testenv serve` process that owns etcd and kube-apiserver (they
//! die with it), installs the project's CRDs, writes a kubeconfig and prints its path.
//! `down` stops it and removes its files; it is idempotent.

// `unsafe` is for the FFI boundary only, and every block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use mcp_testenv::{ControlPlane, ControlPlaneOptions, install_crds, locate_binaries, log_tail};

#[derive(Parser)]
#[command(
    version,
    about = "Local Karmada-shaped control plane (real etcd + kube-apiserver)"
)]
struct Cli {
    /// Directory for the running control plane's state (pid, logs, data).
    #[arg(long, env = "MCP_TESTENV_STATE_DIR", global = true, default_value_os_t = default_state_dir())]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the control plane in the background and print the admin kubeconfig path.
    Up {
        /// Where to write the admin kubeconfig (default: <state-dir>/kubeconfig).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Seconds to wait for the control plane to become ready.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Stop the control plane and remove its files (does nothing if it is not running).
    Down,
    /// Say whether the control plane is running; exit code 3 if it is not.
    Status,
    /// Run the control plane in the foreground until SIGTERM or SIGINT (what `up` starts).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        kubeconfig: PathBuf,
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
}

fn default_state_dir() -> PathBuf {
    let state_home = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
            PathBuf::from(home).join(".local/state")
        });
    state_home.join("multicluster-provider/testenv")
}

/// Files in the state directory.
struct State {
    dir: PathBuf,
}

impl State {
    fn pid_file(&self) -> PathBuf {
        self.dir.join("serve.pid")
    }
    fn ready_file(&self) -> PathBuf {
        self.dir.join("ready")
    }
    fn log_file(&self) -> PathBuf {
        self.dir.join("serve.log")
    }
    fn default_kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    /// Pid of a live `serve` process, if any.
    fn running_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        let ours = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| cmdline.contains("mcp-testenv") && cmdline.contains("serve"));
        (!zombie && ours).then_some(pid)
    }
    /// The kubeconfig path recorded by the running `serve`.
    fn ready_kubeconfig(&self) -> Option<PathBuf> {
        std::fs::read_to_string(self.ready_file())
            .ok()
            .map(|s| PathBuf::from(s.trim()))
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mcp_testenv=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let state = State {
        dir: cli.state_dir.clone(),
    };
    let result = match cli.command {
        Cmd::Up {
            kubeconfig,
            timeout,
        } => up(&state, kubeconfig, Duration::from_secs(timeout)),
        Cmd::Down => down(&state),
        Cmd::Status => return status(&state),
        Cmd::Serve {
            kubeconfig,
            bin_dir,
        } => serve(&state, &kubeconfig, bin_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mcp-testenv: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn up(state: &State, kubeconfig: Option<PathBuf>, timeout: Duration) -> Result<()> {
    std::fs::create_dir_all(&state.dir)
        .with_context(|| format!("creating {}", state.dir.display()))?;
    if state.running_pid().is_some()
        && let Some(path) = state.ready_kubeconfig()
    {
        eprintln!("mcp-testenv: already running");
        println!("{}", path.display());
        return Ok(());
    }
    if state.running_pid().is_some() {
        bail!(
            "a control plane is starting or stuck in {}; run `mcp-testenv down` first",
            state.dir.display()
        );
    }
    // Build or find the binaries here, in the foreground, so a failure is reported directly.
    let bin_dir = locate_binaries()?;
    let kubeconfig = match kubeconfig {
        Some(path) => std::path::absolute(path)?,
        None => state.default_kubeconfig(),
    };
    let _ = std::fs::remove_file(state.ready_file());
    let log = std::fs::File::create(state.log_file())
        .with_context(|| format!("creating {}", state.log_file().display()))?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--state-dir")
        .arg(&state.dir)
        .arg("serve")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--bin-dir")
        .arg(&bin_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: Ctrl-C in this terminal must not reach it.
        .process_group(0)
        .spawn()
        .context("starting `mcp-testenv serve`")?;
    std::fs::write(state.pid_file(), child.id().to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            let _ = std::fs::remove_file(state.pid_file());
            bail!(
                "the control plane did not start ({status}); last lines of {}:\n{}",
                state.log_file().display(),
                log_tail(&state.log_file(), 40)
            );
        }
        if state.ready_kubeconfig().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = down(state);
            bail!(
                "the control plane was not ready after {timeout:?}; last lines of {}:\n{}",
                state.log_file().display(),
                log_tail(&state.log_file(), 40)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "mcp-testenv: control plane running (pid {}); stop it with `mcp-testenv down`",
        child.id()
    );
    println!("{}", kubeconfig.display());
    Ok(())
}

fn down(state: &State) -> Result<()> {
    let kubeconfig = state.ready_kubeconfig();
    match state.running_pid() {
        None => eprintln!("mcp-testenv: not running"),
        Some(pid) => {
            signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while state.running_pid().is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if state.running_pid().is_some() {
                // etcd and kube-apiserver die with it (PR_SET_PDEATHSIG).
                signal(pid, libc::SIGKILL);
                std::thread::sleep(Duration::from_millis(500));
            }
            eprintln!("mcp-testenv: stopped");
        }
    }
    if let Some(kubeconfig) = kubeconfig {
        let _ = std::fs::remove_file(kubeconfig);
    }
    for file in [state.ready_file(), state.pid_file()] {
        let _ = std::fs::remove_file(file);
    }
    mcp_testenv::sweep_stale_dirs(&state.dir);
    Ok(())
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` was checked to be our `serve`.
    unsafe {
        libc::kill(pid, signal);
    }
}

fn status(state: &State) -> ExitCode {
    match (state.running_pid(), state.ready_kubeconfig()) {
        (Some(pid), Some(kubeconfig)) => {
            println!("running (pid {pid}); kubeconfig: {}", kubeconfig.display());
            ExitCode::SUCCESS
        }
        (Some(pid), None) => {
            println!("starting (pid {pid}); log: {}", state.log_file().display());
            ExitCode::SUCCESS
        }
        (None, _) => {
            println!("not running");
            ExitCode::from(3)
        }
    }
}

fn serve(state: &State, kubeconfig: &Path, bin_dir: Option<PathBuf>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        // Survive the terminal going away.
        let mut hangup = signal(SignalKind::hangup())?;

        let plane = ControlPlane::start(ControlPlaneOptions {
            bin_dir,
            base_dir: Some(state.dir.clone()),
            ..Default::default()
        })
        .await?;
        let crds = install_crds(&plane.admin_client().await?).await?;
        tracing::info!(crds = crds.len(), "CRDs installed");
        if let Some(parent) = kubeconfig.parent() {
            std::fs::create_dir_all(parent)?;
        }
        plane.write_kubeconfig(mcp_testenv::ADMIN_USER, kubeconfig)?;
        plane.kubeconfig_path_for(mcp_testenv::RESTRICTED_USER)?;
        std::fs::write(state.ready_file(), kubeconfig.display().to_string())?;
        tracing::info!(url = plane.server_url(), dir = %plane.dir().display(), "control plane up");

        let mut health = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hangup.recv() => {}
                _ = health.tick() => {
                    if let Err(error) = plane.check_health() {
                        let _ = std::fs::remove_file(state.ready_file());
                        return Err(anyhow::Error::new(error).context("control plane failed"));
                    }
                }
            }
        }
        tracing::info!("stopping");
        drop(plane);
        let _ = std::fs::remove_file(state.ready_file());
        Ok(())
    })
}
