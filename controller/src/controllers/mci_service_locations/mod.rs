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

mod mappers;
mod reconcile;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_interface::api::networking::MultiClusterIngress;

use crate::context::{CacheKind, Context};
use crate::controllers::runtime::run_controller;
use crate::controllers::trigger::{Trigger, Watches};
use crate::controllers::{Controller, Shutdown};
use mappers::Mappers;
use reconcile::reconcile;

pub const NAME: &str = "mci-service-locations";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
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
        let mappers = Mappers::new(caches.mcis());

        let watches = Watches::new(&trigger, &mappers)
            .on(caches.mcis(), Mappers::mci)
            .on(caches.bindings(), Mappers::binding);
        watches.replay(&mcis, Mappers::mci);
        run_controller(row, ctx, caches.mcis(), triggers, reconcile, shutdown).await;
    })
}
