//! From flags to [`Settings`], every problem reported at once.

use std::net::{IpAddr, SocketAddr};

use super::Cli;
use crate::controllers;
use crate::settings::{
    BackoffSettings, ControllerSelection, LEASE_NAME, LeaderElectionSettings, Settings,
};

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
