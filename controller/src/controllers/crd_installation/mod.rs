//! `crd-installation`: keeps ClusterPropagationPolicy `serviceexportpropagation-policy`
//! propagating the ServiceExport CRD (`serviceexports.multicluster.x-k8s.io`) to every member
//! cluster.
//!
//! The policy selects CRD `serviceexports.multicluster.x-k8s.io` (`apiextensions.k8s.io/v1`),
//! places it on `clusterAffinity.clusterNames` = the sorted names of all Clusters not being
//! deleted, and tolerates the `cluster.karmada.io/not-ready` and `cluster.karmada.io/unreachable`
//! NoExecute taints (operator `Exists`), as the Go original writes it.
//!
//! Only the fields it owns are compared and written (a merge patch with the resourceVersion as
//! precondition): the selector, the cluster names and the presence of the two tolerations. What
//! the API server or Karmada's webhook add (`conflictResolution`, `priority`, `schedulerName`,
//! `tolerationSeconds`, labels, finalizers, ...) is left alone, so an unchanged policy is never
//! rewritten.
//!
//! # The reconcile key
//!
//! There is one desired object, whatever changed: the policy. So the controller's primary is the
//! policy's name, and every trigger (a Cluster created, deleted or starting deletion; the policy
//! created, edited or deleted; start-up) enqueues that one name. kube-runtime only reconciles keys
//! present in its store, and the policy is absent exactly when it must be recreated, so the
//! controller runs over a private store that always holds a placeholder with the policy's name.
//! The reconcile ignores the placeholder: it reads the live policy with a GET (not the cache, so
//! it never re-creates a policy it just created, nor patches a stale copy) and the Clusters from
//! the shared cache, whose change is what triggered it.
//!
//! Differences from Go, on purpose: Go adds or removes the one cluster of each event, appending
//! to the list; here the whole list is derived each time (sorted, level-triggered), so a missed
//! event or a hand edit is repaired. Go also lists Clusters being deleted when it creates the
//! policy; here they are left out, as they are on every later update.

mod mappers;
mod reconcile;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use mcp_interface::api::constants::SERVICE_EXPORT_CRD_POLICY_NAME;
use mcp_interface::api::policy::ClusterPropagationPolicy;

use crate::context::{CacheKind, Context};
use crate::controllers::runtime::run_controller;
use crate::controllers::trigger::{Queue, Trigger, Watches};
use crate::controllers::{Controller, Shutdown};
use mappers::Mappers;

pub const NAME: &str = "crd-installation";
/// The policy this controller keeps.
pub const POLICY_NAME: &str = SERVICE_EXPORT_CRD_POLICY_NAME;

pub const CACHES: &[CacheKind] = &[CacheKind::Clusters, CacheKind::ClusterPropagationPolicies];

/// The one reconcile key: the policy's name.
fn policy_key() -> ObjectRef<ClusterPropagationPolicy> {
    ObjectRef::new(POLICY_NAME)
}

/// A store that always holds one placeholder named [`POLICY_NAME`] (see the module doc).
fn key_store() -> Store<ClusterPropagationPolicy> {
    let (store, mut writer) = reflector::store();
    let placeholder = ClusterPropagationPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    writer.apply_watcher_event(&watcher::Event::Init);
    writer.apply_watcher_event(&watcher::Event::InitApply(placeholder));
    writer.apply_watcher_event(&watcher::Event::InitDone);
    store
}

pub fn run(
    row: &'static Controller,
    ctx: Arc<Context>,
    shutdown: Shutdown,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<ClusterPropagationPolicy>::new();
        let caches = ctx.caches.clone();
        let _watches = Watches::new(&trigger, &Mappers)
            .on(caches.clusters(), Mappers::cluster)
            .on(caches.cluster_propagation_policies(), Mappers::policy);
        // Reconciled once on start: creates the policy or catches up with what changed meanwhile.
        trigger.enqueue(policy_key());
        run_controller(
            row,
            ctx,
            key_store(),
            triggers,
            reconcile::reconcile,
            shutdown,
        )
        .await;
    })
}
