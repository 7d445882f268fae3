//! The reconcile the MultiClusterIngress and MultiClusterService controllers share, as the Go
//! originals do: add the finalizer, `get` the balancer, then `update` it if it exists else
//! `ensure` it, and write `status.loadBalancer` when it changed (one field, with a merge patch on
//! `/status`); when no balancer is wanted any more, `ensure_deleted` it, clear
//! `status.loadBalancer` if the object lives on, and remove the finalizer. Each provider failure
//! is also a Warning Event on the object. What differs between the two kinds is a
//! [`Balanced`] implementation in each controller's `reconcile.rs`.
//!
//! For a provider that takes the backend view (interface 1.2), each call is sent the view
//! resolved from the caches (`controllers::backends`; its problems, such as a missing TLS
//! Secret, become Warning Events), and a reconcile whose object and view have the digest of the
//! last successful `ensure`/`update` (`crate::applied`) makes no call at all. An answer "still
//! being provisioned" requeues the object after the provider's delay.

use std::future::Future;
use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use mcp_loader::{Encoded, EncodedView, ObjectKind};
use serde_json::json;

use crate::cache::Cacheable;
use crate::context::Context;
use crate::controllers::backends::HasBackends;
use crate::controllers::calls::provider_call;
use crate::error::Result;
use crate::events::Reporter;
use crate::key::ObjectKey;
use crate::writes::{
    add_finalizer, has_finalizer, namespaced_api, patch_status, patch_status_returning,
    remove_finalizer,
};

/// A kind with a cloud load balancer, and how its reconcile differs from the other's.
pub trait Balanced:
    Cacheable + ObjectKind + HasBackends + Resource<Scope = k8s_openapi::NamespaceResourceScope>
{
    /// One address of the balancer's status (`status.loadBalancer.ingress[]`).
    type Address: PartialEq;
    /// The Go controller's recorder name and failure reason.
    const EVENTS: Reporter;
    const FINALIZER: &'static str;
    /// Whether Normal Events tell the balancer's creation, update and deletion (the MCI
    /// controller records them, with the reasons of Kubernetes' Service load-balancer
    /// controller; the MCS controller, as its Go original, does not).
    const LIFECYCLE_EVENTS: bool;
    /// The call named in the Warning Event of a failed deletion.
    const DELETE_CALL: &'static str;

    /// `status.loadBalancer`.
    fn load_balancer(&self) -> Option<&Self::Status>;
    fn addresses(status: &Self::Status) -> &[Self::Address];
    /// Whether the balancer is to go (the object is being deleted, or wants none any more).
    fn unwanted(&self) -> bool;
    /// Whether the deletion calls `ensure_deleted` without asking `get` first.
    fn delete_without_get(&self) -> bool;
    /// The kind's own work on the object, after the finalizer and before the balancer; returns
    /// the object as written.
    fn prepare(
        self,
        _api: &Api<Self>,
        _ctx: &Context,
    ) -> impl Future<Output = Result<Self>> + Send {
        async { Ok(self) }
    }
}

/// Compares statuses as the API server stores them (no status, no list and an empty list are
/// the same).
pub fn same_status<B: Balanced>(a: Option<&B::Status>, b: Option<&B::Status>) -> bool {
    addresses::<B>(a) == addresses::<B>(b)
}

fn addresses<B: Balanced>(status: Option<&B::Status>) -> &[B::Address] {
    status.map_or(&[], B::addresses)
}

/// Reconciles one object with a balancer (see the module doc).
pub async fn reconcile<B: Balanced>(object: Arc<B>, ctx: &Context) -> Result<Action> {
    let api = namespaced_api(&ctx.client, object.as_ref());
    if object.unwanted() {
        if !has_finalizer(object.as_ref(), B::FINALIZER) {
            tracing::debug!("no load balancer wanted and none made; skipped");
            return Ok(Action::await_change());
        }
        return clean_up(&api, object.as_ref(), ctx).await;
    }

    let mut current: B = (*object).clone();
    if !has_finalizer(object.as_ref(), B::FINALIZER) {
        current = add_finalizer(&api, object.as_ref(), B::FINALIZER).await?;
    }
    let current = current.prepare(&api, ctx).await?;

    // Encoded once for both calls (the same JSON as encoding it for each), with the backend view
    // for a provider that takes it.
    let key = ObjectKey::of(&current);
    let (payload, digest) = if ctx.provider.wants_backends() {
        let resolved = current.resolve(ctx).await?;
        let view = EncodedView::of(&resolved.backends);
        let digest = current.digest(&view);
        if current.load_balancer().is_some() && ctx.applied.unchanged(B::KIND, &key, digest) {
            ctx.metrics.update_skipped(B::KIND);
            tracing::debug!(%digest, "neither the object nor its backends changed since the last update: no provider call");
            return Ok(Action::await_change());
        }
        for problem in &resolved.problems {
            ctx.events
                .warn(B::EVENTS, &current, problem.reason, &problem.message);
        }
        let payload = Encoded::with_view(&current, view);
        (payload, Some(digest))
    } else {
        (Encoded::new(&current), None)
    };
    // Until this reconcile succeeds, nothing is known of what the balancer matches.
    ctx.applied.forget(B::KIND, &key);
    let get = ctx.provider.get(&payload);
    let changed = |status: &B::Status| !same_status::<B>(current.load_balancer(), Some(status));
    let applied = match provider_call(ctx, B::EVENTS, &current, "GetLoadBalancer", get).await? {
        Some(_) => {
            let update = ctx.provider.update(&payload);
            let applied =
                provider_call(ctx, B::EVENTS, &current, "UpdateLoadBalancer", update).await?;
            tracing::info!("updated the load balancer");
            if changed(&applied.status) {
                narrate::<B>(
                    ctx,
                    &current,
                    "UpdatedLoadBalancer",
                    "Updated load balancer",
                );
            }
            applied
        }
        None => {
            narrate::<B>(
                ctx,
                &current,
                "EnsuringLoadBalancer",
                "Ensuring load balancer",
            );
            let ensure = ctx.provider.ensure(&payload);
            let applied =
                provider_call(ctx, B::EVENTS, &current, "EnsureLoadBalancer", ensure).await?;
            tracing::info!("created the load balancer");
            narrate::<B>(
                ctx,
                &current,
                "EnsuredLoadBalancer",
                "Ensured load balancer",
            );
            applied
        }
    };
    if changed(&applied.status) {
        // `status.conditions` (Karmada's) and other fields are left as they are; a status
        // without addresses removes the field (see `patch_status`).
        let status = json!({ "loadBalancer": applied.status });
        patch_status::<B>(&api, &current.name_any(), status).await?;
    }
    if let (Some(digest), None) = (digest, applied.check_after) {
        ctx.applied.record(B::KIND, key, digest);
    }
    Ok(check_back::<B>(ctx, &current, applied.check_after))
}

/// The action after a successful `ensure`/`update`: wait for a change, or, when the provider is
/// still provisioning the balancer (interface 1.2), reconcile again after the delay it asked
/// for, bounded by `--rate-limiter-max-delay`.
fn check_back<B: Balanced>(
    ctx: &Context,
    object: &B,
    check_after: Option<std::time::Duration>,
) -> Action {
    let Some(delay) = check_after else {
        return Action::await_change();
    };
    let delay = delay.min(ctx.settings.backoff.max_delay);
    tracing::info!(
        ?delay,
        "the load balancer is still being provisioned; checking back"
    );
    ctx.metrics.provider_hint(B::KIND, "in_progress");
    narrate::<B>(
        ctx,
        object,
        "ProvisioningLoadBalancer",
        &format!("Load balancer still being provisioned; checking back in {delay:?}"),
    );
    Action::requeue(delay)
}

/// A Normal Event telling the balancer's lifecycle, for the kinds whose Go controller records
/// them.
fn narrate<B: Balanced>(ctx: &Context, object: &B, reason: &'static str, message: &str) {
    if B::LIFECYCLE_EVENTS {
        ctx.events.normal(B::EVENTS, object, reason, message);
    }
}

/// Removes the balancer, clears `status.loadBalancer` when the object lives on, and removes the
/// finalizer. Unless [`Balanced::delete_without_get`], `get` is asked first, so that an object
/// that never had a balancer costs no deletion.
async fn clean_up<B: Balanced>(api: &Api<B>, object: &B, ctx: &Context) -> Result<Action> {
    ctx.applied.forget(B::KIND, &ObjectKey::of(object));
    // Encoded once for both calls, with what is still known of the backends for a provider that
    // takes the view (it may help it find what to remove); without it when that fails.
    let payload = if ctx.provider.wants_backends() {
        match object.resolve(ctx).await {
            Ok(resolved) => Encoded::with_backends(object, &resolved.backends),
            Err(error) => {
                tracing::warn!(%error, "cannot resolve the backend view for the deletion; the provider gets the object alone");
                Encoded::new(object)
            }
        }
    } else {
        Encoded::new(object)
    };
    let delete = object.delete_without_get()
        || provider_call(
            ctx,
            B::EVENTS,
            object,
            "GetLoadBalancer",
            ctx.provider.get(&payload),
        )
        .await?
        .is_some();
    if delete {
        narrate::<B>(
            ctx,
            object,
            "DeletingLoadBalancer",
            "Deleting load balancer",
        );
        let delete = ctx.provider.ensure_deleted(&payload);
        provider_call(ctx, B::EVENTS, object, B::DELETE_CALL, delete).await?;
        tracing::info!("deleted the load balancer");
        narrate::<B>(ctx, object, "DeletedLoadBalancer", "Deleted load balancer");
    }
    let mut current = object.clone();
    if current.meta().deletion_timestamp.is_none() && current.load_balancer().is_some() {
        // The patched object carries the new resourceVersion the finalizer patch is checked
        // against.
        current = patch_status_returning(api, &current.name_any(), json!({ "loadBalancer": null }))
            .await?;
    }
    remove_finalizer(api, &current, B::FINALIZER).await?;
    Ok(Action::await_change())
}
