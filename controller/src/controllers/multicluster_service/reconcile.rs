//! Reconcile one MultiClusterService: finalizer, the balancer and `status.loadBalancer`, or the
//! clean-up when no balancer is wanted any more; provider failures as Warning Events.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::LoadBalancerStatus;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use mcp_interface::api::networking::MultiClusterService;
use mcp_loader::{CallError, Encoded};
use serde_json::json;

use super::{EVENTS, FINALIZER, wants_load_balancer};
use crate::context::Context;
use crate::controllers::calls;
use crate::error::Result;
use crate::writes::{
    add_finalizer, has_finalizer, namespaced_api, patch_status, patch_status_returning,
    remove_finalizer,
};

/// Writes `status.loadBalancer` alone: `status.conditions` (Karmada's) is left as it is. A
/// status without addresses removes the field (see `patch_status`).
async fn patch_load_balancer(
    api: &Api<MultiClusterService>,
    name: &str,
    status: &LoadBalancerStatus,
) -> Result<()> {
    patch_status(api, name, json!({ "loadBalancer": status })).await
}

/// Compares statuses as the API server stores them (an empty list and no list are the same).
pub fn same_status(a: Option<&LoadBalancerStatus>, b: Option<&LoadBalancerStatus>) -> bool {
    let norm =
        |s: Option<&LoadBalancerStatus>| s.and_then(|s| s.ingress.clone()).unwrap_or_default();
    norm(a) == norm(b)
}

fn current_load_balancer(mcs: &MultiClusterService) -> Option<&LoadBalancerStatus> {
    mcs.status.as_ref().and_then(|s| s.load_balancer.as_ref())
}

/// Awaits one provider call; a failure is also reported as a Warning Event on the MCS.
async fn provider_call<T>(
    ctx: &Context,
    mcs: &MultiClusterService,
    action: &str,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T> {
    calls::provider_call(ctx, EVENTS, mcs, action, call).await
}

/// Removes the balancer, clears `status.loadBalancer` when the object lives on, and removes the
/// finalizer. As the Go original: while `spec.types` still wants a balancer (the MCS is being
/// deleted), `ensure_deleted` is called whatever `get` would say (a provider whose `get` lags
/// behind a create must not leak the balancer); only when `LoadBalancer` was dropped from
/// `types` is `get` asked first, so that an MCS that never had one costs no deletion.
async fn clean_up(
    api: &Api<MultiClusterService>,
    mcs: &MultiClusterService,
    ctx: &Context,
) -> Result<Action> {
    // Encoded once for both calls.
    let payload = Encoded::new(mcs);
    let delete = wants_load_balancer(mcs)
        || provider_call(ctx, mcs, "GetLoadBalancer", ctx.provider.mcs_get(&payload))
            .await?
            .is_some();
    if delete {
        provider_call(
            ctx,
            mcs,
            "DeleteLoadBalancer",
            ctx.provider.mcs_ensure_deleted(&payload),
        )
        .await?;
        tracing::info!("deleted the load balancer");
    }
    let mut current = mcs.clone();
    if current.metadata.deletion_timestamp.is_none() && current_load_balancer(&current).is_some() {
        // The patched object carries the new resourceVersion the finalizer patch is checked against.
        current = patch_status_returning(api, &current.name_any(), json!({ "loadBalancer": null }))
            .await?;
    }
    remove_finalizer(api, &current, FINALIZER).await?;
    Ok(Action::await_change())
}

pub async fn reconcile(mcs: Arc<MultiClusterService>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, mcs.as_ref());

    if mcs.metadata.deletion_timestamp.is_some() || !wants_load_balancer(&mcs) {
        if !has_finalizer(mcs.as_ref(), FINALIZER) {
            tracing::debug!("no load balancer wanted and none made; skipped");
            return Ok(Action::await_change());
        }
        return clean_up(&api, &mcs, &ctx).await;
    }

    let mut current: MultiClusterService = (*mcs).clone();
    if !has_finalizer(mcs.as_ref(), FINALIZER) {
        current = add_finalizer(&api, mcs.as_ref(), FINALIZER).await?;
    }

    // Encoded once for both calls (the same JSON as encoding it for each).
    let payload = Encoded::new(&current);
    let exists = provider_call(
        &ctx,
        &current,
        "GetLoadBalancer",
        ctx.provider.mcs_get(&payload),
    )
    .await?
    .is_some();
    let status = if exists {
        let update = ctx.provider.mcs_update(&payload);
        let status = provider_call(&ctx, &current, "UpdateLoadBalancer", update).await?;
        tracing::info!("updated the load balancer");
        status
    } else {
        let ensure = ctx.provider.mcs_ensure(&payload);
        let status = provider_call(&ctx, &current, "EnsureLoadBalancer", ensure).await?;
        tracing::info!("created the load balancer");
        status
    };
    if !same_status(current_load_balancer(&current), Some(&status)) {
        patch_load_balancer(&api, &current.name_any(), &status).await?;
    }
    Ok(Action::await_change())
}
