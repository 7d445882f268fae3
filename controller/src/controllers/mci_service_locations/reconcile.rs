//! Reconcile one MultiClusterIngress's `status.serviceLocations`.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use mcp_interface::api::networking::{MultiClusterIngress, ServiceLocation};
use mcp_interface::api::work::ResourceBinding;
use serde_json::json;

use crate::cache::SharedCache;
use crate::context::Context;
use crate::controllers::references::{
    referenced_services, service_clusters, service_locations as recorded_locations,
};
use crate::error::Result;
use crate::writes::{namespaced_api, patch_status};

/// The service locations of `mci`: its referenced Services that have a binding, sorted by name.
pub fn service_locations(
    mci: &MultiClusterIngress,
    bindings: &SharedCache<ResourceBinding>,
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
pub fn same_locations(current: Option<&Vec<ServiceLocation>>, desired: &[ServiceLocation]) -> bool {
    let norm = |l: &ServiceLocation| (l.name.clone(), l.clusters.clone().unwrap_or_default());
    let current: Vec<_> = current.into_iter().flatten().map(norm).collect();
    let desired: Vec<_> = desired.iter().map(norm).collect();
    current == desired
}

pub async fn reconcile(mci: Arc<MultiClusterIngress>, ctx: Arc<Context>) -> Result<Action> {
    let desired = service_locations(&mci, ctx.caches.bindings());
    if same_locations(recorded_locations(&mci), &desired) {
        tracing::debug!("service locations up to date");
        return Ok(Action::await_change());
    }
    let api = namespaced_api(&ctx.client, mci.as_ref());
    match patch_status(
        &api,
        &mci.name_any(),
        json!({ "serviceLocations": desired }),
    )
    .await
    {
        Ok(_) => {
            tracing::info!(locations = ?desired, "updated the service locations");
            Ok(Action::await_change())
        }
        // Deleted meanwhile: nothing left to describe.
        Err(e) if e.is_not_found() => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}
