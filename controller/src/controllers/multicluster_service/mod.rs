//! `multiclusterservice`: cloud load balancers for MultiClusterServices of type `LoadBalancer`.
//!
//! Reconcile (as the Go original): for an MCS whose `spec.types` contains `LoadBalancer`, add
//! finalizer `karmada.io/multi-cluster-service-controller`, `get` the balancer, then `update` it
//! if it exists else `ensure` it, and write `status.loadBalancer` when it changed, with a merge
//! patch on `/status` of that one field: Karmada writes `status.conditions` into the same status
//! and they are never touched. When the MCS is deleted: `ensure_deleted`; when `LoadBalancer`
//! leaves its types: `ensure_deleted` if `get` finds the balancer, and clear
//! `status.loadBalancer`; then remove the finalizer. Each provider failure is also reported as a
//! Warning Event with reason `MCSLoadBalance` on the MCS.
//!
//! Re-triggered (Go predicates) when an MCS's spec, annotations or deletion state change; when the
//! Service of the same name is created, deleted or changes spec, annotations or deletion state;
//! when an EndpointSlice of that Service (label `kubernetes.io/service-name`, `derived-` stripped)
//! changes. Beyond the Go original, for the inputs of its backend view (`controllers::backends`):
//! when the ResourceBinding of that Service changes its clusters or the member load-balancer
//! addresses it aggregates, and when a Cluster it is placed on (found through an index of the
//! Service bindings by cluster) appears, goes, changes readiness or gains or loses
//! `TrafficControl`.
//!
//! Differences from Go, on purpose:
//! * Go, for an MCS without `LoadBalancer`, calls `get` on every trigger and keeps its finalizer
//!   when no balancer exists (so such an MCS can never be deleted). Here an MCS without our
//!   finalizer is never handed to the provider (we add the finalizer before creating anything),
//!   and the finalizer is always removed once the balancer is gone.
//! * Go reports Events only for failures while deleting; here every provider failure is reported.

mod mappers;
mod reconcile;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_interface::api::constants::MCS_CONTROLLER_FINALIZER;
use mcp_interface::api::networking::MultiClusterService;

use crate::context::{CacheKind, Context};
use crate::controllers::runtime::run_controller;
use crate::controllers::trigger::{Trigger, Watches};
use crate::controllers::{Controller, Shutdown};
use crate::events::Reporter;
use crate::writes::has_finalizer;
use mappers::Mappers;
use reconcile::reconcile;

pub const NAME: &str = "multiclusterservice";
pub const FINALIZER: &str = MCS_CONTROLLER_FINALIZER;
/// The reason of the Warning Events reporting provider failures (Go's `LBEventReason`).
pub const EVENT_REASON: &str = "MCSLoadBalance";
/// Events come from the Go controller's recorder name, with its reason.
pub const EVENTS: Reporter = Reporter {
    component: "multiclusterservice-controller",
    failure_reason: EVENT_REASON,
};

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterServices,
    CacheKind::Services,
    CacheKind::EndpointSlices,
    CacheKind::ResourceBindings,
    CacheKind::Clusters,
];

fn wants_load_balancer(mcs: &MultiClusterService) -> bool {
    mcs.spec.has_load_balancer()
}

/// Whether this controller has anything to do with the MCS: it wants a balancer, or it carries
/// our finalizer (a balancer may exist that must be removed).
fn is_ours(mcs: &MultiClusterService) -> bool {
    wants_load_balancer(mcs) || has_finalizer(mcs, FINALIZER)
}

pub fn run(
    row: &'static Controller,
    ctx: Arc<Context>,
    shutdown: Shutdown,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<MultiClusterService>::new();
        let caches = ctx.caches.clone();
        let mcss = caches.mcss().store().clone();
        let mappers = Mappers::new(mcss.clone(), caches.bindings());

        let mut watches = Watches::new(&trigger, &mappers)
            .on(caches.mcss(), Mappers::mcs)
            .on(caches.services(), Mappers::service)
            .on(caches.endpoint_slices(), Mappers::endpoint_slice);
        if ctx.provider.wants_backends() {
            // The clusters, their readiness and balancers are only in the view.
            watches = watches
                .on(caches.bindings(), Mappers::binding)
                .on(caches.clusters(), Mappers::cluster);
        }
        watches.replay(&mcss, Mappers::mcs);
        run_controller(row, ctx, caches.mcss(), triggers, reconcile, shutdown).await;
    })
}
