//! What a running [`KarmadaEnv`] reports about its processes: their health, memory and logs.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{KARMADA_APISERVER, KarmadaEnv};
use crate::control_plane::ControlPlane;
use crate::error::{Error, Result};
use crate::process;

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

impl KarmadaEnv {
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
    pub(super) fn with_logs(&self, error: Error) -> Error {
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
}
