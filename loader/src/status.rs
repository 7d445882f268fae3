//! What the controller accepts from a provider as a status before writing it into an object.

use k8s_openapi::api::core::v1::LoadBalancerStatus;
use k8s_openapi::api::networking::v1::IngressLoadBalancerStatus;
use mcp_interface::abi::GetResult;

/// Checks a provider's status before the controller writes it into an object: addresses must
/// parse, hostnames must be DNS names and port protocols known, so a misbehaving provider cannot
/// put garbage into the Karmada API. (Public in a private module: a bound of
/// [`crate::ObjectKind`], implemented by the loader only.)
pub trait ValidStatus {
    fn validate(&self) -> Result<(), String>;
}

impl<S: ValidStatus> ValidStatus for GetResult<S> {
    fn validate(&self) -> Result<(), String> {
        self.status.as_ref().map_or(Ok(()), ValidStatus::validate)
    }
}

impl ValidStatus for IngressLoadBalancerStatus {
    fn validate(&self) -> Result<(), String> {
        for (i, ingress) in self.ingress.iter().flatten().enumerate() {
            validate_ingress(i, ingress.ip.as_deref(), ingress.hostname.as_deref())?;
            for (j, port) in ingress.ports.iter().flatten().enumerate() {
                validate_port(i, j, &port.protocol, port.error.as_deref())?;
            }
        }
        Ok(())
    }
}

impl ValidStatus for LoadBalancerStatus {
    fn validate(&self) -> Result<(), String> {
        for (i, ingress) in self.ingress.iter().flatten().enumerate() {
            validate_ingress(i, ingress.ip.as_deref(), ingress.hostname.as_deref())?;
            if let Some(mode) = ingress.ip_mode.as_deref()
                && !matches!(mode, "VIP" | "Proxy")
            {
                return Err(format!(
                    "ingress[{i}].ipMode {mode:?} is neither VIP nor Proxy"
                ));
            }
            for (j, port) in ingress.ports.iter().flatten().enumerate() {
                validate_port(i, j, &port.protocol, port.error.as_deref())?;
            }
        }
        Ok(())
    }
}

fn validate_ingress(i: usize, ip: Option<&str>, hostname: Option<&str>) -> Result<(), String> {
    if let Some(ip) = ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(format!("ingress[{i}].ip {ip:?} is not an IP address"));
    }
    if let Some(host) = hostname {
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(format!("ingress[{i}].hostname {host:?} is not a DNS name"));
        }
    }
    if ip.is_none() && hostname.is_none() {
        return Err(format!("ingress[{i}] has neither an ip nor a hostname"));
    }
    Ok(())
}

/// A port status as the Karmada CRDs accept it: a known protocol and an `error` (required by
/// both CRDs) that is a Kubernetes reason: CamelCase or a qualified name such as
/// `example.com/PortNotReady`, at most 316 characters.
fn validate_port(i: usize, j: usize, protocol: &str, error: Option<&str>) -> Result<(), String> {
    if !matches!(protocol, "TCP" | "UDP" | "SCTP") {
        return Err(format!(
            "ingress[{i}].ports[{j}].protocol {protocol:?} is not TCP, UDP or SCTP"
        ));
    }
    match error {
        None => Err(format!(
            "ingress[{i}].ports[{j}].error is missing: the Karmada CRDs require it on every port status (a reason such as \"Ready\" or \"PortPending\")"
        )),
        Some(reason) if !is_reason(reason) => Err(format!(
            "ingress[{i}].ports[{j}].error {reason:?} is not a reason (CamelCase or prefix/Name, at most 316 characters)"
        )),
        Some(_) => Ok(()),
    }
}

/// The CRDs' pattern for `ports[].error`:
/// `^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`
/// with `maxLength: 316`.
fn is_reason(reason: &str) -> bool {
    if reason.len() > 316 {
        return false;
    }
    let (prefix, name) = match reason.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, reason),
    };
    let prefix_ok = prefix.is_none_or(|prefix| {
        prefix.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
    });
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    prefix_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_errors_follow_the_crd_pattern() {
        for good in ["Ready", "PortPending", "example.com/Port_not.ready-2", "a"] {
            assert!(is_reason(good), "{good}");
        }
        for bad in [
            "",
            "not ready",
            "-Ready",
            "Ready.",
            "Example.com/Ready",
            "/Ready",
            "example.com/",
            &"R".repeat(317),
        ] {
            assert!(!is_reason(bad), "{bad}");
        }
    }

    #[test]
    fn a_port_status_without_an_error_is_refused_with_the_reason() {
        let status: LoadBalancerStatus = serde_json::from_value(serde_json::json!({
            "ingress": [{"ip": "192.0.2.1", "ports": [{"port": 80, "protocol": "TCP"}]}]
        }))
        .unwrap();
        let error = status.validate().unwrap_err();
        assert!(
            error.contains("ingress[0].ports[0].error is missing"),
            "{error}"
        );
        let status: IngressLoadBalancerStatus = serde_json::from_value(serde_json::json!({
            "ingress": [{"hostname": "a.example.com",
                         "ports": [{"port": 443, "protocol": "TCP", "error": "Ready"}]}]
        }))
        .unwrap();
        status.validate().unwrap();
    }
}
