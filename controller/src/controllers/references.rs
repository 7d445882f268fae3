//! What refers to what, read from the caches: the Services and Secrets a MultiClusterIngress
//! names, the MCIs that name a Service, a Secret or a cluster (indexes of the MCI cache, as
//! Go's), the ResourceBinding that places a Service and the bindings placed on a cluster, and
//! the EndpointSlices Karmada collected for a Service. Several controllers ask these questions;
//! answering them here keeps them consistent.

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::cache::{CachedEndpointSlice, Index, SharedCache};
use crate::key::ObjectKey;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService, ServiceLocation};
use mcp_interface::api::work::{ResourceBinding, binding_name};

/// The kind and API version of a core Service (in bindings' `spec.resource` and in
/// ownerReferences).
pub const SERVICE_KIND: &str = "Service";
pub const SERVICE_API_VERSION: &str = "v1";

/// The Services an MCI references: its rules' backends and its default backend.
pub fn referenced_services(mci: &MultiClusterIngress) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Some(spec) = &mci.spec else {
        return names;
    };
    if let Some(svc) = spec
        .default_backend
        .as_ref()
        .and_then(|b| b.service.as_ref())
    {
        names.insert(svc.name.clone());
    }
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
            if let Some(svc) = &path.backend.service {
                names.insert(svc.name.clone());
            }
        }
    }
    names
}

/// The TLS Secrets an MCI references.
pub fn referenced_secrets(mci: &MultiClusterIngress) -> BTreeSet<String> {
    mci.spec
        .iter()
        .flat_map(|s| s.tls.iter().flatten())
        .filter_map(|t| t.secret_name.clone())
        .collect()
}

/// The MCI cache's index of the Services each MCI references (`namespace/service`), shared by
/// every controller that asks for it.
pub fn mcis_by_service(mcis: &SharedCache<MultiClusterIngress>) -> Index<MultiClusterIngress> {
    mcis.index("referenced-services", referenced_service_keys)
}

fn referenced_service_keys(mci: &MultiClusterIngress) -> Vec<String> {
    let namespace = mci.namespace().unwrap_or_default();
    referenced_services(mci)
        .into_iter()
        .map(|service| ObjectKey::namespaced(&namespace, &service).to_string())
        .collect()
}

/// The MCIs that reference Service `service` in its namespace (any IngressClass), from the
/// index [`mcis_by_service`]: the cost is that of the MCIs found, not of all MCIs.
pub fn mcis_referencing(
    by_service: &Index<MultiClusterIngress>,
    service: &ObjectKey,
) -> Vec<Arc<MultiClusterIngress>> {
    by_service.get(&service.to_string())
}

/// The MCI cache's index of the TLS Secrets each MCI references (`namespace/secret`).
pub fn mcis_by_secret(mcis: &SharedCache<MultiClusterIngress>) -> Index<MultiClusterIngress> {
    mcis.index("referenced-secrets", |mci| {
        let namespace = mci.namespace().unwrap_or_default();
        referenced_secrets(mci)
            .into_iter()
            .map(|secret| ObjectKey::namespaced(&namespace, &secret).to_string())
            .collect()
    })
}

/// `status.serviceLocations` of an MCI, as recorded.
pub fn service_locations(mci: &MultiClusterIngress) -> Option<&Vec<ServiceLocation>> {
    mci.status.as_ref()?.service_locations.as_ref()
}

/// The clusters of an MCI's `status.serviceLocations` (every Service's), sorted.
pub fn located_clusters(mci: &MultiClusterIngress) -> BTreeSet<&str> {
    service_locations(mci)
        .into_iter()
        .flatten()
        .flat_map(|l| l.clusters.iter().flatten())
        .map(String::as_str)
        .collect()
}

/// The MCI cache's index of the clusters each MCI's backends are located on (its
/// `status.serviceLocations`), by cluster name.
pub fn mcis_by_cluster(mcis: &SharedCache<MultiClusterIngress>) -> Index<MultiClusterIngress> {
    mcis.index("located-clusters", |mci| {
        located_clusters(mci)
            .into_iter()
            .map(str::to_owned)
            .collect()
    })
}

/// The ResourceBinding cache's index of the bindings of `v1` Services by the clusters they are
/// scheduled on.
pub fn service_bindings_by_cluster(
    bindings: &SharedCache<ResourceBinding>,
) -> Index<ResourceBinding> {
    bindings.index("service-bindings-by-cluster", |rb| {
        if bound_service(rb).is_none() {
            return Vec::new();
        }
        rb.scheduled_clusters().into_iter().collect()
    })
}

/// The EndpointSlice cache's index of the slices Karmada collected from member clusters, by
/// the Service they belong to (`namespace/service`, see
/// [`CachedEndpointSlice::collected_from`]).
pub fn collected_slices_by_service(
    slices: &SharedCache<CachedEndpointSlice>,
) -> Index<CachedEndpointSlice> {
    slices.index("collected-by-service", |slice| {
        let (Some(service), Some(_)) = (slice.service(), slice.collected_from()) else {
            return Vec::new();
        };
        let namespace = slice.metadata.namespace.as_deref().unwrap_or_default();
        vec![ObjectKey::namespaced(namespace, service).to_string()]
    })
}

/// Whether `mci` is in `namespace` and references Service `service`.
fn references(mci: &MultiClusterIngress, namespace: &str, service: &str) -> bool {
    mci.namespace().as_deref() == Some(namespace) && referenced_services(mci).contains(service)
}

/// Whether Service `namespace/service` is referenced by an MCI (any class) or a load-balanced
/// MCS of the same name.
pub fn is_referenced(
    mcss: &Store<MultiClusterService>,
    mcis: &Store<MultiClusterIngress>,
    namespace: &str,
    service: &str,
) -> bool {
    let mcs = mcss.get(&ObjectRef::new(service).within(namespace));
    if mcs.is_some_and(|mcs| mcs.spec.has_load_balancer()) {
        return true;
    }
    mcis.find(|mci| references(mci, namespace, service))
        .is_some()
}

/// The ResourceBinding of Service `namespace/service`: a binding in the namespace whose
/// `spec.resource` is that `v1` Service, preferring the one Karmada names
/// `binding_name("Service", service)` (`<svc>-service`), else the first by name. The Go
/// `mci-service-locations` controller only looks by name and `serviceexport-propagation` only
/// by `spec.resource`; for the bindings Karmada makes both find the same one, and sharing this
/// lookup keeps the two controllers consistent.
pub fn service_binding(
    bindings: &SharedCache<ResourceBinding>,
    namespace: &str,
    service: &str,
) -> Option<Arc<ResourceBinding>> {
    let preferred = binding_name(SERVICE_KIND, service);
    bindings_by_service(bindings)
        .get(&ObjectKey::namespaced(namespace, service).to_string())
        .into_iter()
        .filter(|rb| rb.metadata.namespace.as_deref() == Some(namespace))
        .min_by(|a, b| {
            let rank = |rb: &ResourceBinding| {
                let name = rb.metadata.name.clone().unwrap_or_default();
                (name != preferred, name)
            };
            rank(a).cmp(&rank(b))
        })
}

/// The ResourceBinding cache's index of the bindings of `v1` Services by the Service they bind
/// (`namespace/service`, the namespace as [`bound_namespace`] reads it).
fn bindings_by_service(bindings: &SharedCache<ResourceBinding>) -> Index<ResourceBinding> {
    bindings.index("bindings-by-service", |rb| {
        bound_service(rb)
            .map(|service| ObjectKey::namespaced(&bound_namespace(rb), service).to_string())
            .into_iter()
            .collect()
    })
}

/// The clusters Service `namespace/service` is placed on (sorted), or `None` when it has no
/// ResourceBinding.
pub fn service_clusters(
    bindings: &SharedCache<ResourceBinding>,
    namespace: &str,
    service: &str,
) -> Option<BTreeSet<String>> {
    service_binding(bindings, namespace, service).map(|rb| rb.scheduled_clusters())
}

/// The name of the `v1` Service a binding binds, if it binds one.
pub fn bound_service(rb: &ResourceBinding) -> Option<&str> {
    let resource = &rb.spec.resource;
    (resource.kind == SERVICE_KIND && resource.api_version == SERVICE_API_VERSION)
        .then_some(resource.name.as_str())
}

/// The namespace of the Service a binding binds: `spec.resource.namespace`, else the binding's.
pub fn bound_namespace(rb: &ResourceBinding) -> String {
    rb.spec
        .resource
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| rb.namespace())
        .unwrap_or_default()
}

/// The key of the `v1` Service a binding binds, if it binds one.
pub fn bound_key(rb: &ResourceBinding) -> Option<ObjectKey> {
    bound_service(rb).map(|svc| ObjectKey::namespaced(&bound_namespace(rb), svc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::fixtures::{cache, object, store};

    #[test]
    fn references_cover_rules_default_backend_and_tls() {
        let m: MultiClusterIngress = object(
            r#"
metadata: {name: a, namespace: ns}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  tls: [{hosts: [a.example.com], secretName: a-tls}, {hosts: [b.example.com]}]
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
      - {path: /r, pathType: Prefix, backend: {resource: {apiGroup: x, kind: Bucket, name: b}}}
"#,
        );
        assert_eq!(
            referenced_services(&m).into_iter().collect::<Vec<_>>(),
            ["api", "fallback", "web"]
        );
        assert_eq!(
            referenced_secrets(&m).into_iter().collect::<Vec<_>>(),
            ["a-tls"]
        );
        // What serviceexport-propagation asks (its `mci_references` before it used this).
        assert!(referenced_services(&m).contains("fallback"));
        assert!(referenced_services(&m).contains("web"));
        assert!(!referenced_services(&m).contains("b"));
        assert!(!referenced_services(&m).contains("other"));
    }

    #[test]
    fn mcis_referencing_a_service_are_found_in_its_namespace_whatever_their_class() {
        let yaml = |namespace: &str, name: &str, class: &str, service: &str| {
            format!(
                "metadata: {{name: {name}, namespace: {namespace}}}\nspec: {{ingressClassName: {class}, defaultBackend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}"
            )
        };
        let mcis = cache([
            object::<MultiClusterIngress>(&yaml("ns", "a", "fake", "web")),
            object::<MultiClusterIngress>(&yaml("ns", "b", "other", "web")),
            object::<MultiClusterIngress>(&yaml("ns", "c", "fake", "api")),
            object::<MultiClusterIngress>(&yaml("elsewhere", "d", "fake", "web")),
        ]);
        let mut found: Vec<String> =
            mcis_referencing(&mcis_by_service(&mcis), &ObjectKey::namespaced("ns", "web"))
                .iter()
                .map(|m| m.name_any())
                .collect();
        found.sort();
        assert_eq!(found, ["a", "b"]);
        let mcss = store([
            object::<MultiClusterService>(
                "metadata: {name: lb, namespace: ns}\nspec: {types: [LoadBalancer]}",
            ),
            object::<MultiClusterService>(
                "metadata: {name: cross, namespace: ns}\nspec: {types: [CrossCluster]}",
            ),
        ]);
        let mcis = mcis.store();
        assert!(is_referenced(&mcss, mcis, "ns", "web"));
        assert!(is_referenced(&mcss, mcis, "ns", "lb"));
        assert!(!is_referenced(&mcss, mcis, "ns", "cross"));
        assert!(!is_referenced(&mcss, mcis, "other", "web"));
    }
}
