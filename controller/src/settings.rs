//! The controller manager's validated settings: what [`crate::cli`] makes of the flags, and all
//! that the rest of the crate reads. Nothing below `cli` reads a flag, so these types import
//! nothing from the modules that use them.

use std::fmt;
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
    pub health_address: Option<ListenAddress>,
    pub metrics_address: Option<ListenAddress>,
    /// `--enable-pprof` on `--profiling-bind-address`.
    pub profiling_address: Option<ListenAddress>,
    pub api_rate_limit: ApiRateLimit,
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

/// Where a server listens. As Go's `net.Listen`, a wildcard host (`:PORT`, `0.0.0.0`, `::`)
/// listens on every address family: one dual-stack socket, or IPv4 alone where the host has no
/// IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddress {
    Wildcard(u16),
    Ip(SocketAddr),
}

impl ListenAddress {
    pub fn port(self) -> u16 {
        match self {
            ListenAddress::Wildcard(port) => port,
            ListenAddress::Ip(addr) => addr.port(),
        }
    }

    /// Whether two listeners would want the same port on a common address.
    pub fn clashes_with(self, other: ListenAddress) -> bool {
        self.port() == other.port()
            && self.port() != 0
            && match (self, other) {
                (ListenAddress::Ip(a), ListenAddress::Ip(b)) => a.ip() == b.ip(),
                _ => true,
            }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::Wildcard(port) => write!(f, ":{port}"),
            ListenAddress::Ip(addr) => write!(f, "{addr}"),
        }
    }
}

/// The client-side limit on requests to the Karmada API server (`--kube-api-qps`,
/// `--kube-api-burst`), one token bucket per resource kind as client-go's per-kind REST clients
/// have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiRateLimit {
    /// Requests per second per kind; `None`: no client-side limit (a negative QPS in Go).
    pub qps: Option<f64>,
    pub burst: u32,
}

/// How logs are written (component-base's logging flags).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingSettings {
    pub format: LogFormat,
    /// `-v`: klog's verbosity. Errors, warnings and info are always written (as `klog.Info`);
    /// debug from 4, trace from 5.
    pub verbosity: u32,
    /// `--vmodule`: a verbosity per source file or module pattern; the first match wins.
    pub vmodule: Vec<VModule>,
    /// `--log-*-split-stream`: info to stdout, errors (and, in text, warnings) to stderr.
    pub split_stream: bool,
    /// `--log-*-info-buffer-size`: bytes of the info stream buffered when split (0: none).
    pub info_buffer_bytes: usize,
    /// `--log-flush-frequency`: how often the buffered info stream is flushed.
    pub flush_frequency: Duration,
    /// Flags accepted for the Go controller's sake that change nothing here: said once at
    /// start-up.
    pub notes: Vec<String>,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        LoggingSettings {
            format: LogFormat::Text,
            verbosity: 0,
            vmodule: Vec::new(),
            split_stream: false,
            info_buffer_bytes: 0,
            flush_frequency: Duration::from_secs(5),
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// tracing's text lines.
    Text,
    /// One JSON object per line, in the shape Kubernetes components print (`ts`, `caller`,
    /// `msg`, `v`, `err`, then the fields).
    Json,
}

/// One `--vmodule` item, `pattern=N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VModule {
    pub pattern: String,
    pub verbosity: u32,
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
