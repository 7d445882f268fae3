//! The state directory of `mcp-testenv up`: the `serve` process's pid, its log, the
//! kubeconfigs it wrote and what it started.

use std::path::PathBuf;

pub(crate) fn default_state_dir() -> PathBuf {
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
pub(crate) struct State {
    pub(crate) dir: PathBuf,
}

impl State {
    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join("serve.pid")
    }
    pub(crate) fn ready_file(&self) -> PathBuf {
        self.dir.join("ready")
    }
    pub(crate) fn log_file(&self) -> PathBuf {
        self.dir.join("serve.log")
    }
    pub(crate) fn default_kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    /// What `serve` started, for `status`: a report and one `name pid` line per process.
    pub(crate) fn report_file(&self) -> PathBuf {
        self.dir.join("startup-report.txt")
    }
    pub(crate) fn processes_file(&self) -> PathBuf {
        self.dir.join("processes")
    }
    /// Member kubeconfigs of the Karmada mode are written here as `<member>.config`.
    pub(crate) fn kubeconfig_dir(&self) -> PathBuf {
        self.dir.join("kubeconfigs")
    }
    /// Pid of a live `serve` process, if any.
    pub(crate) fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file())
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
    pub(crate) fn ready_kubeconfig(&self) -> Option<PathBuf> {
        std::fs::read_to_string(self.ready_file())
            .ok()
            .map(|s| PathBuf::from(s.trim()))
    }
}
