//! `multiclusteringress`: cloud load balancers for MultiClusterIngresses of our IngressClass.
//!
//! Reconcile (as the Go original): add finalizer `karmada.io/multi-cluster-ingress-controller`;
//! set `status.trafficBlockClusters` to the sorted clusters of `status.serviceLocations` whose
//! Cluster has `TrafficControl` in `status.remedyActions`; `get` the balancer, then `update` it if
//! it exists else `ensure` it, and write `status.loadBalancer` when it changed (a status without
//! addresses removes the field). On deletion: `ensure_deleted`, then remove the finalizer.
//!
//! Only MCIs of our class are handled, deletion included, as Go filters at enqueue: every
//! class's deployment uses the same finalizer name, so the finalizer says nothing about whose
//! balancer exists. An MCI of another controller's class is left alone (as in Go, an MCI moved to
//! another class keeps its old balancer). A deletion is never dropped for want of a class: an
//! MCI being deleted with the finalizer whose class does not resolve (the IngressClass
//! it names is gone, or it names none and none is the default; a `kubectl delete -f` of a
//! directory deletes both) deletes no balancer, since whose it is cannot be told, and fails with
//! an `IngressClassNotFound` Warning saying what to do; it is retried with backoff, and the
//! IngressClass watch re-triggers it when the class is back. (Every deployment sharing the
//! finalizer name says so, as each may be the owner.)
//!
//! Events (beyond the Go original, which records none for MCIs), with the reasons of
//! Kubernetes' Service load-balancer controller: `EnsuringLoadBalancer` and
//! `EnsuredLoadBalancer` around a creation, `UpdatedLoadBalancer` when an update changed the
//! address, `DeletingLoadBalancer` and `DeletedLoadBalancer` around a deletion,
//! `SyncLoadBalancerFailed` (Warning) for a failed provider call, `InvalidIngressClass`
//! (Warning) when the IngressClasses leave the MCI's class ambiguous, and `IngressClassNotFound`
//! (Warning) for a deletion waiting for its class.
//!
//! Re-triggered (Go predicates) when an MCI's spec, annotations or deletion state change; when a
//! Service it references is created, deleted or changes spec, annotations or deletion state; when
//! an EndpointSlice of such a Service (label `kubernetes.io/service-name`, `derived-` stripped)
//! changes; when a TLS Secret it references changes; when a Cluster in its service locations
//! gains or loses `TrafficControl`; when the IngressClass it names is created or deleted or
//! changes controller; for an MCI naming no class, when a class that is or was the default is
//! created or deleted or changes controller or default annotation (beyond the Go original, which
//! watches no IngressClass). Also beyond the Go original, for the inputs of its backend view
//! (`controllers::backends`): when the ResourceBinding of a Service it references appears,
//! goes, or changes the clusters it places the Service on or the member load-balancer addresses
//! it aggregates, and when a Cluster in its service locations or one such binding appears, goes
//! or changes readiness. Each is found through an index (by Service, Secret, located cluster;
//! Services' bindings by cluster), never a scan of all MCIs (IngressClasses, which change
//! rarely, excepted).

mod mappers;
mod reconcile;
#[cfg(test)]
mod reconcile_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;

use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_interface::api::constants::MCI_CONTROLLER_FINALIZER;
use mcp_interface::api::networking::MultiClusterIngress;

use crate::context::{CacheKind, Context};
use crate::controllers::runtime::run_controller;
use crate::controllers::trigger::{Trigger, Watches};
use crate::controllers::{Controller, Shutdown};
use crate::events::Reporter;
use mappers::Mappers;
use reconcile::reconcile;

pub const NAME: &str = "multiclusteringress";
pub const FINALIZER: &str = MCI_CONTROLLER_FINALIZER;
/// Events come from the Go controller's recorder name.
pub const EVENTS: Reporter = Reporter {
    component: "multiclusteringress-controller",
    failure_reason: "SyncLoadBalancerFailed",
};
/// The annotation that marks the default IngressClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
    CacheKind::IngressClasses,
    CacheKind::Clusters,
    CacheKind::Services,
    CacheKind::EndpointSlices,
    CacheKind::Secrets,
    CacheKind::ResourceBindings,
];

pub fn run(
    row: &'static Controller,
    ctx: Arc<Context>,
    shutdown: Shutdown,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<MultiClusterIngress>::new();
        let caches = ctx.caches.clone();
        let mcis = caches.mcis().store().clone();
        let handled = {
            let ctx = ctx.clone();
            Arc::new(move |mci: &MultiClusterIngress| reconcile::is_handled(&ctx, mci))
        };
        let view = ctx.provider.wants_backends();
        let mut mappers = Mappers::new(caches.mcis(), caches.bindings(), handled);
        if !view {
            mappers = mappers.without_view();
        }

        let mut watches = Watches::new(&trigger, &mappers)
            .on(caches.mcis(), Mappers::mci)
            .on(caches.services(), Mappers::service)
            .on(caches.endpoint_slices(), Mappers::endpoint_slice)
            .on(caches.secrets(), Mappers::secret)
            .on(caches.clusters(), Mappers::cluster)
            .on(caches.ingress_classes(), Mappers::ingress_class);
        if view {
            // The Services' placement and member balancers are only in the view.
            watches = watches.on(caches.bindings(), Mappers::binding);
        }
        watches.replay(&mcis, Mappers::mci);
        run_controller(row, ctx, caches.mcis(), triggers, reconcile, shutdown).await;
    })
}
