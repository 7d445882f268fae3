//! The controller manager's validated settings: what [`crate::cli`] makes of the flags, and all
//! that the rest of the crate reads. Nothing below `cli` reads a flag, so these types import
//! nothing from the modules that use them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Lease name, as in the Go original.
pub const LEASE_NAME: &str = "multicluster-controller-manager";

/// Validated settings of the controller manager.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--cloud-provider`: a provider name or a library path.
    pub cloud_provider: String,
    /// `--provider-dir`, searched in order before the default directories.
    pub provider_dirs: Vec<PathBuf>,
    /// `--cloud-config`, passed to the provider's factory.
    pub cloud_config: Option<PathBuf>,
    /// `--allow-insecure-provider-permissions`: skip the check of who may write the library.
    pub allow_insecure_provider_permissions: bool,
    pub provider_ingress_class: String,
    pub kubeconfig: Option<PathBuf>,
    pub controllers: ControllerSelection,
    pub leader_election: Option<LeaderElectionSettings>,
    pub health_address: Option<SocketAddr>,
    pub metrics_address: Option<SocketAddr>,
    pub kube_api_qps: f64,
    pub kube_api_burst: u32,
    pub resync_period: Option<Duration>,
    pub backoff: BackoffSettings,
    pub provider_call_timeout: Duration,
    pub concurrent_reconciles: u16,
    pub shutdown_grace_period: Duration,
}

#[derive(Debug, Clone)]
pub struct LeaderElectionSettings {
    pub namespace: String,
    pub name: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// The per-object retry backoff (`--rate-limiter-*`).
#[derive(Debug, Clone, Copy)]
pub struct BackoffSettings {
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub qps: u32,
    pub bucket_size: u32,
}

/// `--controllers`: `*` enables all, `name` one, `-name` disables one (Go's IsControllerEnabled).
/// Which names exist is the controller table's business ([`crate::controllers::CONTROLLERS`]).
#[derive(Debug, Clone)]
pub struct ControllerSelection {
    items: Vec<String>,
}

impl ControllerSelection {
    /// Every controller (`--controllers=*`).
    pub fn all() -> Self {
        ControllerSelection {
            items: vec!["*".to_owned()],
        }
    }

    /// Parses the flag's items; a name not in `known` is an error listing the known ones.
    pub fn parse(items: &[String], known: &[&str]) -> Result<Self, String> {
        let items: Vec<String> = items
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let unknown: Vec<&str> = items
            .iter()
            .map(|i| i.strip_prefix('-').unwrap_or(i))
            .filter(|name| *name != "*" && !known.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "--controllers names unknown controllers {}; known: {}",
                unknown.join(", "),
                known.join(", ")
            ));
        }
        Ok(ControllerSelection { items })
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        if self.items.iter().any(|i| i.strip_prefix('-') == Some(name)) {
            return false;
        }
        self.items.iter().any(|i| i == name || i == "*")
    }
}
