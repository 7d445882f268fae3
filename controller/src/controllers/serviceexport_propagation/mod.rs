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
//!   ResourceBinding (`spec.clusters` ∪ `spec.requiredBy[].clusters`) that can hold a
//!   ServiceExport, and the same ownerReference. As in Go, no policy is written while no cluster
//!   qualifies (an empty `clusterNames` would select every cluster): an existing one keeps its
//!   last placement.
//!
//! A cluster can hold a ServiceExport once its Cluster's `status.apiEnablements` lists
//! `multicluster.x-k8s.io/v1alpha1` `ServiceExport`, or while the policy already places it.
//! Unlike Go, which lists every cluster of the binding: real Karmada v1.16's scheduler refuses a
//! cluster whose status does not list the API ("did not have the API resource") and never
//! retries such a binding by itself (the unschedulable result is final until the binding or its
//! policy changes), so a ServiceExport placed while the CRD was still on its way to the members
//! (crd-installation propagates it at the same time) would never reach them. Waiting for the API
//! and adding each cluster as it reports it changes the policy, which Karmada does reschedule.
//! A cluster keeps its place once placed, as the scheduler keeps already-scheduled clusters.
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
//! asks for a key, and removed when a reconcile ends well (everything kept, or nothing left to
//! delete), unless the key was asked for again meanwhile (a per-key generation decides; no
//! request is lost), so the store holds only keys with work pending and costs nothing per
//! Service at rest. With `--sync-period` a reconciled key stays (its periodic resync needs it).
//! The real Service is read from the shared cache.
//!
//! Re-triggered when an MCI is created or deleted or the Services it references change (old and
//! new ones); when an MCS is created or deleted or gains or loses `LoadBalancer`; when a Service
//! is created, deleted, starts being deleted or changes UID; when a ResourceBinding of a `v1`
//! Service is created or deleted or its clusters change; when a Cluster starts or stops serving
//! the ServiceExport API, or is created or deleted; when a ServiceExport is created,
//! deleted, or its ownerReferences or deletion state change; when a `propagate-service-*`
//! policy is created, deleted, or its spec, ownerReferences or deletion state change.

mod keys;
mod mappers;
mod owned;
mod reconcile;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::context::{CacheKind, Context};
use crate::controllers::runtime::run_controller;
use crate::controllers::trigger::{Queue, Watches};
use crate::controllers::{Controller, Shutdown};
use keys::Keys;
use mappers::Mappers;

pub const NAME: &str = "serviceexport-propagation";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
    CacheKind::MultiClusterServices,
    CacheKind::Services,
    CacheKind::ResourceBindings,
    CacheKind::ServiceExports,
    CacheKind::PropagationPolicies,
    CacheKind::Clusters,
];

pub fn run(
    row: &'static Controller,
    ctx: Arc<Context>,
    shutdown: Shutdown,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (keys, store, triggers) = Keys::new();
        let caches = ctx.caches.clone();

        let mappers = Mappers {
            bindings: caches.bindings().store().clone(),
        };
        let _watches = Watches::new(&keys, &mappers)
            .on(caches.mcis(), Mappers::mci)
            .on(caches.mcss(), Mappers::mcs)
            .on(caches.services(), Mappers::service)
            .on(caches.bindings(), Mappers::binding)
            .on(caches.service_exports(), Mappers::service_export)
            .on(caches.propagation_policies(), Mappers::policy)
            .on(caches.clusters(), Mappers::cluster);
        // On start: every referenced Service, and every object we may have to delete.
        for key in mappers::existing(
            caches.mcis().store(),
            caches.mcss().store(),
            caches.service_exports().store(),
            caches.propagation_policies().store(),
        ) {
            keys.enqueue(key);
        }

        let reconcile_keys = keys.clone();
        let reconcile = move |key, ctx| reconcile::reconcile(key, ctx, reconcile_keys.clone());
        run_controller(row, ctx, store, triggers, reconcile, shutdown).await;
    })
}
