//! `mci-service-locations`: where the backend Services of each MultiClusterIngress are placed.
//!
//! Reconcile (as the Go original): `status.serviceLocations` = for each Service the MCI
//! references (rules' backends and default backend), sorted by name, `{name, clusters}` with
//! the clusters of the Service's ResourceBinding (the sorted union of `spec.clusters[].name` and
//! `spec.requiredBy[].clusters[].name`; `clusters` is omitted when that union is empty). A
//! Service without a binding gets no entry. The list is written only when it changed, as a
//! merge patch on `/status` of `serviceLocations` alone: `loadBalancer` and
//! `trafficBlockClusters` belong to the `multiclusteringress` controller.
//!
//! Acts on **every** MCI, whatever its IngressClass, as the Go controller does: the locations
//! depend only on Karmada's scheduling, so every provider instance computes the same value, and
//! the `multiclusteringress` controller of the right class reads them.
//!
//! Re-triggered when an MCI is created, when the set of Services it references changes, or when
//! its `status.serviceLocations` is changed by someone else (drift is put back; Go only watches
//! the spec); when a ResourceBinding of a `v1` Service is created or deleted or its scheduled
//! clusters change (mapped to the MCIs of its namespace that reference that Service).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::networking::{MultiClusterIngress, ServiceLocation};
use mcp_interface::api::work::{ResourceBinding, binding_name};
use serde_json::json;

use crate::cache::Change;
use crate::context::{CacheKind, Context};
use crate::controllers::multicluster_ingress::referenced_services;
use crate::controllers::{Trigger, run_controller};
use crate::error::Result;

pub const NAME: &str = "mci-service-locations";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
    CacheKind::ResourceBindings,
];

/// The kind and API version of the templates whose bindings place Services.
const SERVICE_KIND: &str = "Service";
const SERVICE_API_VERSION: &str = "v1";

/// The ResourceBinding of Service `namespace/service`: a binding in the namespace whose
/// `spec.resource` is that `v1` Service, preferring the one Karmada names
/// `binding_name("Service", service)` (`<svc>-service`), else the first by name. The Go
/// `mci-service-locations` controller only looks by name and `serviceexport-propagation` only
/// by `spec.resource`; for the bindings Karmada makes both find the same one, and sharing this
/// lookup keeps the two controllers consistent.
pub fn service_binding(
    bindings: &Store<ResourceBinding>,
    namespace: &str,
    service: &str,
) -> Option<Arc<ResourceBinding>> {
    let binds = |rb: &ResourceBinding| {
        bound_service(rb) == Some(service) && bound_namespace(rb) == namespace
    };
    let by_name = ObjectRef::new(&binding_name(SERVICE_KIND, service)).within(namespace);
    if let Some(rb) = bindings.get(&by_name).filter(|rb| binds(rb)) {
        return Some(rb);
    }
    let mut matching =
        bindings.state_filter(|rb| rb.namespace().as_deref() == Some(namespace) && binds(rb));
    matching.sort_by_key(|rb| rb.name_any());
    matching.into_iter().next()
}

/// The clusters Service `namespace/service` is placed on (sorted), or `None` when it has no
/// ResourceBinding.
pub fn service_clusters(
    bindings: &Store<ResourceBinding>,
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

/// `(namespace, name)` of the `v1` Service a binding binds, if it binds one.
pub fn bound_key(rb: &ResourceBinding) -> Option<(String, String)> {
    bound_service(rb).map(|svc| (bound_namespace(rb), svc.to_owned()))
}

/// The service locations of `mci`: its referenced Services that have a binding, sorted by name.
/// The Services (namespace, name) whose placement a ResourceBinding change affects: those the
/// binding is for, before and after, when the binding appeared, went, or its clusters changed.
pub fn services_of_binding_change(
    change: &Change<'_, ResourceBinding>,
) -> BTreeSet<(String, String)> {
    match change {
        Change::Applied {
            old: Some(old),
            new,
        } if bound_key(old) == bound_key(new)
            && old.scheduled_clusters() == new.scheduled_clusters() =>
        {
            BTreeSet::new()
        }
        Change::Applied { old, new } => old
            .and_then(bound_key)
            .into_iter()
            .chain(bound_key(new))
            .collect(),
        Change::Deleted(rb) => bound_key(rb).into_iter().collect(),
    }
}

pub fn service_locations(
    mci: &MultiClusterIngress,
    bindings: &Store<ResourceBinding>,
) -> Vec<ServiceLocation> {
    let namespace = mci.namespace().unwrap_or_default();
    referenced_services(mci)
        .into_iter()
        .filter_map(|name| {
            let clusters = service_clusters(bindings, &namespace, &name)?;
            Some(ServiceLocation {
                name,
                clusters: (!clusters.is_empty()).then(|| clusters.into_iter().collect()),
            })
        })
        .collect()
}

/// Compares locations as the API server stores them (no list and an empty list are the same).
fn same_locations(current: Option<&Vec<ServiceLocation>>, desired: &[ServiceLocation]) -> bool {
    let norm = |l: &ServiceLocation| (l.name.clone(), l.clusters.clone().unwrap_or_default());
    let current: Vec<_> = current.into_iter().flatten().map(norm).collect();
    let desired: Vec<_> = desired.iter().map(norm).collect();
    current == desired
}

fn recorded_locations(mci: &MultiClusterIngress) -> Option<&Vec<ServiceLocation>> {
    mci.status.as_ref()?.service_locations.as_ref()
}

async fn reconcile(mci: Arc<MultiClusterIngress>, ctx: Arc<Context>) -> Result<Action> {
    let desired = service_locations(&mci, ctx.caches.bindings().store());
    if same_locations(recorded_locations(&mci), &desired) {
        tracing::debug!("service locations up to date");
        return Ok(Action::await_change());
    }
    let value = if desired.is_empty() {
        json!(null)
    } else {
        serde_json::to_value(&desired)?
    };
    let api: Api<MultiClusterIngress> =
        Api::namespaced(ctx.client.clone(), &mci.namespace().unwrap_or_default());
    let patch = json!({ "status": { "serviceLocations": value } });
    match api
        .patch_status(
            &mci.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => {
            tracing::info!(locations = ?desired, "updated the service locations");
            Ok(Action::await_change())
        }
        // Deleted meanwhile: nothing left to describe.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<MultiClusterIngress>::new();
        let caches = ctx.caches.clone();
        let mcis = caches.mcis().clone();

        let _subscriptions = [
            mcis.subscribe({
                let trigger = trigger.clone();
                move |change| {
                    if let Change::Applied { old, new } = change
                        && old.is_none_or(|old| {
                            referenced_services(old) != referenced_services(new)
                                || recorded_locations(old) != recorded_locations(new)
                        })
                    {
                        trigger.enqueue_obj(new);
                    }
                }
            }),
            caches.bindings().subscribe({
                let mcis = mcis.clone();
                let trigger = trigger.clone();
                move |change| {
                    let services = services_of_binding_change(change);
                    if services.is_empty() {
                        return;
                    }
                    for mci in mcis.store().state() {
                        let namespace = mci.namespace().unwrap_or_default();
                        if referenced_services(&mci)
                            .into_iter()
                            .any(|svc| services.contains(&(namespace.clone(), svc)))
                        {
                            trigger.enqueue_obj(&mci);
                        }
                    }
                }
            }),
        ];

        trigger.enqueue_existing(mcis.store(), |_| true);
        run_controller(
            NAME,
            ctx.clone(),
            mcis.store().clone(),
            triggers,
            reconcile,
            shutdown,
        )
        .await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher;

    fn bindings(yaml: &[&str]) -> Store<ResourceBinding> {
        let (store, mut writer) = kube::runtime::reflector::store();
        writer.apply_watcher_event(&watcher::Event::Init);
        for doc in yaml {
            let rb: ResourceBinding = serde_yaml::from_str(doc).unwrap();
            writer.apply_watcher_event(&watcher::Event::InitApply(rb));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        store
    }

    fn mci(yaml: &str) -> MultiClusterIngress {
        serde_yaml::from_str(yaml).unwrap()
    }

    const MCI: &str = r#"
metadata: {name: web, namespace: ns}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: serve, port: {number: 80}}}}
      - {path: /a, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
"#;

    #[test]
    fn locations_are_sorted_unions_and_skip_unbound_services() {
        let store = bindings(&[
            r#"
metadata: {name: serve-service, namespace: ns}
spec:
  resource: {apiVersion: v1, kind: Service, name: serve, namespace: ns}
  clusters: [{name: member2}, {name: member1}]
  requiredBy: [{name: x, namespace: ns, clusters: [{name: member3}, {name: member1}]}]
"#,
            // Found through spec.resource although not named <svc>-service.
            r#"
metadata: {name: custom-binding, namespace: ns}
spec:
  resource: {apiVersion: v1, kind: Service, name: fallback, namespace: ns}
"#,
            // Another namespace: not ours.
            r#"
metadata: {name: api-service, namespace: other}
spec:
  resource: {apiVersion: v1, kind: Service, name: api, namespace: other}
  clusters: [{name: member1}]
"#,
        ]);
        let locations = service_locations(&mci(MCI), &store);
        assert_eq!(
            serde_json::to_value(&locations).unwrap(),
            json!([
                {"name": "fallback"},
                {"name": "serve", "clusters": ["member1", "member2", "member3"]},
            ])
        );
    }

    #[test]
    fn empty_and_missing_cluster_lists_compare_equal() {
        let desired = vec![ServiceLocation {
            name: "a".into(),
            clusters: None,
        }];
        let stored = vec![ServiceLocation {
            name: "a".into(),
            clusters: Some(vec![]),
        }];
        assert!(same_locations(Some(&stored), &desired));
        assert!(same_locations(None, &[]));
        assert!(same_locations(Some(&vec![]), &[]));
        assert!(!same_locations(None, &desired));
    }
}
