//! The member clusters of a backend Service: readiness, the member Service's load-balancer
//! addresses (from the Service's ResourceBinding) and the endpoints Karmada collected.

use std::collections::BTreeMap;

use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::cluster::REMEDY_ACTION_TRAFFIC_CONTROL;
use mcp_interface::api::work::ResourceBinding;
use mcp_interface::backends::{BackendCluster, BalancerAddress, Endpoint};

use crate::context::Caches;
use crate::controllers::references::collected_slices_by_service;
use crate::key::ObjectKey;

/// The clusters Service `namespace/service`'s `binding` places it on, sorted by name: each with
/// its readiness, the `TrafficControl` remedy action (`trafficBlocked`), the member balancers the
/// binding aggregates and the endpoints Karmada collected from it.
pub fn clusters_view(
    caches: &Caches,
    namespace: &str,
    service: &str,
    binding: &ResourceBinding,
) -> Vec<BackendCluster> {
    let names = binding.scheduled_clusters();
    if names.is_empty() {
        return Vec::new();
    }
    let mut endpoints = endpoints_by_cluster(caches, namespace, service);
    let clusters = caches.clusters().store();
    names
        .into_iter()
        .map(|name| {
            let cluster = clusters.get(&ObjectRef::new(&name));
            BackendCluster {
                ready: cluster.as_ref().is_some_and(|c| c.is_ready()),
                traffic_blocked: cluster
                    .as_ref()
                    .is_some_and(|c| c.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)),
                load_balancer: balancer_addresses(binding, &name),
                endpoints: endpoints.remove(name.as_str()).unwrap_or_default(),
                name,
            }
        })
        .collect()
}

/// The endpoints of the slices Karmada collected for Service `namespace/service`, by the
/// cluster they came from, each cluster's sorted by address (then ports).
fn endpoints_by_cluster(
    caches: &Caches,
    namespace: &str,
    service: &str,
) -> BTreeMap<String, Vec<Endpoint>> {
    let slices = collected_slices_by_service(caches.endpoint_slices());
    let mut by_cluster: BTreeMap<String, Vec<Endpoint>> = BTreeMap::new();
    for slice in slices.get(&ObjectKey::namespaced(namespace, service).to_string()) {
        let Some(cluster) = slice.collected_from() else {
            continue;
        };
        let endpoints = by_cluster.entry(cluster.to_owned()).or_default();
        endpoints.extend(slice.endpoints.iter().map(|e| Endpoint {
            addresses: e.addresses.clone(),
            ports: slice.ports.clone(),
            ready: e.ready,
            serving: e.serving,
            terminating: e.terminating,
            zone: e.zone.clone(),
            node_name: e.node_name.clone(),
        }));
    }
    for endpoints in by_cluster.values_mut() {
        endpoints.sort_by(|a, b| {
            a.addresses
                .cmp(&b.addresses)
                .then_with(|| port_keys(a).cmp(port_keys(b)))
        });
    }
    by_cluster
}

/// What endpoints with the same addresses are ordered by: their ports, compared in place.
fn port_keys(e: &Endpoint) -> impl Iterator<Item = (i32, &str, Option<&str>)> {
    e.ports
        .iter()
        .map(|p| (p.port, p.protocol.as_str(), p.name.as_deref()))
}

/// The member Service's load-balancer addresses in `cluster`, as Karmada aggregates them into
/// the binding: `status.aggregatedStatus[clusterName].status.loadBalancer.ingress[]`.
pub fn balancer_addresses(rb: &ResourceBinding, cluster: &str) -> Vec<BalancerAddress> {
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    rb.status
        .iter()
        .flat_map(|s| s.aggregated_status.iter().flatten())
        .filter(|item| item.cluster_name == cluster)
        .filter_map(|item| item.status.as_ref())
        .filter_map(|status| status.pointer("/loadBalancer/ingress")?.as_array())
        .flatten()
        .map(|ingress| BalancerAddress {
            ip: text(ingress, "ip"),
            hostname: text(ingress, "hostname"),
        })
        .filter(|a| a.ip.is_some() || a.hostname.is_some())
        .collect()
}
