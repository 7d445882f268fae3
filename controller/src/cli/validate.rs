//! From flags to [`Settings`], every problem reported at once.

use std::net::IpAddr;
use std::time::Duration;

use super::{Cli, values};
use crate::controllers;
use crate::settings::{
    ApiRateLimit, BackoffSettings, ControllerSelection, LEASE_NAME, LeaderElectionSettings,
    ListenAddress, Settings,
};

/// client-go's defaults for a zero `--kube-api-qps`/`--kube-api-burst` (rest.DefaultQPS,
/// rest.DefaultBurst).
const CLIENT_GO_DEFAULT_QPS: f64 = 5.0;
const CLIENT_GO_DEFAULT_BURST: u32 = 10;

/// Karmada's ratelimiterflag defaults, used for zero or negative values as it does.
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(5);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(1000);
const DEFAULT_RETRY_QPS: u32 = 10;
const DEFAULT_RETRY_BUCKET: u32 = 100;

/// A positive Go int, or `default` (ratelimiterflag's SetDefaults).
fn positive_or(value: i64, default: u32) -> u32 {
    if value <= 0 {
        default
    } else {
        u32::try_from(value).unwrap_or(u32::MAX)
    }
}

/// `--metrics-bind-address`: an address, or `0` (or empty) to disable.
fn metrics_listen(value: &str, errors: &mut Vec<String>) -> Option<ListenAddress> {
    if value.is_empty() || value == "0" {
        return None;
    }
    values::listen_address(value)
        .map_err(|e| errors.push(format!("--metrics-bind-address {e}, or 0 to disable")))
        .ok()
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
                Ok(ip) => Some(values::listen_on(ip, m.secure_port)),
                Err(_) => {
                    errors.push(format!(
                        "--bind-address {:?} is not an IP address",
                        m.bind_address
                    ));
                    None
                }
            }
        };
        let metrics_address = metrics_listen(&m.metrics_bind_address, &mut errors);
        let profiling_address = if m.enable_pprof {
            values::listen_address(&m.profiling_bind_address)
                .map_err(|e| errors.push(format!("--profiling-bind-address {e}")))
                .ok()
        } else {
            None
        };
        let listeners = [
            ("--secure-port", health_address),
            ("--metrics-bind-address", metrics_address),
            ("--profiling-bind-address", profiling_address),
        ];
        for (i, (a_flag, a)) in listeners.iter().enumerate() {
            for (b_flag, b) in &listeners[i + 1..] {
                if let (Some(a), Some(b)) = (a, b)
                    && a.clashes_with(*b)
                {
                    errors.push(format!("{a_flag} and {b_flag} both use port {}", a.port()));
                }
            }
        }

        // client-go's reading: 0 is its default, a negative QPS turns the limiter off.
        let qps = f64::from(m.kube_api_qps);
        let api_rate_limit = ApiRateLimit {
            qps: if qps == 0.0 {
                Some(CLIENT_GO_DEFAULT_QPS)
            } else {
                (qps > 0.0).then_some(qps)
            },
            burst: match m.kube_api_burst {
                0 => CLIENT_GO_DEFAULT_BURST,
                b => u32::try_from(b).unwrap_or(0),
            },
        };
        if !qps.is_finite() {
            errors.push(format!("--kube-api-qps must be a number, not {qps}"));
        }
        if m.kube_api_burst < 0 && api_rate_limit.qps.is_some() {
            // client-go would fail every request ("exceeds limiter's burst").
            errors.push(format!(
                "--kube-api-burst must not be negative, not {} (0 means client-go's default of 10)",
                m.kube_api_burst
            ));
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
            profiling_address,
            api_rate_limit,
            resync_period: m.resync_period.0,
            // A base delay above the max delay is allowed, as in Go: every retry waits the max.
            backoff: BackoffSettings {
                base_delay: m.rate_limiter_base_delay.or(DEFAULT_BASE_DELAY),
                max_delay: m.rate_limiter_max_delay.or(DEFAULT_MAX_DELAY),
                qps: positive_or(m.rate_limiter_qps, DEFAULT_RETRY_QPS),
                bucket_size: positive_or(m.rate_limiter_bucket_size, DEFAULT_RETRY_BUCKET),
            },
            provider_call_timeout: m.provider_call_timeout.0,
            concurrent_reconciles: m.concurrent_reconciles,
            shutdown_grace_period: m.shutdown_grace_period.0,
        })
    }
}
