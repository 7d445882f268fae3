//! `mcp-testenv up | down | status`: a local Karmada control plane for people.
//!
//! `up` starts a detached `mcp-testenv serve` process that owns every server (they die with
//! it), writes a kubeconfig and prints its path. Two modes:
//! * light (default): etcd + kube-apiserver with the project's Karmada CRDs;
//! * `--karmada`: Karmada v1.16's own control plane and member clusters (`member1`, `member2`
//!   unless `--members` says otherwise), joined and Ready; the member kubeconfigs are written
//!   beside the Karmada one.
//!
//! `down` stops it and removes its files; it is idempotent.
//!
//! `endpoint-slice` writes, in a member cluster (which has no nodes), the EndpointSlice
//! kube-controller-manager would write for a Service's running pods (`make demo` uses it).
//!
//! The state directory's files are in `state.rs`; the `serve` process in `serve.rs`.

#![forbid(unsafe_code)]

mod serve;
mod state;

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use mcp_testenv::{locate_binaries, locate_karmada_binaries, log_tail};

use serve::serve;
use state::{State, default_state_dir};

#[derive(Parser)]
#[command(
    version,
    about = "Local Karmada control plane: real etcd + kube-apiserver (light mode), or Karmada's own components with member clusters (--karmada)"
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
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Run Karmada's own components and member clusters (the Karmada mode) instead of a
        /// bare API server with the project's CRDs.
        #[arg(long, env = "MCP_TESTENV_KARMADA", value_parser = clap::builder::FalseyValueParser::new())]
        karmada: bool,
        /// With --karmada: the member clusters to start and join.
        #[arg(long, value_delimiter = ',', default_value = "member1,member2")]
        members: Vec<String>,
    },
    /// Stop the control plane and remove its files (does nothing if it is not running).
    Down,
    /// Say whether the control plane is running; exit code 3 if it is not.
    Status,
    /// Write, in a cluster without nodes (a member), the EndpointSlice kube-controller-manager
    /// would write for running pods of a Service at ADDRESS...; writing it again with other
    /// addresses scales it up or down. Prints the slice's name.
    EndpointSlice {
        /// The cluster's kubeconfig (e.g. `<state-dir>/kubeconfigs/member1.config`).
        #[arg(long)]
        kubeconfig: PathBuf,
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// The Service the pods back.
        #[arg(long)]
        service: String,
        /// The pods' node.
        #[arg(long)]
        node: String,
        /// The node's zone (none by default).
        #[arg(long)]
        zone: Option<String>,
        /// The slice's name (default: `<service>-` and a suffix derived from the node, stable).
        #[arg(long)]
        name: Option<String>,
        /// The ready pods' IPv4 addresses.
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Run the control plane in the foreground until SIGTERM or SIGINT (what `up` starts).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        kubeconfig: PathBuf,
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        #[arg(long)]
        karmada: bool,
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
    },
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
            karmada,
            members,
        } => up(
            &state,
            kubeconfig,
            Duration::from_secs(timeout),
            karmada.then_some(members),
        ),
        Cmd::Down => down(&state),
        Cmd::Status => return status(&state),
        Cmd::EndpointSlice {
            kubeconfig,
            namespace,
            service,
            node,
            zone,
            name,
            addresses,
        } => endpoint_slice(
            &kubeconfig,
            &namespace,
            &service,
            (&node, zone.as_deref()),
            name,
            &addresses,
        ),
        Cmd::Serve {
            kubeconfig,
            bin_dir,
            karmada,
            members,
        } => serve(&state, &kubeconfig, bin_dir, karmada.then_some(members)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mcp-testenv: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `mcp-testenv endpoint-slice`: see [`mcp_testenv::endpoints`].
fn endpoint_slice(
    kubeconfig: &std::path::Path,
    namespace: &str,
    service: &str,
    (node, zone): (&str, Option<&str>),
    name: Option<String>,
    addresses: &[String],
) -> Result<()> {
    use mcp_testenv::endpoints::{PodEndpoint, slice_name, write_endpoint_slice};
    let name = name.unwrap_or_else(|| slice_name(service, node));
    let endpoints: Vec<PodEndpoint> = addresses
        .iter()
        .map(|address| {
            let endpoint = PodEndpoint::ready(address, node);
            match zone {
                Some(zone) => endpoint.in_zone(zone),
                None => endpoint,
            }
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let yaml = std::fs::read_to_string(kubeconfig)
            .with_context(|| format!("reading {}", kubeconfig.display()))?;
        let config = kube::config::Kubeconfig::from_yaml(&yaml)?;
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
        let client = kube::Client::try_from(config)?;
        write_endpoint_slice(&client, namespace, service, &name, &endpoints).await?;
        anyhow::Ok(())
    })?;
    println!("{name}");
    Ok(())
}

/// `members` is `Some` in the Karmada mode.
fn up(
    state: &State,
    kubeconfig: Option<PathBuf>,
    timeout: Duration,
    members: Option<Vec<String>>,
) -> Result<()> {
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
    if members.is_some() {
        locate_karmada_binaries()?;
    }
    let kubeconfig = match kubeconfig {
        Some(path) => std::path::absolute(path)?,
        None => state.default_kubeconfig(),
    };
    let _ = std::fs::remove_file(state.ready_file());
    let log = std::fs::File::create(state.log_file())
        .with_context(|| format!("creating {}", state.log_file().display()))?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--state-dir")
        .arg(&state.dir)
        .arg("serve")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--bin-dir")
        .arg(&bin_dir);
    if let Some(members) = &members {
        command
            .arg("--karmada")
            .arg(format!("--members={}", members.join(",")));
    }
    let mut child = command
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
    if members.is_some() {
        if let Ok(report) = std::fs::read_to_string(state.report_file()) {
            eprint!("{report}");
        }
        eprintln!(
            "mcp-testenv: Karmada running (pid {}); member kubeconfigs in {}; stop it with `mcp-testenv down`",
            child.id(),
            state.kubeconfig_dir().display()
        );
    } else {
        eprintln!(
            "mcp-testenv: control plane running (pid {}); stop it with `mcp-testenv down`",
            child.id()
        );
    }
    println!("{}", kubeconfig.display());
    Ok(())
}

fn down(state: &State) -> Result<()> {
    let kubeconfig = state.ready_kubeconfig();
    match state.running_pid() {
        None => eprintln!("mcp-testenv: not running"),
        Some(pid) => {
            mcp_testenv::send_signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while state.running_pid().is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if state.running_pid().is_some() {
                // etcd and kube-apiserver die with it (PR_SET_PDEATHSIG).
                mcp_testenv::send_signal(pid, libc::SIGKILL);
                std::thread::sleep(Duration::from_millis(500));
            }
            eprintln!("mcp-testenv: stopped");
        }
    }
    if let Some(kubeconfig) = kubeconfig {
        let _ = std::fs::remove_file(kubeconfig);
    }
    for file in [
        state.ready_file(),
        state.pid_file(),
        state.report_file(),
        state.processes_file(),
    ] {
        let _ = std::fs::remove_file(file);
    }
    let _ = std::fs::remove_dir_all(state.kubeconfig_dir());
    mcp_testenv::sweep_stale_dirs(&state.dir);
    Ok(())
}

fn status(state: &State) -> ExitCode {
    match (state.running_pid(), state.ready_kubeconfig()) {
        (Some(pid), Some(kubeconfig)) => {
            println!("running (pid {pid}); kubeconfig: {}", kubeconfig.display());
            if let Ok(entries) = std::fs::read_dir(state.kubeconfig_dir()) {
                let mut members: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                members.sort();
                for member in members {
                    println!("  kubeconfig {}", member.display());
                }
            }
            if let Ok(processes) = std::fs::read_to_string(state.processes_file()) {
                let mut total = 0;
                println!("  {:<44} {:>8} {:>10}", "process", "pid", "RSS MiB");
                for (name, pid) in processes
                    .lines()
                    .filter_map(|l| l.split_once(' '))
                    .filter_map(|(name, pid)| Some((name, pid.parse::<u32>().ok()?)))
                {
                    let rss = mcp_testenv::rss_kib(pid);
                    total += rss;
                    println!("  {name:<44} {pid:>8} {:>10.1}", rss as f64 / 1024.0);
                }
                println!(
                    "  {:<44} {:>8} {:>10.1}",
                    "total",
                    "",
                    total as f64 / 1024.0
                );
            }
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
