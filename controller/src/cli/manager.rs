//! The controller manager's flags (the Go original's generic flag set).

use std::path::PathBuf;

use clap::Args;

use super::values;
use crate::duration::{GoDuration, PositiveOrUnset};

/// The controller manager's flags.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Generic flags")]
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
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", value_parser = values::go_bool)]
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

    /// The port to serve /healthz and /readyz on, plain HTTP as the Go original (0 disables).
    #[arg(long, default_value_t = 10368, value_name = "PORT")]
    pub secure_port: u16,

    /// Address to serve Prometheus metrics on, e.g. `:8080` (every address family) or
    /// `127.0.0.1:8080`; `0` disables.
    #[arg(long, default_value = ":8080", value_name = "ADDRESS")]
    pub metrics_bind_address: String,

    /// Client-side limit on requests per second to the Karmada API server, per resource kind
    /// (as client-go's per-kind REST clients); leader election and events have their own. 0
    /// means client-go's default (5), a negative value no limit.
    #[arg(
        long,
        default_value_t = 40.0,
        value_name = "QPS",
        allow_negative_numbers = true
    )]
    pub kube_api_qps: f32,

    /// Client-side burst of requests to the Karmada API server, per resource kind (0: client-go's
    /// default, 10).
    #[arg(
        long,
        default_value_t = 60,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub kube_api_burst: i32,

    /// Reconcile every object again this often even without changes (0 = only on changes).
    #[arg(
        long,
        default_value = "0s",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub resync_period: PositiveOrUnset,

    /// First retry delay of a failing object; doubles per failure (0 or less: the default).
    #[arg(
        long,
        default_value = "5ms",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub rate_limiter_base_delay: PositiveOrUnset,

    /// Longest retry delay of a failing object (0 or less: the default).
    #[arg(
        long,
        default_value = "1000s",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub rate_limiter_max_delay: PositiveOrUnset,

    /// Overall retry rate, retries per second across a controller's objects (0 or less: the
    /// default).
    #[arg(
        long,
        default_value_t = 10,
        value_name = "QPS",
        allow_negative_numbers = true
    )]
    pub rate_limiter_qps: i64,

    /// Overall retry burst (0 or less: the default).
    #[arg(
        long,
        default_value_t = 100,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub rate_limiter_bucket_size: i64,

    /// Bound on one provider call; a call still running then counts as failed and is retried.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub provider_call_timeout: GoDuration,

    /// Objects reconciled at once, per controller.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrent_reconciles: u16,

    /// On SIGTERM/SIGINT, how long in-flight reconciles and provider calls may take to finish;
    /// the leader Lease is released only when none is still running.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub shutdown_grace_period: GoDuration,

    /// Enable profiling via web interface host:port/debug/pprof/ (a CPU profile in pprof's
    /// format at /debug/pprof/profile?seconds=N).
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", value_parser = values::go_bool)]
    pub enable_pprof: bool,

    /// The TCP address for serving profiling (e.g. 127.0.0.1:6060, :6060). This is only
    /// applicable if profiling is enabled.
    #[arg(long, default_value = ":6060", value_name = "ADDRESS")]
    pub profiling_bind_address: String,
}
