//! [`CachedService`]: a Service as the shared cache keeps it.
//!
//! The controllers read a Service's metadata (name, UID, annotations, deletion), ask whether its
//! spec changed (the Go controllers' update predicate), and the backend view reads its ports.
//! A decoded `Service` with its spec and status is several times larger in the cache (the
//! spec's selector map alone is a large part); this keeps the metadata, the ports and a digest
//! of the spec (docs/performance.md, "The second pass").

use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mcp_interface::backends::{BackendPort, TargetPort};
use serde::{Deserialize, Deserializer};

/// A Service's metadata, its ports and a digest of its spec. Lists and watches are those of
/// `v1` `services`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedService {
    pub metadata: ObjectMeta,
    /// A digest of `spec` as JSON: equal specs have equal digests; a different spec has a
    /// different one but for a 64-bit hash collision.
    pub spec_digest: u64,
    /// `spec.ports`, in their order, as the backend view shows them (`protocol` defaulted to
    /// `TCP` as the API server does; `problem` always `None`).
    pub ports: Vec<BackendPort>,
}

/// `spec.ports` of a spec (none when it has none or they do not decode).
fn ports_of(spec: Option<&serde_json::Value>) -> Vec<BackendPort> {
    let Some(ports) = spec.and_then(|s| s.get("ports")) else {
        return Vec::new();
    };
    Vec::<ServicePort>::deserialize(ports)
        .map(|ports| ports.iter().map(backend_port).collect())
        .unwrap_or_default()
}

fn backend_port(port: &ServicePort) -> BackendPort {
    BackendPort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        port: port.port,
        protocol: port.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
        app_protocol: port.app_protocol.clone(),
        target_port: port.target_port.as_ref().map(|t| match t {
            IntOrString::Int(n) => TargetPort::Number(*n),
            IntOrString::String(name) => TargetPort::Name(name.clone()),
        }),
        problem: None,
    }
}

/// The digest of a spec (`None`: the Service has none).
fn digest(spec: Option<&serde_json::Value>) -> u64 {
    let mut hasher = DefaultHasher::new();
    // A JSON tree's maps are ordered, so equal specs serialize to the same text.
    spec.map(|s| s.to_string()).hash(&mut hasher);
    hasher.finish()
}

impl<'de> Deserialize<'de> for CachedService {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: ObjectMeta,
            #[serde(default)]
            spec: Option<serde_json::Value>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(CachedService {
            metadata: wire.metadata,
            spec_digest: digest(wire.spec.as_ref()),
            ports: ports_of(wire.spec.as_ref()),
        })
    }
}

impl From<&Service> for CachedService {
    fn from(service: &Service) -> Self {
        let spec = service
            .spec
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        CachedService {
            metadata: service.metadata.clone(),
            spec_digest: digest(spec.as_ref()),
            ports: ports_of(spec.as_ref()),
        }
    }
}

lean_resource!(CachedService => Service);

#[cfg(test)]
mod tests {
    use kube::Resource;

    use super::*;

    fn decoded(json: serde_json::Value) -> CachedService {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_a_spec_change_changes_the_digest() {
        let web = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
        });
        let cached = decoded(web.clone());
        assert_eq!(cached.metadata.uid.as_deref(), Some("u1"));
        let mut status = web.clone();
        status["metadata"]["resourceVersion"] = "2".into();
        status["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
        assert_eq!(decoded(status).spec_digest, cached.spec_digest);
        let mut port = web.clone();
        port["spec"]["ports"][0]["port"] = 81.into();
        assert_ne!(decoded(port).spec_digest, cached.spec_digest);
        let mut no_spec = web;
        no_spec.as_object_mut().unwrap().remove("spec");
        assert_ne!(decoded(no_spec).spec_digest, cached.spec_digest);
        // The same digest from a typed Service as from the wire.
        let typed: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
        }))
        .unwrap();
        assert_eq!(CachedService::from(&typed), cached);
    }

    #[test]
    fn ports_are_kept_as_the_view_shows_them() {
        let cached = decoded(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "appProtocol": "http"},
                {"name": "grpc", "port": 9090, "protocol": "UDP", "targetPort": "grpc-port"},
            ]},
        }));
        assert_eq!(
            cached.ports,
            [
                BackendPort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: "TCP".into(),
                    app_protocol: Some("http".into()),
                    target_port: Some(TargetPort::Number(8080)),
                    problem: None,
                },
                BackendPort {
                    name: Some("grpc".into()),
                    port: 9090,
                    protocol: "UDP".into(),
                    app_protocol: None,
                    target_port: Some(TargetPort::Name("grpc-port".into())),
                    problem: None,
                },
            ]
        );
        assert!(
            decoded(serde_json::json!({"metadata": {"name": "x"}}))
                .ports
                .is_empty()
        );
    }

    #[test]
    fn lists_and_watches_are_those_of_services() {
        assert_eq!(CachedService::plural(&()), "services");
        assert_eq!(CachedService::api_version(&()), "v1");
        assert_eq!(CachedService::kind(&()), "Service");
    }
}
