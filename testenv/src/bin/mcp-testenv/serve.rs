//! `mcp-testenv serve`: runs the control plane (either mode) in the foreground, records it in
//! the state directory, and stops it on SIGTERM or SIGINT, or when one of its servers fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use mcp_testenv::{ControlPlane, ControlPlaneOptions, KarmadaEnv, KarmadaOptions, install_crds};

use crate::state::State;

/// What `serve` keeps running: one of the two modes.
enum Running {
    Light(ControlPlane),
    Karmada(Box<KarmadaEnv>),
}

impl Running {
    fn check_health(&self) -> mcp_testenv::Result<()> {
        match self {
            Running::Light(plane) => plane.check_health(),
            Running::Karmada(env) => env.check_health(),
        }
    }
}

pub(crate) fn serve(
    state: &State,
    kubeconfig: &Path,
    bin_dir: Option<PathBuf>,
    members: Option<Vec<String>>,
) -> Result<()> {
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

        if let Some(parent) = kubeconfig.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let running = match members {
            None => {
                let plane = ControlPlane::start(ControlPlaneOptions {
                    bin_dir,
                    base_dir: Some(state.dir.clone()),
                    ..Default::default()
                })
                .await?;
                let crds = install_crds(&plane.admin_client().await?).await?;
                tracing::info!(crds = crds.len(), "CRDs installed");
                plane.write_kubeconfig(mcp_testenv::ADMIN_USER, kubeconfig)?;
                plane.kubeconfig_path_for(mcp_testenv::RESTRICTED_USER)?;
                let processes = format!(
                    "etcd {}\nkube-apiserver {}\n",
                    plane.pids()[0],
                    plane.pids()[1]
                );
                std::fs::write(state.processes_file(), processes)?;
                tracing::info!(url = plane.server_url(), dir = %plane.dir().display(), "control plane up");
                Running::Light(plane)
            }
            Some(members) => {
                let env = KarmadaEnv::start(KarmadaOptions {
                    members,
                    bin_dir,
                    base_dir: Some(state.dir.clone()),
                    ..Default::default()
                })
                .await?;
                env.karmada()
                    .write_kubeconfig(mcp_testenv::karmada::KARMADA_ADMIN, kubeconfig)?;
                let _ = std::fs::remove_dir_all(state.kubeconfig_dir());
                env.write_kubeconfigs(&state.kubeconfig_dir())?;
                std::fs::write(state.report_file(), env.startup_report().to_string())?;
                let processes: String = env
                    .memory()
                    .iter()
                    .map(|p| format!("{} {}\n", p.name, p.pid))
                    .collect();
                std::fs::write(state.processes_file(), processes)?;
                tracing::info!(url = env.karmada().server_url(), dir = %env.dir().display(), "Karmada up");
                Running::Karmada(Box::new(env))
            }
        };
        std::fs::write(state.ready_file(), kubeconfig.display().to_string())?;

        let mut health = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hangup.recv() => {}
                _ = health.tick() => {
                    if let Err(error) = running.check_health() {
                        let _ = std::fs::remove_file(state.ready_file());
                        return Err(anyhow::Error::new(error).context("control plane failed"));
                    }
                }
            }
        }
        tracing::info!("stopping");
        drop(running);
        let _ = std::fs::remove_file(state.ready_file());
        Ok(())
    })
}
