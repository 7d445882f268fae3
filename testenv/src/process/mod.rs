//! Child servers that cannot outlive the process that started them.
//!
//! Every server is spawned by one dedicated, never-ending "supervisor" thread, with
//! `PR_SET_PDEATHSIG = SIGKILL`. Linux delivers that signal when the *thread* that forked the
//! child exits, so spawning from short-lived test threads would kill servers early; spawning from
//! a thread that lives as long as the process means the servers die exactly when the process
//! does, also when it panics, aborts or is SIGKILLed.
//!
//! The same thread polls the children. When one exits without being asked to, it records the
//! exit and kills the other servers of the same control plane, so clients get "connection
//! refused" at once (instead of an API server hanging on a dead etcd) and the health check
//! reports the server that really failed, with its log.
//!
//! The servers are grouped (`group.rs`): a [`ProcessGroup`] is the servers that live and die
//! together, and [`Supervised`] one process a test starts. Every `unsafe` block of the library
//! is in this file (the supervisor's `pre_exec`, the exit hook, `kill`).

mod group;

pub(crate) use group::ProcessGroup;
pub use group::Supervised;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};

/// Shared view of one server process.
#[derive(Debug)]
pub struct ServerProcess {
    pub(crate) name: &'static str,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
    state: Mutex<ProcState>,
}

#[derive(Debug, Default)]
struct ProcState {
    exit: Option<ExitStatus>,
    /// Set when we asked it to stop (teardown, or because a sibling server failed).
    stop_requested: bool,
}

impl ServerProcess {
    /// `Err` if the server exited without being asked to.
    pub(crate) fn check(&self) -> Result<()> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.exit {
            Some(status) if !state.stop_requested => Err(self.exit_error(status)),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exit
            .is_none()
    }

    fn exit_error(&self, status: ExitStatus) -> Error {
        let log_tail = log_tail(&self.log, 40);
        if log_tail.contains("address already in use") {
            Error::PortInUse {
                server: self.name,
                log: self.log.clone(),
                log_tail,
            }
        } else {
            Error::ServerExited {
                server: self.name,
                status: status.to_string(),
                log: self.log.clone(),
                log_tail,
            }
        }
    }
}

/// The last `lines` lines of a log file (at most 64 KiB are read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return format!("(log {} is empty or missing)", path.display());
    }
    all[all.len().saturating_sub(lines)..].join("\n")
}

enum Request {
    Spawn {
        group: u64,
        name: &'static str,
        command: Box<Command>,
        log: PathBuf,
        reply: mpsc::Sender<Result<Arc<ServerProcess>>>,
    },
    StopGroup {
        group: u64,
        reply: mpsc::Sender<()>,
    },
}

struct SupervisedChild {
    group: u64,
    child: Child,
    process: Arc<ServerProcess>,
}

fn supervisor() -> &'static Mutex<mpsc::Sender<Request>> {
    static SUPERVISOR: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    SUPERVISOR.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("mcp-testenv-supervisor".into())
            .spawn(move || supervise(rx))
            .expect("spawning the mcp-testenv supervisor thread");
        Mutex::new(tx)
    })
}

fn send(request: Request) {
    let tx = supervisor().lock().unwrap_or_else(|e| e.into_inner());
    // The supervisor thread never ends, so the receiver lives as long as the process.
    let _ = tx.send(request);
}

/// Starts `command` under the supervisor thread, stdout and stderr appended to `log`.
pub(crate) fn spawn(
    group: u64,
    name: &'static str,
    command: Command,
    log: &Path,
) -> Result<Arc<ServerProcess>> {
    let (reply, answer) = mpsc::channel();
    send(Request::Spawn {
        group,
        name,
        command: Box::new(command),
        log: log.to_path_buf(),
        reply,
    });
    answer.recv().map_err(|_| {
        Error::io(format!("starting {name}"))(std::io::Error::other("supervisor thread gone"))
    })?
}

/// Kills every server of `group` (SIGKILL) and waits until they are gone.
pub(crate) fn stop_group(group: u64) {
    let (reply, answer) = mpsc::channel();
    send(Request::StopGroup { group, reply });
    let _ = answer.recv();
}

fn supervise(requests: mpsc::Receiver<Request>) {
    let mut children: HashMap<u32, SupervisedChild> = HashMap::new();
    loop {
        match requests.recv_timeout(Duration::from_millis(100)) {
            Ok(Request::Spawn {
                group,
                name,
                command,
                log,
                reply,
            }) => {
                let result = start(name, *command, &log).map(|child| {
                    let process = Arc::new(ServerProcess {
                        name,
                        pid: child.id(),
                        log,
                        state: Mutex::new(ProcState::default()),
                    });
                    children.insert(
                        child.id(),
                        SupervisedChild {
                            group,
                            child,
                            process: process.clone(),
                        },
                    );
                    process
                });
                let _ = reply.send(result);
            }
            Ok(Request::StopGroup { group, reply }) => {
                kill_group(&mut children, group);
                let _ = reply.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Cannot happen: the sender lives in a static.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        poll(&mut children);
    }
}

fn start(name: &'static str, mut command: Command, log: &Path) -> Result<Child> {
    let open_log = || {
        File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(Error::io(format!("opening {}", log.display())))
    };
    command
        .stdin(Stdio::null())
        .stdout(open_log()?)
        .stderr(open_log()?);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec; it only calls the
    // async-signal-safe functions prctl(2) and getppid(2) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let child = command
        .spawn()
        .map_err(Error::io(format!("starting {name} ({program})")))?;
    tracing::debug!(server = name, pid = child.id(), "started");
    Ok(child)
}

fn poll(children: &mut HashMap<u32, SupervisedChild>) {
    let mut failed_groups = Vec::new();
    children.retain(|_, supervised| match supervised.child.try_wait() {
        Ok(Some(status)) => {
            let mut state = supervised
                .process
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            state.exit = Some(status);
            if !state.stop_requested {
                tracing::warn!(
                    server = supervised.process.name,
                    %status,
                    log = %supervised.process.log.display(),
                    "server exited unexpectedly"
                );
                failed_groups.push(supervised.group);
            }
            false
        }
        Ok(None) => true,
        Err(_) => false,
    });
    for group in failed_groups {
        kill_group(children, group);
    }
}

fn kill_group(children: &mut HashMap<u32, SupervisedChild>, group: u64) {
    let pids: Vec<u32> = children
        .iter()
        .filter(|(_, s)| s.group == group)
        .map(|(pid, _)| *pid)
        .collect();
    for pid in pids {
        if let Some(mut supervised) = children.remove(&pid) {
            supervised
                .process
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stop_requested = true;
            let _ = supervised.child.kill();
            let status = supervised.child.wait().ok();
            supervised
                .process
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .exit = status;
            tracing::debug!(server = supervised.process.name, pid, "stopped");
        }
    }
}

/// Process groups still alive, for the exit hook: (group, servers, directory to remove).
type Registry = Vec<(u64, Vec<Arc<ServerProcess>>, Option<PathBuf>)>;

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // SAFETY: atexit(3) only stores the function pointer; `cleanup_at_exit` is an
        // `extern "C" fn()` that never unwinds (it catches panics).
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        Mutex::new(Vec::new())
    })
}

/// Remembers a running control plane so that a normal process exit (e.g. the end of a test
/// binary, where statics are never dropped) still kills its servers and removes its directory.
pub(crate) fn register(group: u64, servers: Vec<Arc<ServerProcess>>, dir: Option<PathBuf>) {
    let mut entries = registry().lock().unwrap_or_else(|e| e.into_inner());
    match entries.iter_mut().find(|(g, _, _)| *g == group) {
        Some((_, known, known_dir)) => {
            known.extend(servers);
            if dir.is_some() {
                *known_dir = dir;
            }
        }
        None => entries.push((group, servers, dir)),
    }
}

/// Makes the exit hook remove `dir` after stopping the servers of `group`.
pub(crate) fn register_dir(group: u64, dir: PathBuf) {
    register(group, Vec::new(), Some(dir));
}

pub(crate) fn unregister(group: u64) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(g, _, _)| *g != group);
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let Ok(mut entries) = registry().try_lock() else {
            return;
        };
        for (_, servers, dir) in entries.drain(..) {
            for server in &servers {
                if server.is_running() {
                    // SAFETY: plain kill(2) on a pid we spawned and that has not been reaped
                    // (reaping happens only on the supervisor thread, which records it).
                    unsafe {
                        libc::kill(server.pid as libc::pid_t, libc::SIGKILL);
                    }
                }
            }
            // Reap the killed servers (so no zombie outlives us even briefly) and give them a
            // moment to close their files before the directory is removed.
            let mut pending: Vec<u32> = servers.iter().map(|s| s.pid).collect();
            for _ in 0..100 {
                pending.retain(|&pid| {
                    let mut status = 0;
                    // SAFETY: waitpid(2) on our own child with a valid out-pointer; -1 (ECHILD)
                    // means the supervisor thread already reaped it.
                    let reaped =
                        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
                    reaped == 0
                });
                if pending.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if let Some(dir) = dir {
                let _ = remove_dir(&dir);
            }
        }
    });
}

/// A fresh process-group id: servers of one group are stopped together.
pub(crate) fn next_group() -> u64 {
    static GROUPS: AtomicU64 = AtomicU64::new(1);
    GROUPS.fetch_add(1, Ordering::Relaxed)
}

/// Environment variable: when set (non-empty), control-plane directories (logs, data,
/// certificates) are kept at teardown, for a post-mortem. The next start sweeps them as usual
/// once their owner process is gone.
pub const KEEP_DIRS_ENV: &str = "MCP_TESTENV_KEEP_DIRS";

/// Removes a control-plane directory at teardown, unless [`KEEP_DIRS_ENV`] is set.
pub(crate) fn remove_dir(dir: &Path) -> std::io::Result<()> {
    if std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "mcp-testenv: keeping {} ({KEEP_DIRS_ENV} is set)",
            dir.display()
        );
        return Ok(());
    }
    std::fs::remove_dir_all(dir)
}

/// Resident set size of a process in KiB (`VmRSS`), 0 if it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Whether a process with this pid exists (and is not a zombie).
pub(crate) fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 (after the parenthesised command name) is the state; Z = zombie.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Sends `signal` (e.g. `libc::SIGTERM`) to the process `pid`. The caller knows the pid is the
/// process it means (its child not yet reaped, or a process whose identity it checked); errors
/// are ignored, as the process may just have exited.
pub fn send_signal(pid: u32, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}
