//! Test fixtures for the controllers' unit tests: objects from YAML and caches holding them.

use kube::Resource;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

/// MCI `ns/web`: default backend Service `fallback`, rules to Services `serve` and `api`.
pub const MCI: &str = r#"
metadata: {name: web, namespace: ns}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: serve, port: {number: 80}}}}
      - {path: /a, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
"#;

/// An object from YAML (or JSON, which is YAML).
pub fn object<K: DeserializeOwned>(yaml: &str) -> K {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("bad fixture: {e}\n{yaml}"))
}

/// A synced store holding `objects`, as a cache holds them after its first list.
pub fn store<K>(objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    for obj in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(obj));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    store
}

/// A synced shared cache holding `objects` (its task has run: indexes asked for later are built
/// from the store).
pub fn cache<K>(objects: impl IntoIterator<Item = K>) -> crate::cache::SharedCache<K>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    use crate::cache::Decoded;
    let events: Vec<Result<watcher::Event<Decoded<K>>, watcher::Error>> =
        std::iter::once(watcher::Event::Init)
            .chain(
                objects
                    .into_iter()
                    .map(|o| watcher::Event::InitApply(Decoded::Object(o))),
            )
            .chain(std::iter::once(watcher::Event::InitDone))
            .map(Ok)
            .collect();
    let (cache, driver) = crate::cache::SharedCache::new(
        "test",
        futures::stream::iter(events),
        crate::cache::Reports::undecodable(|_, error| panic!("undecodable fixture: {error}")),
    );
    futures::executor::block_on(driver);
    cache
}

/// The EndpointSlice `namespace/name` labelled with Service `service`
/// (`kubernetes.io/service-name`), without endpoints.
pub fn endpoint_slice(
    namespace: &str,
    name: &str,
    service: &str,
) -> crate::cache::CachedEndpointSlice {
    object(&format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{kubernetes.io/service-name: {service}}}}}"
    ))
}

/// A deletion timestamp, for objects being deleted.
pub fn deleting<K: Resource>(mut obj: K) -> K {
    obj.meta_mut().deletion_timestamp =
        Some(serde_json::from_value(serde_json::json!("2026-01-01T00:00:00Z")).unwrap());
    obj
}

/// The names of the requested objects, sorted (`namespace/name`).
pub fn names<K: kube::runtime::reflector::Lookup>(
    requests: impl IntoIterator<Item = kube::runtime::reflector::ObjectRef<K>>,
) -> Vec<String> {
    let mut names: Vec<String> = requests
        .into_iter()
        .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
        .collect();
    names.sort();
    names
}

/// The ResourceBinding `<service>-service` of Service `namespace/service`, scheduled on
/// `clusters`, aggregating for each `(cluster, ip)` of `balancers` a member Service whose load
/// balancer has that address.
pub fn service_binding(
    namespace: &str,
    service: &str,
    clusters: &[&str],
    balancers: &[(&str, &str)],
) -> mcp_interface::api::work::ResourceBinding {
    let aggregated: Vec<serde_json::Value> = balancers
        .iter()
        .map(|(cluster, ip)| {
            serde_json::json!({"clusterName": cluster, "applied": true, "health": "Healthy",
                "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{service}-service"), "namespace": namespace},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Service", "name": service, "namespace": namespace},
            "clusters": clusters.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>(),
        },
        "status": {"aggregatedStatus": aggregated},
    }))
    .unwrap()
}

/// Cluster `name`, `Ready` or not, with the `TrafficControl` remedy action when `blocked`.
pub fn cluster(name: &str, ready: bool, blocked: bool) -> mcp_interface::api::cluster::Cluster {
    let status = if ready { "True" } else { "False" };
    let actions: &[&str] = if blocked { &["TrafficControl"] } else { &[] };
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"syncMode": "Push"},
        "status": {
            "conditions": [{"type": "Ready", "status": status, "reason": "r", "message": "m",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "remedyActions": actions,
        },
    }))
    .unwrap()
}
