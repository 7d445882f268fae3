//! The controller manager's flags (the Go original's generic flag set).

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::duration::GoDuration;

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
