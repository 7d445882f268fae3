//! Interface 1.2: the backend view, what stands behind the object a provider is called about.
//!
//! The controller resolves it from the Karmada control plane for every call of a provider that
//! asks for it (`Provider::backends`): for a MultiClusterIngress each Service it references, for
//! a MultiClusterService its Service; for each, the member clusters it runs in with their
//! readiness, whether traffic to them is blocked, the member Service's own load-balancer
//! addresses and the endpoints Karmada collected; for an MCI also its TLS certificates.
//!
//! These are plain Rust types owned by this crate (not k8s-openapi types), so a provider does
//! not depend on the Kubernetes API version the controller is built with. They cross the
//! boundary as JSON (camelCase fields); fields are only ever added, with defaults, so a provider
//! built against an older 1.x reads a newer controller's view.
//!
//! Lists are sorted (Services and clusters by name, endpoints by their first address) so that
//! the same backends always give the same view.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What stands behind one MultiClusterIngress or MultiClusterService.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backends {
    /// Whether the controller resolved the view. `false` only when a provider that declared the
    /// view optional runs in a controller older than interface 1.2: then everything else is
    /// empty and the provider works from the object alone.
    pub resolved: bool,
    /// The Services behind the object, each once, sorted by namespace and name.
    pub services: Vec<BackendService>,
    /// The MultiClusterIngress's `spec.tls` entries, in their order (empty for an MCS).
    pub tls: Vec<TlsCertificate>,
}

impl Backends {
    /// The view a provider gets from a controller that cannot resolve it (older than 1.2).
    pub fn unresolved() -> Backends {
        Backends::default()
    }

    /// The Service `namespace/name`, if the object references it.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&BackendService> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }
}

/// One Service the object routes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendService {
    pub namespace: String,
    pub name: String,
    /// Whether the Service exists in the Karmada control plane. When it does not, `ports` holds
    /// only what the object itself says and `clusters` is empty.
    pub found: bool,
    /// The ports the object uses, each once (for an MCI: every port a rule or the default
    /// backend names, by number or by name, resolved against the Service's ports).
    pub ports: Vec<BackendPort>,
    /// The member clusters the Service runs in, sorted by name.
    pub clusters: Vec<BackendCluster>,
}

/// A Service port the object uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendPort {
    /// The port's name in the Service, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Service port number; 0 when the object names a port the Service does not have
    /// (then `problem` says so).
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// The port on the pods, a number or a container port name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<TargetPort>,
    /// Why the port could not be resolved (a name or number the Service does not have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A Service's `targetPort`: a number, or the name of a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    Number(i32),
    Name(String),
}

/// One member cluster a backend Service runs in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendCluster {
    pub name: String,
    /// Whether Karmada reports the Cluster `Ready`.
    pub ready: bool,
    /// Whether the cluster is in the MCI's `status.trafficBlockClusters` (a Remedy with the
    /// `TrafficControl` action): it stays in the view so a provider can drain it.
    pub traffic_blocked: bool,
    /// The member Service's own load-balancer addresses, as Karmada aggregates them into the
    /// Service's ResourceBinding (for providers that front per-cluster balancers).
    pub load_balancer: Vec<BalancerAddress>,
    /// The endpoints Karmada collected from this cluster, sorted by first address.
    pub endpoints: Vec<Endpoint>,
}

/// An address of a member cluster's load balancer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BalancerAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// One endpoint of an EndpointSlice Karmada collected from a member cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    pub addresses: Vec<String>,
    /// The slice's ports (the ports every endpoint of the slice serves).
    pub ports: Vec<EndpointPort>,
    /// `conditions.ready`, `true` when unset (as Kubernetes reads it).
    pub ready: bool,
    /// `conditions.serving`, `ready` when unset.
    pub serving: bool,
    /// `conditions.terminating`, `false` when unset.
    pub terminating: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

/// A port of an EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointPort {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub port: i32,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// One `spec.tls` entry of a MultiClusterIngress, with its Secret's certificate and key, read
/// when the call is made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsCertificate {
    pub hosts: Vec<String>,
    /// The Secret in the MCI's namespace.
    pub secret_name: String,
    /// `tls.crt`, PEM; `None` when the Secret is missing or malformed (see `problem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// `tls.key`, PEM. Its `Debug` form is redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKey>,
    /// Why the certificate is missing: the Secret does not exist, has no `tls.crt`/`tls.key`,
    /// or they are not PEM text. The controller also records it as a Warning Event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A private key in PEM form. Printing it with `{:?}` shows `PrivateKey(<redacted>)`, so a
/// provider that logs its view does not leak it; [`PrivateKey::pem`] gives the text.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn new(pem: impl Into<String>) -> PrivateKey {
        PrivateKey(pem.into())
    }

    /// The key, PEM.
    pub fn pem(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_round_trips_as_camel_case_json() {
        let view = Backends {
            resolved: true,
            services: vec![BackendService {
                namespace: "default".into(),
                name: "serve".into(),
                found: true,
                ports: vec![BackendPort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: "TCP".into(),
                    app_protocol: None,
                    target_port: Some(TargetPort::Number(8080)),
                    problem: None,
                }],
                clusters: vec![BackendCluster {
                    name: "member1".into(),
                    ready: true,
                    traffic_blocked: false,
                    load_balancer: vec![],
                    endpoints: vec![Endpoint {
                        addresses: vec!["10.0.0.1".into()],
                        ports: vec![EndpointPort {
                            name: Some("http".into()),
                            port: 8080,
                            protocol: "TCP".into(),
                            app_protocol: None,
                        }],
                        ready: true,
                        serving: true,
                        terminating: false,
                        zone: Some("z1".into()),
                        node_name: None,
                    }],
                }],
            }],
            tls: vec![TlsCertificate {
                hosts: vec!["demo.localdev.me".into()],
                secret_name: "demo-tls".into(),
                certificate: Some("CERT".into()),
                private_key: Some(PrivateKey::new("KEY")),
                problem: None,
            }],
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["services"][0]["ports"][0]["targetPort"], 8080);
        assert_eq!(json["services"][0]["clusters"][0]["trafficBlocked"], false);
        assert_eq!(json["tls"][0]["privateKey"], "KEY");
        assert_eq!(serde_json::from_value::<Backends>(json).unwrap(), view);
    }

    #[test]
    fn fields_a_newer_controller_adds_or_an_older_one_lacks_are_tolerated() {
        let view: Backends = serde_json::from_str(
            r#"{"resolved": true, "services": [{"name": "s", "addedLater": 1}], "alsoNew": []}"#,
        )
        .unwrap();
        assert_eq!(view.services[0].name, "s");
        assert!(view.services[0].clusters.is_empty());
    }

    #[test]
    fn private_keys_are_redacted_in_debug_output() {
        let tls = TlsCertificate {
            private_key: Some(PrivateKey::new("-----BEGIN PRIVATE KEY-----hunter2")),
            ..TlsCertificate::default()
        };
        let printed = format!("{tls:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
