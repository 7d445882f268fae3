//! The backend views `verify` sends a provider that takes them (interface 1.2): made from the
//! suite's object as the controller would resolve them in a Karmada with two member clusters, so
//! each view is consistent with its object: every Service the object routes to appears once,
//! with the ports the object uses (a port named in the object resolves to a number), in
//! `member1` and `member2`, with endpoints; an MCI's TLS entries come with a certificate and a
//! key. The scaled view is the same backends after a change that touches no object: `member2`
//! scaled up and `member1` blocked from traffic by a Remedy.

use std::collections::BTreeMap;

use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::backends::{
    BackendCluster, BackendPort, BackendService, Backends, BalancerAddress, Endpoint, EndpointPort,
    PrivateKey, TargetPort, TlsCertificate,
};

/// The view behind an MCI: its Services (rules and default backend) and TLS entries.
pub fn of_ingress(mci: &MultiClusterIngress, scaled: bool) -> Backends {
    let namespace = mci.metadata.namespace.clone().unwrap_or_default();
    let spec = mci.spec.as_ref();
    let mut services: BTreeMap<String, Vec<BackendPort>> = BTreeMap::new();
    let backends = spec
        .into_iter()
        .flat_map(|s| s.rules.iter().flatten())
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter().map(|p| &p.backend))
        .chain(spec.and_then(|s| s.default_backend.as_ref()));
    for backend in backends {
        let Some(service) = &backend.service else {
            continue;
        };
        let port = service.port.as_ref();
        let (name, number) = match (
            port.and_then(|p| p.name.clone()),
            port.and_then(|p| p.number),
        ) {
            (Some(name), _) => (Some(name.clone()), named_port(&name)),
            (None, number) => (None, number.unwrap_or(80)),
        };
        let ports = services.entry(service.name.clone()).or_default();
        if !ports.iter().any(|p| p.port == number) {
            ports.push(port_of(name, number));
        }
    }
    let tls = spec
        .into_iter()
        .flat_map(|s| s.tls.iter().flatten())
        .map(|entry| {
            let secret = entry.secret_name.clone().unwrap_or_default();
            TlsCertificate {
                hosts: entry.hosts.clone().unwrap_or_default(),
                certificate: Some(format!(
                    "-----BEGIN CERTIFICATE-----\n{secret}\n-----END CERTIFICATE-----\n"
                )),
                private_key: Some(PrivateKey::new(format!(
                    "-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"
                ))),
                secret_name: secret,
                problem: None,
            }
        })
        .collect();
    Backends {
        resolved: true,
        services: services
            .into_iter()
            .map(|(name, ports)| service(&namespace, name, ports, scaled))
            .collect(),
        tls,
    }
}

/// The view behind an MCS: its Service (the MCS's name) with the MCS's ports.
pub fn of_service(mcs: &MultiClusterService, scaled: bool) -> Backends {
    let namespace = mcs.metadata.namespace.clone().unwrap_or_default();
    let ports = mcs
        .spec
        .ports
        .iter()
        .flatten()
        .map(|p| port_of(p.name.clone(), p.port))
        .collect();
    let name = mcs.metadata.name.clone().unwrap_or_default();
    Backends {
        resolved: true,
        services: vec![service(&namespace, name, ports, scaled)],
        tls: vec![],
    }
}

/// The number a named port has in the suite's Services.
fn named_port(name: &str) -> i32 {
    match name {
        "http" => 80,
        "https" => 443,
        "grpc-api" => 50051,
        _ => 8080,
    }
}

fn port_of(name: Option<String>, port: i32) -> BackendPort {
    BackendPort {
        name,
        port,
        protocol: "TCP".into(),
        app_protocol: None,
        target_port: Some(TargetPort::Number(port + 8000)),
        problem: None,
    }
}

fn service(namespace: &str, name: String, ports: Vec<BackendPort>, scaled: bool) -> BackendService {
    let endpoint_ports: Vec<EndpointPort> = ports
        .iter()
        .map(|p| EndpointPort {
            name: p.name.clone(),
            port: p.port + 8000,
            protocol: "TCP".into(),
            app_protocol: None,
        })
        .collect();
    let cluster = |index: u8, endpoints: u8, blocked: bool| BackendCluster {
        name: format!("member{index}"),
        ready: true,
        traffic_blocked: blocked,
        load_balancer: vec![BalancerAddress {
            ip: Some(format!("203.0.113.{index}")),
            hostname: None,
        }],
        endpoints: (1..=endpoints)
            .map(|n| Endpoint {
                addresses: vec![format!("10.{index}.0.{n}")],
                ports: endpoint_ports.clone(),
                ready: true,
                serving: true,
                terminating: false,
                zone: Some(format!("zone-{index}")),
                node_name: Some(format!("member{index}-node")),
            })
            .collect(),
    };
    BackendService {
        namespace: namespace.to_owned(),
        name,
        found: true,
        ports,
        clusters: if scaled {
            vec![cluster(1, 2, true), cluster(2, 3, false)]
        } else {
            vec![cluster(1, 2, false), cluster(2, 1, false)]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::objects;

    #[test]
    fn each_view_names_every_service_of_its_object_once_with_resolved_ports() {
        for shape in objects::ingresses("ns").unwrap() {
            let view = of_ingress(&shape.object, false);
            assert!(view.resolved);
            let names: Vec<_> = view.services.iter().map(|s| s.name.as_str()).collect();
            let mut unique = names.clone();
            unique.dedup();
            assert_eq!(names, unique, "{}", shape.shape);
            assert!(!view.services.is_empty(), "{}", shape.shape);
            for service in &view.services {
                assert!(service.ports.iter().all(|p| p.port > 0), "{}", shape.shape);
                assert_eq!(service.clusters.len(), 2);
            }
            let tls = shape.object.spec.as_ref().and_then(|s| s.tls.as_ref());
            assert_eq!(view.tls.len(), tls.map_or(0, Vec::len), "{}", shape.shape);
        }
        let several = objects::ingresses("ns").unwrap();
        let several = several.iter().find(|s| s.shape == "several-rules").unwrap();
        let view = of_ingress(&several.object, false);
        let names: Vec<_> = view.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api-v1", "api-v2", "fallback", "static"]);
        for shape in objects::services("ns").unwrap() {
            let view = of_service(&shape.object, false);
            assert_eq!(view.services.len(), 1);
            assert_eq!(
                view.services[0].ports.len(),
                shape.object.spec.ports.as_ref().map_or(0, Vec::len)
            );
        }
    }

    #[test]
    fn the_scaled_view_differs_only_in_its_clusters() {
        let shapes = objects::services("ns").unwrap();
        let (before, after) = (
            of_service(&shapes[0].object, false),
            of_service(&shapes[0].object, true),
        );
        assert_ne!(before, after);
        assert_eq!(before.services[0].ports, after.services[0].ports);
        assert!(after.services[0].clusters[0].traffic_blocked);
        assert_eq!(after.services[0].clusters[1].endpoints.len(), 3);
    }
}
