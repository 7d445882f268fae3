//! The ports of a backend Service the object uses: an MCI's by number or by name, resolved
//! against the Service's ports; an MCS's by number (or all the Service's).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{IngressBackend, ServiceBackendPort};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::backends::BackendPort;

use super::{PORT_NOT_FOUND, Problem};
use crate::cache::CachedService;

/// Resolved ports and the problems found.
pub type Ports = (Vec<BackendPort>, Vec<Problem>);

/// The ports each Service an MCI references is used with (rules' paths and the default
/// backend), by Service name (sorted, each Service once).
pub fn mci_ports(mci: &MultiClusterIngress) -> BTreeMap<String, Vec<ServiceBackendPort>> {
    let mut ports: BTreeMap<String, Vec<ServiceBackendPort>> = BTreeMap::new();
    let Some(spec) = &mci.spec else {
        return ports;
    };
    let paths = spec
        .rules
        .iter()
        .flatten()
        .flat_map(|rule| rule.http.iter().flat_map(|h| h.paths.iter()))
        .map(|path| &path.backend);
    for backend in spec.default_backend.iter().chain(paths) {
        let IngressBackend {
            service: Some(service),
            ..
        } = backend
        else {
            continue;
        };
        let wanted = ports.entry(service.name.clone()).or_default();
        let port = service.port.clone().unwrap_or_default();
        if !wanted.contains(&port) {
            wanted.push(port);
        }
    }
    ports
}

/// The ports an MCI uses of Service `namespace/name` (`None`: not found), each once, sorted by
/// number then name. A port the Service lacks is kept with its `problem`; without the Service,
/// the ports are what the MCI says (`TCP`: an Ingress backend is HTTP).
pub fn resolve_mci_ports(
    namespace: &str,
    name: &str,
    service: Option<&CachedService>,
    wanted: &[ServiceBackendPort],
) -> Ports {
    let mut problems = Vec::new();
    let mut ports: Vec<BackendPort> = wanted
        .iter()
        .map(|want| {
            let Some(service) = service else {
                return stated(want.name.clone(), want.number.unwrap_or_default());
            };
            let found = match (&want.number, &want.name) {
                (Some(number), _) => service.ports.iter().find(|p| p.port == *number),
                (None, Some(port_name)) => service
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(port_name)),
                (None, None) => None,
            };
            found.cloned().unwrap_or_else(|| {
                let problem = match (&want.number, &want.name) {
                    (Some(number), _) => format!("Service {namespace}/{name} has no port {number}"),
                    (None, Some(port_name)) => {
                        format!("Service {namespace}/{name} has no port named {port_name}")
                    }
                    (None, None) => {
                        format!("a backend of Service {namespace}/{name} names no port")
                    }
                };
                problems.push(Problem {
                    reason: PORT_NOT_FOUND,
                    message: problem.clone(),
                });
                BackendPort {
                    problem: Some(problem),
                    ..stated(want.name.clone(), want.number.unwrap_or_default())
                }
            })
        })
        .collect();
    sort_and_dedup(&mut ports);
    (ports, problems)
}

/// The ports of an MCS's Service `namespace/name` (`None`: not found): those its `spec.ports`
/// selects by number, or all of the Service's when it selects none. Without the Service, the
/// ports are what the MCS says.
pub fn resolve_mcs_ports(
    namespace: &str,
    name: &str,
    service: Option<&CachedService>,
    mcs: &MultiClusterService,
) -> Ports {
    let selected = mcs.spec.ports.as_deref().unwrap_or_default();
    let mut problems = Vec::new();
    let mut ports: Vec<BackendPort> = match service {
        Some(service) if selected.is_empty() => service.ports.clone(),
        Some(service) => selected
            .iter()
            .map(|want| {
                service
                    .ports
                    .iter()
                    .find(|p| p.port == want.port)
                    .cloned()
                    .unwrap_or_else(|| {
                        let problem =
                            format!("Service {namespace}/{name} has no port {}", want.port);
                        problems.push(Problem {
                            reason: PORT_NOT_FOUND,
                            message: problem.clone(),
                        });
                        BackendPort {
                            problem: Some(problem),
                            ..stated(want.name.clone(), want.port)
                        }
                    })
            })
            .collect(),
        None => selected
            .iter()
            .map(|want| stated(want.name.clone(), want.port))
            .collect(),
    };
    sort_and_dedup(&mut ports);
    (ports, problems)
}

/// A port as the object states it, unresolved.
fn stated(name: Option<String>, port: i32) -> BackendPort {
    BackendPort {
        name: name.filter(|n| !n.is_empty()),
        port,
        protocol: "TCP".to_owned(),
        ..BackendPort::default()
    }
}

fn sort_and_dedup(ports: &mut Vec<BackendPort>) {
    ports.sort_by(|a, b| (a.port, &a.name, &a.problem).cmp(&(b.port, &b.name, &b.problem)));
    ports.dedup();
}
