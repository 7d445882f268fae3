//! Servers that live and die together: a [`ProcessGroup`] of a control plane or of Karmada's
//! components, and [`Supervised`], the one process a test starts (a controller under test).

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ServerProcess, next_group, register, send_signal, spawn, stop_group, unregister};
use crate::error::Result;

/// Servers started one by one that live and die together: when one exits on its own, the
/// supervisor stops the others, and dropping the group stops them all (also at process exit,
/// and through `PR_SET_PDEATHSIG` when the process dies).
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    group: u64,
    servers: Mutex<Vec<Arc<ServerProcess>>>,
}

impl ProcessGroup {
    pub(crate) fn new() -> Self {
        Self {
            group: next_group(),
            servers: Mutex::new(Vec::new()),
        }
    }

    /// Starts `command` in this group, its output appended to `log`.
    pub(crate) fn spawn(
        &self,
        name: &'static str,
        command: Command,
        log: &Path,
    ) -> Result<Arc<ServerProcess>> {
        let server = spawn(self.group, name, command, log)?;
        register(self.group, vec![server.clone()], None);
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(server.clone());
        Ok(server)
    }

    /// The group's id.
    pub(crate) fn group(&self) -> u64 {
        self.group
    }

    /// The servers started so far.
    pub(crate) fn servers(&self) -> Vec<Arc<ServerProcess>> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Err` (with its log tail) for the first server that exited without being asked to.
    pub(crate) fn check(&self) -> Result<()> {
        self.servers().iter().try_for_each(|s| s.check())
    }

    /// Stops every server of the group (SIGKILL) and waits until they are gone.
    pub(crate) fn stop(&self) {
        stop_group(self.group);
    }

    /// Stops every server and forgets them, so the group starts over (a start retried after a
    /// port clash): their exits are no longer reported by [`ProcessGroup::check`], and their
    /// logs move aside (`<log>.before-restart`), so a later failure is not read as the old one.
    pub(crate) fn reset(&self) {
        stop_group(self.group);
        let servers = std::mem::take(&mut *self.servers.lock().unwrap_or_else(|e| e.into_inner()));
        for server in servers {
            let mut aside = server.log.clone().into_os_string();
            aside.push(".before-restart");
            let _ = std::fs::rename(&server.log, aside);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        stop_group(self.group);
        unregister(self.group);
    }
}

/// A process started for a test (a controller under test, say) that cannot outlive the test
/// process: it is spawned by the supervisor thread with `PR_SET_PDEATHSIG`, killed at a normal
/// exit too, and killed when dropped. Its output goes to a log file.
#[derive(Debug)]
pub struct Supervised {
    group: ProcessGroup,
    server: Arc<ServerProcess>,
}

impl Supervised {
    /// Starts `command`, stdout and stderr appended to `log`.
    pub fn spawn(name: &'static str, command: Command, log: &Path) -> Result<Self> {
        let group = ProcessGroup::new();
        let server = group.spawn(name, command, log)?;
        Ok(Self { group, server })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.server.pid
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.server.log
    }

    /// How it exited, once it has (seen within 100 ms); `None` while it runs.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.server
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exit
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`); its exit is then expected, not a failure.
    pub fn signal(&self, signal: i32) {
        self.server
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stop_requested = true;
        if self.exit_status().is_none() {
            // The supervisor reaps the child only after it has exited, and `exit_status` is
            // `None`, so the pid is still ours.
            send_signal(self.server.pid, signal);
        }
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit; `None` if it did not exit in
    /// time (it is then killed).
    pub async fn terminate(&self, timeout: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
        None
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&self) {
        self.group.stop();
    }
}
