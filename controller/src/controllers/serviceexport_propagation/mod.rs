//! `serviceexport-propagation`: exports the Services behind MultiClusterIngresses and
//! load-balanced MultiClusterServices to the member clusters they run on.
//!
//! A Service `ns/svc` is *referenced* when an MCI in `ns` names it as a backend (rules or default
//! backend), or when MCS `ns/svc` has `LoadBalancer` in `spec.types`. MCIs count whatever their
//! IngressClass, as in the Go original (its decision lists MCIs through an index that ignores the
//! class): the ServiceExport and its policy are shared Karmada objects, and provider instances
//! serving different classes must agree on them rather than delete each other's.
//!
//! While a Service is referenced, this controller keeps:
//! - ServiceExport `ns/svc` (`multicluster.x-k8s.io/v1alpha1`, no spec), with a controller
//!   ownerReference to the Service (`v1` `Service`, `controller` and `blockOwnerDeletion` true, as
//!   Go's `NewControllerRef`);
//! - PropagationPolicy `ns/propagate-service-svc` selecting it
//!   (`{apiVersion: multicluster.x-k8s.io/v1alpha1, kind: ServiceExport, name: svc}`) with
//!   `placement.clusterAffinity.clusterNames` = the sorted clusters of the Service's
//!   ResourceBinding (`spec.clusters` ∪ `spec.requiredBy[].clusters`), and the same
//!   ownerReference. As in Go, no policy is written while the binding has no clusters (an empty
//!   `clusterNames` would select every cluster): an existing one keeps its last placement.
//!
//! Only owned fields are compared (selectors, ignoring the namespace the webhook fills in;
//! `clusterNames`; our ownerReference), so the server's defaults (`conflictResolution`,
//! `priority`, `schedulerName`, ...), Karmada's labels and finalizers never cause a write. A
//! policy's wrong fields are fixed with a merge patch of those fields alone.
//!
//! When the Service is no longer referenced, or is deleted or being deleted, both objects are
//! deleted, but only if they are controlled by a Service of that name. Deviations from Go,
//! for what a user would expect:
//! - Go leaves a deleted Service's objects to the garbage collector; we delete them ourselves
//!   (it is quick, and it also works where no garbage collector runs).
//! - Go deletes a same-named ServiceExport whoever made it; we never delete or take over a
//!   ServiceExport we do not control (a user's own export for a `CrossCluster` MCS survives).
//!   The policy name is reserved for this controller, as in Go: an uncontrolled
//!   `propagate-service-<svc>` is adopted (our ownerReference added), one controlled by
//!   something else is left alone.
//! - A Service re-created under the same name gets its objects' ownerReference updated to the
//!   new UID (Go relies on the garbage collector deleting them, then recreates them).
//! - Go reacts only to MCIs of its IngressClass, and ignores deleted ServiceExports and
//!   policies; we react to every MCI and put deleted or edited objects back.
//!
//! Reconcile key: the Service's `namespace/name`. kube-runtime reconciles only objects in its
//! store, and the Service may be gone (its objects then still need deleting), so the primary
//! store is our own: a stub Service (name and namespace only) is put in it whenever something
//! asks for a key, and removed when a reconcile finds nothing to keep and nothing left to
//! delete, unless the key was asked for again meanwhile (a per-key generation decides; no
//! request is lost). The real Service is read from the shared cache.
//!
//! Re-triggered when an MCI is created or deleted or the Services it references change (old and
//! new ones); when an MCS is created or deleted or gains or loses `LoadBalancer`; when a Service
//! is created, deleted, starts being deleted or changes UID; when a ResourceBinding of a `v1`
//! Service is created or deleted or its clusters change; when a ServiceExport is created,
//! deleted, or its ownerReferences or deletion state change; when a `propagate-service-*`
//! policy is created, deleted, or its spec, ownerReferences or deletion state change.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::watcher;
use mcp_interface::api::constants::{SERVICE_EXPORT_POLICY_PREFIX, service_export_policy_name};
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::policy::{
    ClusterAffinity, Placement, PropagationPolicy, PropagationSpec, ResourceSelector,
};
use serde_json::json;

use crate::cache::Change;
use crate::context::{CacheKind, Context};
use crate::controllers::mci_service_locations::{service_clusters, services_of_binding_change};
use crate::controllers::multicluster_ingress::referenced_services;
use crate::controllers::{Trigger, run_controller};
use crate::error::Result;

pub const NAME: &str = "serviceexport-propagation";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
    CacheKind::MultiClusterServices,
    CacheKind::Services,
    CacheKind::ResourceBindings,
    CacheKind::ServiceExports,
    CacheKind::PropagationPolicies,
];

const SERVICE_KIND: &str = "Service";
const SERVICE_API_VERSION: &str = "v1";
const SERVICE_EXPORT_KIND: &str = "ServiceExport";
const SERVICE_EXPORT_API_VERSION: &str = "multicluster.x-k8s.io/v1alpha1";

type Key = (String, String);

struct KeysState {
    writer: Writer<Service>,
    /// The generation of each key in the store, bumped on every request.
    generations: HashMap<Key, u64>,
    next: u64,
}

/// The controller's primary store: stub Services for the keys asked for (see the module doc).
struct Keys {
    state: Mutex<KeysState>,
    trigger: Trigger<Service>,
}

fn stub(namespace: &str, name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    }
}

impl Keys {
    fn new() -> (
        Arc<Keys>,
        Store<Service>,
        mpsc::UnboundedReceiver<ObjectRef<Service>>,
    ) {
        let (store, mut writer) = reflector::store();
        // Nothing to list: the store is complete (and ready) from the start.
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let (trigger, triggers) = Trigger::new();
        let keys = Keys {
            state: Mutex::new(KeysState {
                writer,
                generations: HashMap::new(),
                next: 0,
            }),
            trigger,
        };
        (Arc::new(keys), store, triggers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeysState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a reconcile of Service `namespace/name`, whether it exists or not.
    fn enqueue(&self, namespace: &str, name: &str) {
        if name.is_empty() {
            return;
        }
        {
            let mut state = self.lock();
            state.next += 1;
            let generation = state.next;
            let key = (namespace.to_owned(), name.to_owned());
            if state.generations.insert(key, generation).is_none() {
                state
                    .writer
                    .apply_watcher_event(&watcher::Event::Apply(stub(namespace, name)));
            }
        }
        self.trigger.enqueue(name, Some(namespace));
    }

    fn generation(&self, namespace: &str, name: &str) -> Option<u64> {
        self.lock()
            .generations
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// Drops the key, unless it was asked for again since `seen` (then that request runs).
    fn forget(&self, namespace: &str, name: &str, seen: Option<u64>) {
        let mut state = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        if state.generations.get(&key).copied() == seen && seen.is_some() {
            state.generations.remove(&key);
            state
                .writer
                .apply_watcher_event(&watcher::Event::Delete(stub(namespace, name)));
        }
    }
}

/// Whether `mci` names Service `service` as a backend (rules or default backend).
fn mci_references(mci: &MultiClusterIngress, service: &str) -> bool {
    let Some(spec) = &mci.spec else {
        return false;
    };
    let named = |b: &k8s_openapi::api::networking::v1::IngressBackend| {
        b.service.as_ref().is_some_and(|s| s.name == service)
    };
    spec.default_backend.as_ref().is_some_and(named)
        || spec
            .rules
            .iter()
            .flatten()
            .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter()))
            .any(|p| named(&p.backend))
}

/// Whether Service `namespace/service` is referenced by an MCI (any class) or a load-balanced
/// MCS of the same name.
pub fn is_referenced(ctx: &Context, namespace: &str, service: &str) -> bool {
    let mcs = ctx
        .caches
        .mcss()
        .store()
        .get(&ObjectRef::new(service).within(namespace));
    if mcs.is_some_and(|mcs| mcs.spec.has_load_balancer()) {
        return true;
    }
    ctx.caches
        .mcis()
        .store()
        .find(|mci| mci.namespace().as_deref() == Some(namespace) && mci_references(mci, service))
        .is_some()
}

fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether `r` points at a `v1` Service named `service` (any UID).
fn is_service_ref(r: &OwnerReference, service: &str) -> bool {
    r.api_version == SERVICE_API_VERSION && r.kind == SERVICE_KIND && r.name == service
}

/// Whether the object is controlled by a Service named `service` (this controller's objects).
fn controlled_by_service(meta: &ObjectMeta, service: &str) -> bool {
    controller_ref(meta).is_some_and(|r| is_service_ref(r, service))
}

/// The controller ownerReference to `svc` (Go: `metav1.NewControllerRef`).
fn owner_ref(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: SERVICE_API_VERSION.to_owned(),
        kind: SERVICE_KIND.to_owned(),
        name: svc.name_any(),
        uid: svc.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `meta`'s ownerReferences with `ours` as the one reference to the Service (stale references
/// to an earlier Service of that name dropped).
fn with_owner(meta: &ObjectMeta, ours: &OwnerReference) -> Vec<OwnerReference> {
    let mut refs: Vec<OwnerReference> = meta
        .owner_references
        .iter()
        .flatten()
        .filter(|r| !is_service_ref(r, &ours.name))
        .cloned()
        .collect();
    refs.push(ours.clone());
    refs
}

/// Whether `meta` carries exactly our controller reference (same UID).
fn owned_by(meta: &ObjectMeta, ours: &OwnerReference) -> bool {
    let refs: Vec<&OwnerReference> = meta
        .owner_references
        .iter()
        .flatten()
        .filter(|r| is_service_ref(r, &ours.name))
        .collect();
    matches!(refs.as_slice(), [r] if r.uid == ours.uid && r.controller == Some(true))
}

fn desired_selector(service: &str) -> ResourceSelector {
    ResourceSelector {
        api_version: SERVICE_EXPORT_API_VERSION.to_owned(),
        kind: SERVICE_EXPORT_KIND.to_owned(),
        name: Some(service.to_owned()),
        ..Default::default()
    }
}

/// Whether the policy selects exactly the ServiceExport (the namespace may be unset or, as
/// Karmada's webhook fills it in, the policy's own).
fn selectors_match(selectors: &[ResourceSelector], namespace: &str, service: &str) -> bool {
    match selectors {
        [s] => {
            s.api_version == SERVICE_EXPORT_API_VERSION
                && s.kind == SERVICE_EXPORT_KIND
                && s.name.as_deref() == Some(service)
                && s.namespace
                    .as_deref()
                    .is_none_or(|ns| ns.is_empty() || ns == namespace)
                && s.label_selector.is_none()
        }
        _ => false,
    }
}

fn cluster_names(pp: &PropagationPolicy) -> &[String] {
    pp.spec
        .placement
        .as_ref()
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.as_deref())
        .unwrap_or_default()
}

/// The merge patch that puts the policy's owned fields right, or `None` when they are.
fn policy_patch(
    pp: &PropagationPolicy,
    svc: &Service,
    clusters: &[String],
) -> Option<serde_json::Value> {
    let namespace = svc.namespace().unwrap_or_default();
    let service = svc.name_any();
    let ours = owner_ref(svc);
    let mut metadata = serde_json::Map::new();
    let mut spec = serde_json::Map::new();
    if !owned_by(&pp.metadata, &ours) {
        metadata.insert(
            "ownerReferences".into(),
            json!(with_owner(&pp.metadata, &ours)),
        );
    }
    if !selectors_match(&pp.spec.resource_selectors, &namespace, &service) {
        spec.insert(
            "resourceSelectors".into(),
            json!([desired_selector(&service)]),
        );
    }
    if cluster_names(pp) != clusters {
        spec.insert(
            "placement".into(),
            json!({ "clusterAffinity": { "clusterNames": clusters } }),
        );
    }
    if metadata.is_empty() && spec.is_empty() {
        return None;
    }
    // The resourceVersion makes a concurrent change fail with a conflict (and retry) rather
    // than be clobbered (the ownerReferences list is replaced as a whole).
    metadata.insert("resourceVersion".into(), json!(pp.resource_version()));
    let mut patch = serde_json::Map::new();
    patch.insert("metadata".into(), metadata.into());
    if !spec.is_empty() {
        patch.insert("spec".into(), spec.into());
    }
    Some(patch.into())
}

fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

async fn ensure_export(ctx: &Context, svc: &Service) -> Result<()> {
    let namespace = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let api: Api<ServiceExport> = Api::namespaced(ctx.client.clone(), &namespace);
    let ours = owner_ref(svc);
    let cached = ctx
        .caches
        .service_exports()
        .store()
        .get(&ObjectRef::new(&name).within(&namespace));
    let Some(export) = cached else {
        let export = ServiceExport {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                owner_references: Some(vec![ours]),
                ..Default::default()
            },
            status: None,
        };
        match api.create(&PostParams::default(), &export).await {
            Ok(_) => tracing::info!("created the ServiceExport"),
            // Our cache lags behind our own earlier create; its event re-triggers us.
            Err(e) if is_already_exists(&e) => tracing::debug!("the ServiceExport exists"),
            Err(e) => return Err(e.into()),
        }
        return Ok(());
    };
    if export.metadata.deletion_timestamp.is_some() {
        tracing::debug!("the ServiceExport is being deleted; it is recreated once gone");
        return Ok(());
    }
    match controller_ref(&export.metadata) {
        Some(r) if is_service_ref(r, &name) => {
            if !owned_by(&export.metadata, &ours) {
                let patch = json!({
                    "metadata": {
                        "resourceVersion": export.resource_version(),
                        "ownerReferences": with_owner(&export.metadata, &ours),
                    }
                });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::info!("pointed the ServiceExport's ownerReference at the current Service");
            }
        }
        Some(other) => tracing::debug!(
            controller = format!("{}/{}", other.kind, other.name),
            "the ServiceExport is controlled by something else; left alone"
        ),
        None => tracing::debug!("the ServiceExport was made by someone else; left alone"),
    }
    Ok(())
}

async fn ensure_policy(ctx: &Context, svc: &Service) -> Result<()> {
    let namespace = svc.namespace().unwrap_or_default();
    let service = svc.name_any();
    let policy_name = service_export_policy_name(&service);
    let clusters: Vec<String> =
        service_clusters(ctx.caches.bindings().store(), &namespace, &service)
            .unwrap_or_default()
            .into_iter()
            .collect();
    if clusters.is_empty() {
        // An empty clusterNames would select every cluster: wait for the scheduler.
        tracing::debug!("the Service is not scheduled to any cluster yet; policy not written");
        return Ok(());
    }
    let api: Api<PropagationPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
    let cached = ctx
        .caches
        .propagation_policies()
        .store()
        .get(&ObjectRef::new(&policy_name).within(&namespace));
    let Some(policy) = cached else {
        let policy = PropagationPolicy {
            metadata: ObjectMeta {
                name: Some(policy_name.clone()),
                namespace: Some(namespace.clone()),
                owner_references: Some(vec![owner_ref(svc)]),
                ..Default::default()
            },
            spec: PropagationSpec {
                resource_selectors: vec![desired_selector(&service)],
                placement: Some(Placement {
                    cluster_affinity: Some(ClusterAffinity {
                        cluster_names: Some(clusters.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        match api.create(&PostParams::default(), &policy).await {
            Ok(_) => tracing::info!(
                policy = policy_name,
                ?clusters,
                "created the PropagationPolicy"
            ),
            Err(e) if is_already_exists(&e) => {
                tracing::debug!(policy = policy_name, "the PropagationPolicy exists")
            }
            Err(e) => return Err(e.into()),
        }
        return Ok(());
    };
    if policy.metadata.deletion_timestamp.is_some() {
        tracing::debug!(
            policy = policy_name,
            "the PropagationPolicy is being deleted; it is recreated once gone"
        );
        return Ok(());
    }
    if let Some(other) = controller_ref(&policy.metadata)
        && !is_service_ref(other, &service)
    {
        tracing::warn!(
            policy = policy_name,
            controller = format!("{}/{}", other.kind, other.name),
            "the PropagationPolicy is controlled by something else; left alone"
        );
        return Ok(());
    }
    if let Some(patch) = policy_patch(&policy, svc, &clusters) {
        api.patch(&policy_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(
            policy = policy_name,
            ?clusters,
            "updated the PropagationPolicy"
        );
    }
    Ok(())
}

/// Deletes the ServiceExport and policy of `namespace/service` that a Service of that name
/// controls. Returns whether any was still there.
async fn remove_owned(ctx: &Context, namespace: &str, service: &str, why: &str) -> Result<bool> {
    let mut found = false;
    let export = ctx
        .caches
        .service_exports()
        .store()
        .get(&ObjectRef::new(service).within(namespace))
        .filter(|se| controlled_by_service(&se.metadata, service));
    if let Some(export) = export {
        found = true;
        if export.metadata.deletion_timestamp.is_none() {
            let api: Api<ServiceExport> = Api::namespaced(ctx.client.clone(), namespace);
            delete(&api, &export.metadata).await?;
            tracing::info!(reason = why, "deleted the ServiceExport");
        }
    }
    let policy_name = service_export_policy_name(service);
    let policy = ctx
        .caches
        .propagation_policies()
        .store()
        .get(&ObjectRef::new(&policy_name).within(namespace))
        .filter(|pp| controlled_by_service(&pp.metadata, service));
    if let Some(policy) = policy {
        found = true;
        if policy.metadata.deletion_timestamp.is_none() {
            let api: Api<PropagationPolicy> = Api::namespaced(ctx.client.clone(), namespace);
            delete(&api, &policy.metadata).await?;
            tracing::info!(
                policy = policy_name,
                reason = why,
                "deleted the PropagationPolicy"
            );
        }
    }
    Ok(found)
}

/// Deletes the object `meta` describes, only if it is still that object (same UID).
async fn delete<K>(api: &Api<K>, meta: &ObjectMeta) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api
        .delete(meta.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn reconcile(key: Arc<Service>, ctx: Arc<Context>, keys: Arc<Keys>) -> Result<Action> {
    let namespace = key.namespace().unwrap_or_default();
    let name = key.name_any();
    // Taken before reading the caches: a request after this point keeps the key.
    let seen = keys.generation(&namespace, &name);
    let service = ctx
        .caches
        .services()
        .store()
        .get(&ObjectRef::new(&name).within(&namespace));
    let why = match &service {
        None => "the Service is gone",
        Some(svc) if svc.metadata.deletion_timestamp.is_some() => "the Service is being deleted",
        Some(svc) if is_referenced(&ctx, &namespace, &name) => {
            ensure_export(&ctx, svc).await?;
            ensure_policy(&ctx, svc).await?;
            return Ok(Action::await_change());
        }
        Some(_) => {
            "no MultiClusterIngress or load-balanced MultiClusterService references the Service"
        }
    };
    if !remove_owned(&ctx, &namespace, &name, why).await? {
        tracing::debug!(reason = why, "nothing to export");
        keys.forget(&namespace, &name, seen);
    }
    Ok(Action::await_change())
}

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (keys, store, triggers) = Keys::new();
        let caches = ctx.caches.clone();

        let _subscriptions = [
            caches.mcis().subscribe({
                let keys = keys.clone();
                move |change| {
                    let (namespace, services) = match change {
                        Change::Applied { old, new } => {
                            let now = referenced_services(new);
                            let before = old.map(referenced_services).unwrap_or_default();
                            let changed: BTreeSet<String> =
                                now.symmetric_difference(&before).cloned().collect();
                            (new.namespace(), changed)
                        }
                        Change::Deleted(mci) => (mci.namespace(), referenced_services(mci)),
                    };
                    let namespace = namespace.unwrap_or_default();
                    for svc in services {
                        keys.enqueue(&namespace, &svc);
                    }
                }
            }),
            caches.mcss().subscribe({
                let keys = keys.clone();
                move |change| {
                    if let Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                        && old.spec.has_load_balancer() == new.spec.has_load_balancer()
                    {
                        return;
                    }
                    let mcs = change.object();
                    keys.enqueue(&mcs.namespace().unwrap_or_default(), &mcs.name_any());
                }
            }),
            caches.services().subscribe({
                let keys = keys.clone();
                move |change| {
                    if let Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                        && old.metadata.uid == new.metadata.uid
                        && old.metadata.deletion_timestamp.is_some()
                            == new.metadata.deletion_timestamp.is_some()
                    {
                        return;
                    }
                    let svc = change.object();
                    keys.enqueue(&svc.namespace().unwrap_or_default(), &svc.name_any());
                }
            }),
            caches.bindings().subscribe({
                let keys = keys.clone();
                move |change| {
                    for (namespace, svc) in services_of_binding_change(change) {
                        keys.enqueue(&namespace, &svc);
                    }
                }
            }),
            caches.service_exports().subscribe({
                let keys = keys.clone();
                move |change| {
                    if let Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                        && old.metadata.owner_references == new.metadata.owner_references
                        && old.metadata.deletion_timestamp.is_some()
                            == new.metadata.deletion_timestamp.is_some()
                    {
                        return;
                    }
                    let export = change.object();
                    keys.enqueue(&export.namespace().unwrap_or_default(), &export.name_any());
                }
            }),
            caches.propagation_policies().subscribe({
                let keys = keys.clone();
                move |change| {
                    let policy = change.object();
                    let name = policy.name_any();
                    let Some(service) = name.strip_prefix(SERVICE_EXPORT_POLICY_PREFIX) else {
                        return;
                    };
                    if let Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                        && old.spec == new.spec
                        && old.metadata.owner_references == new.metadata.owner_references
                        && old.metadata.deletion_timestamp.is_some()
                            == new.metadata.deletion_timestamp.is_some()
                    {
                        return;
                    }
                    keys.enqueue(&policy.namespace().unwrap_or_default(), service);
                }
            }),
        ];

        // On start: every referenced Service, and every object we may have to delete.
        for mci in caches.mcis().store().state() {
            let namespace = mci.namespace().unwrap_or_default();
            for svc in referenced_services(&mci) {
                keys.enqueue(&namespace, &svc);
            }
        }
        for mcs in caches.mcss().store().state() {
            if mcs.spec.has_load_balancer() {
                keys.enqueue(&mcs.namespace().unwrap_or_default(), &mcs.name_any());
            }
        }
        for export in caches.service_exports().store().state() {
            let name = export.name_any();
            if controlled_by_service(&export.metadata, &name) {
                keys.enqueue(&export.namespace().unwrap_or_default(), &name);
            }
        }
        for policy in caches.propagation_policies().store().state() {
            if let Some(service) = policy.name_any().strip_prefix(SERVICE_EXPORT_POLICY_PREFIX) {
                keys.enqueue(&policy.namespace().unwrap_or_default(), service);
            }
        }

        let reconcile_keys = keys.clone();
        run_controller(
            NAME,
            ctx.clone(),
            store,
            triggers,
            move |key, ctx| reconcile(key, ctx, reconcile_keys.clone()),
            shutdown,
        )
        .await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(uid: &str) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "serve", "namespace": "ns", "uid": uid}
        }))
        .unwrap()
    }

    fn policy(value: serde_json::Value) -> PropagationPolicy {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_policy_with_server_defaults_needs_no_patch() {
        let pp = policy(json!({
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": "PropagationPolicy",
            "metadata": {
                "name": "propagate-service-serve", "namespace": "ns", "resourceVersion": "7",
                "labels": {"propagationpolicy.karmada.io/permanent-id": "x"},
                "finalizers": ["karmada.io/propagation-policy-controller"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "serve",
                    "uid": "u1", "controller": true, "blockOwnerDeletion": true}]
            },
            "spec": {
                "resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                    "kind": "ServiceExport", "name": "serve", "namespace": "ns"}],
                "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}},
                "conflictResolution": "Abort", "preemption": "Never", "priority": 0,
                "schedulerName": "default-scheduler"
            }
        }));
        let clusters = ["member1".to_owned(), "member2".to_owned()];
        assert_eq!(policy_patch(&pp, &service("u1"), &clusters), None);
    }

    #[test]
    fn a_policy_patch_touches_only_wrong_owned_fields() {
        let pp = policy(json!({
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": "PropagationPolicy",
            "metadata": {
                "name": "propagate-service-serve", "namespace": "ns", "resourceVersion": "7",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Service", "name": "serve", "uid": "old",
                     "controller": true, "blockOwnerDeletion": true},
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "c"}
                ]
            },
            "spec": {
                "resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                    "kind": "ServiceExport", "name": "serve"}],
                "placement": {"clusterAffinity": {"clusterNames": ["member1"]}}
            }
        }));
        let clusters = ["member1".to_owned(), "member2".to_owned()];
        let patch = policy_patch(&pp, &service("new"), &clusters).unwrap();
        assert_eq!(
            patch,
            json!({
                "metadata": {
                    "resourceVersion": "7",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "c"},
                        {"apiVersion": "v1", "kind": "Service", "name": "serve", "uid": "new",
                         "controller": true, "blockOwnerDeletion": true}
                    ]
                },
                "spec": {"placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}}}
            })
        );
    }

    #[test]
    fn selectors_must_name_only_the_export() {
        let good = desired_selector("serve");
        assert!(selectors_match(std::slice::from_ref(&good), "ns", "serve"));
        let other_ns = ResourceSelector {
            namespace: Some("elsewhere".into()),
            ..good.clone()
        };
        assert!(!selectors_match(&[other_ns], "ns", "serve"));
        assert!(!selectors_match(
            &[good.clone(), good.clone()],
            "ns",
            "serve"
        ));
        assert!(!selectors_match(&[], "ns", "serve"));
        assert!(!selectors_match(&[good], "ns", "other"));
    }

    #[test]
    fn mci_references_cover_rules_and_default_backend() {
        let mci: MultiClusterIngress = serde_yaml::from_str(
            r#"
metadata: {name: a, namespace: ns}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /r, pathType: Prefix, backend: {resource: {apiGroup: x, kind: Bucket, name: b}}}
"#,
        )
        .unwrap();
        assert!(mci_references(&mci, "fallback"));
        assert!(mci_references(&mci, "web"));
        assert!(!mci_references(&mci, "b"));
        assert!(!mci_references(&mci, "other"));
    }

    #[test]
    fn keys_are_forgotten_only_when_not_asked_for_again() {
        let (keys, store, _triggers) = Keys::new();
        let key = ObjectRef::<Service>::new("serve").within("ns");
        keys.enqueue("ns", "serve");
        assert!(store.get(&key).is_some());
        let seen = keys.generation("ns", "serve");
        keys.enqueue("ns", "serve");
        keys.forget("ns", "serve", seen);
        assert!(store.get(&key).is_some(), "a newer request keeps the key");
        let seen = keys.generation("ns", "serve");
        keys.forget("ns", "serve", seen);
        assert!(store.get(&key).is_none());
        assert_eq!(keys.generation("ns", "serve"), None);
    }
}
