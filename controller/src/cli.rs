//! Command-line flags, named and defaulted like the Go original's, and their validation.
//!
//! Invalid combinations are reported together, before anything is loaded or connected.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::controllers;
use crate::duration::GoDuration;
use crate::settings::{
    BackoffSettings, ControllerSelection, LEASE_NAME, LeaderElectionSettings, Settings,
};
use crate::telemetry::LoggingFormat;

#[derive(Debug, Parser)]
#[command(
    name = "multicluster-provider",
    version,
    about = "Karmada multicluster cloud provider controller manager",
    long_about = "Watches MultiClusterIngress and MultiClusterService objects in the Karmada control plane and asks the cloud provider library named by --cloud-provider to create, update and delete their load balancers."
)]
pub struct Cli {
    #[command(flatten)]
    pub provider: ProviderArgs,

    #[command(flatten)]
    pub manager: ManagerArgs,

    /// Log verbosity, klog style: 0 errors, 1 warnings, 2 info (default), 4 debug, 5+ trace.
    /// RUST_LOG, when set, overrides it.
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        default_value_t = 2,
        value_name = "LEVEL"
    )]
    pub verbosity: u8,

    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LoggingFormat::Text)]
    pub logging_format: LoggingFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which provider library to load and how.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// The cloud provider to load: a name, looked up as libmcp_provider_<name>.so in the provider
    /// directories, or a path to a library.
    #[arg(
        long = "cloud-provider",
        visible_alias = "multicluster-provider",
        global = true,
        value_name = "NAME|PATH"
    )]
    pub cloud_provider: Option<String>,

    /// A directory to search for provider libraries; repeatable, searched in order before
    /// $MULTICLUSTER_PROVIDER_DIR and /usr/local/lib/multicluster-provider.
    #[arg(long = "provider-dir", global = true, value_name = "DIR")]
    pub provider_dirs: Vec<PathBuf>,

    /// The cloud provider configuration file, passed to the provider's factory.
    #[arg(long = "cloud-config", global = true, value_name = "FILE")]
    pub cloud_config: Option<PathBuf>,

    /// Load the provider library even if a user other than root and the controller's own (or a
    /// group, or everyone) can write it or a directory above it. Development only.
    #[arg(long, global = true)]
    pub allow_insecure_provider_permissions: bool,
}

/// The controller manager's flags.
#[derive(Debug, Clone, Args)]
pub struct ManagerArgs {
    /// The IngressClass `.spec.controller` value this provider serves (required).
    #[arg(long, value_name = "CONTROLLER")]
    pub provider_ingress_class: Option<String>,

    /// Path to the Karmada API server's kubeconfig; else $KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Controllers to enable: `*` for all, `name` to enable one, `-name` to disable one.
    /// Names: multiclusteringress, multiclusterservice, crd-installation,
    /// serviceexport-propagation, mci-service-locations.
    #[arg(long, value_delimiter = ',', default_value = "*", value_name = "NAMES")]
    pub controllers: Vec<String>,

    /// Elect a leader before running controllers (needed with more than one replica).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub leader_elect: bool,

    /// Namespace of the leader-election Lease `multicluster-controller-manager`.
    #[arg(long, default_value = "karmada-system", value_name = "NAMESPACE")]
    pub leader_elect_resource_namespace: String,

    /// How long a non-leader waits after the last renewal before taking over.
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub leader_elect_lease_duration: GoDuration,

    /// How long the leader keeps trying to renew before it gives up leading.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub leader_elect_renew_deadline: GoDuration,

    /// How often candidates try to acquire and the leader renews.
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub leader_elect_retry_period: GoDuration,

    /// The IP address to serve /healthz and /readyz on.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub bind_address: String,

    /// The port to serve /healthz and /readyz on (0 disables).
    #[arg(long, default_value_t = 10368, value_name = "PORT")]
    pub secure_port: u16,

    /// Address to serve Prometheus metrics on, e.g. `:8080` or `127.0.0.1:8080`; `0` disables.
    #[arg(long, default_value = ":8080", value_name = "ADDRESS")]
    pub metrics_bind_address: String,

    /// Client-side limit on requests per second to the Karmada API server.
    #[arg(long, default_value_t = 40.0, value_name = "QPS")]
    pub kube_api_qps: f32,

    /// Client-side burst of requests to the Karmada API server.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub kube_api_burst: u32,

    /// Reconcile every object again this often even without changes (0 = only on changes).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub resync_period: GoDuration,

    /// First retry delay of a failing object; doubles per failure.
    #[arg(long, default_value = "5ms", value_name = "DURATION")]
    pub rate_limiter_base_delay: GoDuration,

    /// Longest retry delay of a failing object.
    #[arg(long, default_value = "1000s", value_name = "DURATION")]
    pub rate_limiter_max_delay: GoDuration,

    /// Overall retry rate (retries per second across all objects).
    #[arg(long, default_value_t = 10, value_name = "QPS")]
    pub rate_limiter_qps: u32,

    /// Overall retry burst.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub rate_limiter_bucket_size: u32,

    /// Bound on one provider call; a call still running then counts as failed and is retried.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub provider_call_timeout: GoDuration,

    /// Objects reconciled at once, per controller.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrent_reconciles: u16,

    /// On SIGTERM/SIGINT, how long in-flight reconciles may take to finish.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub shutdown_grace_period: GoDuration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a provider library and print its name, versions and capabilities.
    Inspect(InspectArgs),
    /// Load a provider library and check that it honours the provider contract, without a
    /// cluster: a pass/fail table per capability and check, with per-method latencies.
    Verify(crate::verify::VerifyArgs),
    /// Print the version of this binary and of the provider interface it speaks.
    Version,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A provider name or library path (same as --cloud-provider).
    #[arg(value_name = "NAME|PATH")]
    pub target: Option<String>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses `:8080`, `0.0.0.0:8080`, `[::]:8080`; `0` (or empty) disables.
fn parse_listen(value: &str, what: &str, errors: &mut Vec<String>) -> Option<SocketAddr> {
    if value.is_empty() || value == "0" {
        return None;
    }
    let full = if let Some(port) = value.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        value.to_owned()
    };
    match full.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            errors.push(format!(
                "{what} {value:?} is not an address: use HOST:PORT, :PORT, or 0 to disable"
            ));
            None
        }
    }
}

impl Cli {
    /// Validates the flags of the controller manager, reporting every problem at once.
    pub fn settings(&self) -> Result<Settings, Vec<String>> {
        let m = &self.manager;
        let mut errors = Vec::new();

        let cloud_provider = match self.provider.cloud_provider.as_deref() {
            Some(p) if !p.is_empty() => p.to_owned(),
            _ => {
                errors.push(
                    "--cloud-provider is required: the provider to load, e.g. --cloud-provider=fake"
                        .to_owned(),
                );
                String::new()
            }
        };

        let controllers = match ControllerSelection::parse(&m.controllers, &controllers::names()) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                ControllerSelection::all()
            }
        };

        let provider_ingress_class = m.provider_ingress_class.clone().unwrap_or_default();
        if provider_ingress_class.is_empty() {
            errors.push(
                "--provider-ingress-class is required: the IngressClass .spec.controller value this provider serves, e.g. karmada.io/fake"
                    .to_owned(),
            );
        }

        let lease = m.leader_elect_lease_duration.0;
        let renew = m.leader_elect_renew_deadline.0;
        let retry = m.leader_elect_retry_period.0;
        if m.leader_elect {
            if lease <= renew {
                errors.push(format!(
                    "--leader-elect-lease-duration ({}) must be greater than --leader-elect-renew-deadline ({})",
                    m.leader_elect_lease_duration, m.leader_elect_renew_deadline
                ));
            }
            // client-go's rule: the renew deadline must leave room for a jittered retry.
            if renew.as_secs_f64() <= retry.as_secs_f64() * 1.2 {
                errors.push(format!(
                    "--leader-elect-renew-deadline ({}) must be greater than 1.2 x --leader-elect-retry-period ({})",
                    m.leader_elect_renew_deadline, m.leader_elect_retry_period
                ));
            }
            if retry.is_zero() {
                errors.push("--leader-elect-retry-period must be greater than 0".to_owned());
            }
            if m.leader_elect_resource_namespace.is_empty() {
                errors.push("--leader-elect-resource-namespace must not be empty".to_owned());
            }
        }

        let health_address = if m.secure_port == 0 {
            None
        } else {
            match m.bind_address.parse::<IpAddr>() {
                Ok(ip) => Some(SocketAddr::new(ip, m.secure_port)),
                Err(_) => {
                    errors.push(format!(
                        "--bind-address {:?} is not an IP address",
                        m.bind_address
                    ));
                    None
                }
            }
        };
        let metrics_address = parse_listen(
            &m.metrics_bind_address,
            "--metrics-bind-address",
            &mut errors,
        );
        if let (Some(h), Some(mt)) = (health_address, metrics_address)
            && h.port() == mt.port()
            && (h.ip() == mt.ip() || h.ip().is_unspecified() || mt.ip().is_unspecified())
        {
            errors.push(format!(
                "--secure-port and --metrics-bind-address both use port {}",
                h.port()
            ));
        }

        if !(m.kube_api_qps.is_finite() && m.kube_api_qps > 0.0) {
            errors.push(format!(
                "--kube-api-qps must be greater than 0, not {}",
                m.kube_api_qps
            ));
        }
        if m.kube_api_burst == 0 {
            errors.push("--kube-api-burst must be at least 1".to_owned());
        }
        if m.rate_limiter_base_delay.0 > m.rate_limiter_max_delay.0 {
            errors.push(format!(
                "--rate-limiter-base-delay ({}) must not exceed --rate-limiter-max-delay ({})",
                m.rate_limiter_base_delay, m.rate_limiter_max_delay
            ));
        }
        if m.rate_limiter_qps == 0 {
            errors.push("--rate-limiter-qps must be at least 1".to_owned());
        }
        if m.rate_limiter_bucket_size == 0 {
            errors.push("--rate-limiter-bucket-size must be at least 1".to_owned());
        }
        if m.provider_call_timeout.0.is_zero() {
            errors.push("--provider-call-timeout must be greater than 0".to_owned());
        }
        if m.concurrent_reconciles == 0 {
            errors.push("--concurrent-reconciles must be at least 1".to_owned());
        }
        if let Some(path) = &self.provider.cloud_config
            && !path.is_file()
        {
            errors.push(format!(
                "--cloud-config {} does not exist or is not a file",
                path.display()
            ));
        }
        if let Some(path) = &m.kubeconfig
            && !path.is_file()
        {
            errors.push(format!(
                "--kubeconfig {} does not exist or is not a file",
                path.display()
            ));
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            cloud_provider,
            provider_dirs: self.provider.provider_dirs.clone(),
            cloud_config: self.provider.cloud_config.clone(),
            allow_insecure_provider_permissions: self.provider.allow_insecure_provider_permissions,
            provider_ingress_class,
            kubeconfig: m.kubeconfig.clone(),
            controllers,
            leader_election: m.leader_elect.then(|| LeaderElectionSettings {
                namespace: m.leader_elect_resource_namespace.clone(),
                name: LEASE_NAME.to_owned(),
                lease_duration: lease,
                renew_deadline: renew,
                retry_period: retry,
            }),
            health_address,
            metrics_address,
            kube_api_qps: f64::from(m.kube_api_qps),
            kube_api_burst: m.kube_api_burst,
            resync_period: (!m.resync_period.0.is_zero()).then_some(m.resync_period.0),
            backoff: BackoffSettings {
                base_delay: m.rate_limiter_base_delay.0,
                max_delay: m.rate_limiter_max_delay.0,
                qps: m.rate_limiter_qps,
                bucket_size: m.rate_limiter_bucket_size,
            },
            provider_call_timeout: m.provider_call_timeout.0,
            concurrent_reconciles: m.concurrent_reconciles,
            shutdown_grace_period: m.shutdown_grace_period.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("multicluster-provider").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_match_the_go_original() {
        let cli = parse(&[
            "--cloud-provider=fake",
            "--provider-ingress-class=karmada.io/fake",
        ]);
        let s = cli.settings().unwrap();
        let le = s.leader_election.unwrap();
        assert_eq!(le.namespace, "karmada-system");
        assert_eq!(le.name, "multicluster-controller-manager");
        assert_eq!(le.lease_duration, Duration::from_secs(15));
        assert_eq!(le.renew_deadline, Duration::from_secs(10));
        assert_eq!(le.retry_period, Duration::from_secs(2));
        assert_eq!(s.health_address.unwrap().to_string(), "0.0.0.0:10368");
        assert_eq!(s.metrics_address.unwrap().to_string(), "0.0.0.0:8080");
        assert_eq!(s.kube_api_qps, 40.0);
        assert_eq!(s.kube_api_burst, 60);
        assert_eq!(s.backoff.base_delay, Duration::from_millis(5));
        assert_eq!(s.backoff.max_delay, Duration::from_secs(1000));
        assert_eq!(s.backoff.qps, 10);
        assert_eq!(s.backoff.bucket_size, 100);
        assert_eq!(s.resync_period, None);
        assert!(s.controllers.is_enabled("multiclusteringress"));
    }

    #[test]
    fn the_go_flag_names_work() {
        let cli = parse(&[
            "--multicluster-provider=fake",
            "--provider-ingress-class=karmada.io/fake",
            "--leader-elect=false",
            "--metrics-bind-address=0",
            "--controllers=*,-crd-installation",
        ]);
        let s = cli.settings().unwrap();
        assert_eq!(s.cloud_provider, "fake");
        assert!(s.leader_election.is_none());
        assert!(s.metrics_address.is_none());
        assert!(!s.controllers.is_enabled("crd-installation"));
        assert!(s.controllers.is_enabled("multiclusterservice"));
    }

    #[test]
    fn invalid_combinations_are_reported_together() {
        let cli = parse(&[
            "--leader-elect-lease-duration=5s",
            "--leader-elect-renew-deadline=10s",
            "--controllers=multiclusteringress,nonsense",
            "--kube-api-qps=0",
            "--rate-limiter-base-delay=2s",
            "--rate-limiter-max-delay=1s",
            "--metrics-bind-address=nope",
        ]);
        let errors = cli.settings().unwrap_err();
        let all = errors.join("\n");
        for needle in [
            "--cloud-provider is required",
            "--provider-ingress-class is required",
            "must be greater than --leader-elect-renew-deadline",
            "nonsense",
            "--kube-api-qps",
            "--rate-limiter-base-delay",
            "--metrics-bind-address",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}
