//! `multiclusterservice`: cloud load balancers for MultiClusterServices of type `LoadBalancer`.
//!
//! Reconcile (as the Go original): for an MCS whose `spec.types` contains `LoadBalancer`, add
//! finalizer `karmada.io/multi-cluster-service-controller`, `get` the balancer, then `update` it
//! if it exists else `ensure` it, and write `status.loadBalancer` when it changed, with a merge
//! patch on `/status` of that one field: Karmada writes `status.conditions` into the same status
//! and they are never touched. When the MCS is deleted or `LoadBalancer` leaves its types:
//! `ensure_deleted` if the balancer exists, clear `status.loadBalancer` (when the object lives
//! on), then remove the finalizer. Each provider failure is also reported as a Warning Event with
//! reason `MCSLoadBalance` on the MCS.
//!
//! Re-triggered (Go predicates) when an MCS's spec, annotations or deletion state change; when the
//! Service of the same name is created, deleted or changes spec, annotations or deletion state;
//! when an EndpointSlice of that Service (label `kubernetes.io/service-name`, `derived-` stripped)
//! changes.
//!
//! Differences from Go, on purpose:
//! * Go, for an MCS without `LoadBalancer`, calls `get` on every trigger and keeps its finalizer
//!   when no balancer exists (so such an MCS can never be deleted). Here an MCS without our
//!   finalizer is never handed to the provider (we add the finalizer before creating anything),
//!   and the finalizer is always removed once the balancer is gone.
//! * Go calls `ensure_deleted` directly on deletion; here `get` first, so a balancer that is
//!   already gone costs no delete call.
//! * Go reports Events only for failures while deleting; here every provider failure is reported.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::LoadBalancerStatus;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use mcp_interface::api::constants::MCS_CONTROLLER_FINALIZER;
use mcp_interface::api::networking::MultiClusterService;
use mcp_loader::CallError;
use serde_json::json;

use crate::cache::Change;
use crate::context::{CacheKind, Context};
use crate::controllers::{
    ServiceHandler, Trigger, namespaced_api, patch_finalizers, run_controller,
    spec_annotations_or_deletion_changed, watch_services,
};
use crate::error::Result;

pub const NAME: &str = "multiclusterservice";
pub const FINALIZER: &str = MCS_CONTROLLER_FINALIZER;
/// The reason of the Warning Events reporting provider failures (Go's `LBEventReason`).
pub const EVENT_REASON: &str = "MCSLoadBalance";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterServices,
    CacheKind::Services,
    CacheKind::EndpointSlices,
];

fn wants_load_balancer(mcs: &MultiClusterService) -> bool {
    mcs.spec.has_load_balancer()
}

fn has_finalizer(mcs: &MultiClusterService) -> bool {
    mcs.finalizers().iter().any(|f| f == FINALIZER)
}

/// Whether this controller has anything to do with the MCS: it wants a balancer, or it carries
/// our finalizer (a balancer may exist that must be removed).
fn is_ours(mcs: &MultiClusterService) -> bool {
    wants_load_balancer(mcs) || has_finalizer(mcs)
}

/// Writes `status.loadBalancer` alone with a merge patch on `/status`: `status.conditions`
/// (Karmada's) is left as it is. `None` removes the field.
async fn patch_load_balancer(
    api: &Api<MultiClusterService>,
    name: &str,
    status: Option<&LoadBalancerStatus>,
) -> Result<MultiClusterService> {
    // An empty ingress list is written as no field at all: a merge patch of `{}` would keep the
    // old addresses.
    let value = match status {
        Some(s) if s.ingress.as_ref().is_some_and(|i| !i.is_empty()) => json!(s),
        _ => json!(null),
    };
    Ok(api
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": { "loadBalancer": value } })),
        )
        .await?)
}

/// Compares statuses as the API server stores them (an empty list and no list are the same).
fn same_status(a: Option<&LoadBalancerStatus>, b: Option<&LoadBalancerStatus>) -> bool {
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
    match call.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let event = Event {
                type_: EventType::Warning,
                reason: EVENT_REASON.to_owned(),
                note: Some(truncate(
                    format!("{action} failed for the load balancer: {error}"),
                    1024,
                )),
                action: action.to_owned(),
                secondary: None,
            };
            if let Err(e) = ctx.recorder.publish(&event, &mcs.object_ref(&())).await {
                tracing::warn!("could not record a {EVENT_REASON} event: {e}");
            }
            Err(error.into())
        }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary (Event notes are limited to 1 kB).
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Removes the balancer (if any), clears `status.loadBalancer` when the object lives on, and
/// removes the finalizer.
async fn clean_up(
    api: &Api<MultiClusterService>,
    mcs: &MultiClusterService,
    ctx: &Context,
) -> Result<Action> {
    if provider_call(ctx, mcs, "GetLoadBalancer", ctx.provider.mcs_get(mcs))
        .await?
        .is_some()
    {
        provider_call(
            ctx,
            mcs,
            "DeleteLoadBalancer",
            ctx.provider.mcs_ensure_deleted(mcs),
        )
        .await?;
        tracing::info!("deleted the load balancer");
    }
    let mut current = mcs.clone();
    if current.metadata.deletion_timestamp.is_none() && current_load_balancer(&current).is_some() {
        // The patched object carries the new resourceVersion the finalizer patch is checked against.
        current = patch_load_balancer(api, &current.name_any(), None).await?;
    }
    let remaining: Vec<String> = current
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(api, &current, remaining).await?;
    Ok(Action::await_change())
}

async fn reconcile(mcs: Arc<MultiClusterService>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, mcs.as_ref());

    if mcs.metadata.deletion_timestamp.is_some() || !wants_load_balancer(&mcs) {
        if !has_finalizer(&mcs) {
            tracing::debug!("no load balancer wanted and none made; skipped");
            return Ok(Action::await_change());
        }
        return clean_up(&api, &mcs, &ctx).await;
    }

    let mut current: MultiClusterService = (*mcs).clone();
    if !has_finalizer(&mcs) {
        let mut finalizers = mcs.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        current = patch_finalizers(&api, &mcs, finalizers).await?;
    }

    let exists = provider_call(
        &ctx,
        &current,
        "GetLoadBalancer",
        ctx.provider.mcs_get(&current),
    )
    .await?
    .is_some();
    let status = if exists {
        let status = provider_call(
            &ctx,
            &current,
            "UpdateLoadBalancer",
            ctx.provider.mcs_update(&current),
        )
        .await?;
        tracing::info!("updated the load balancer");
        status
    } else {
        let status = provider_call(
            &ctx,
            &current,
            "EnsureLoadBalancer",
            ctx.provider.mcs_ensure(&current),
        )
        .await?;
        tracing::info!("created the load balancer");
        status
    };
    if !same_status(current_load_balancer(&current), Some(&status)) {
        patch_load_balancer(&api, &current.name_any(), Some(&status)).await?;
    }
    Ok(Action::await_change())
}

/// The Go MCS update predicate: annotations, spec or deletion state changed.
fn spec_changed(old: &MultiClusterService, new: &MultiClusterService) -> bool {
    spec_annotations_or_deletion_changed(old, new, |m| &m.spec)
}

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<MultiClusterService>::new();
        let caches = ctx.caches.clone();
        let mcss = caches.mcss().clone();

        // The MCS named like a Service, if this controller cares about it.
        let by_service = {
            let mcss = mcss.clone();
            let trigger = trigger.clone();
            move |namespace: &str, service: &str| {
                let key = kube::runtime::reflector::ObjectRef::new(service).within(namespace);
                if let Some(mcs) = mcss.store().get(&key)
                    && is_ours(&mcs)
                {
                    trigger.enqueue_obj(&mcs);
                }
            }
        };
        let by_service: ServiceHandler = Arc::new(by_service);
        let _services = watch_services(&caches, by_service.clone());

        let _subscriptions = [mcss.subscribe({
            let trigger = trigger.clone();
            move |change| {
                // Deletions need nothing: with the finalizer, deletion is an update.
                if let Change::Applied { old, new } = change {
                    let relevant = match old {
                        None => is_ours(new),
                        Some(old) => (is_ours(old) || is_ours(new)) && spec_changed(old, new),
                    };
                    if relevant {
                        trigger.enqueue_obj(new);
                    }
                }
            }
        })];

        trigger.enqueue_existing(mcss.store(), is_ours);
        run_controller(
            NAME,
            ctx.clone(),
            mcss.store().clone(),
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
    use k8s_openapi::api::core::v1::LoadBalancerIngress;

    fn mcs(yaml: &str) -> MultiClusterService {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn lb(ips: &[&str]) -> LoadBalancerStatus {
        LoadBalancerStatus {
            ingress: Some(
                ips.iter()
                    .map(|ip| LoadBalancerIngress {
                        ip: Some((*ip).to_owned()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn ours_means_load_balancer_type_or_our_finalizer() {
        assert!(is_ours(&mcs(
            "metadata: {name: a}\nspec: {types: [LoadBalancer]}"
        )));
        assert!(!is_ours(&mcs(
            "metadata: {name: a}\nspec: {types: [CrossCluster]}"
        )));
        assert!(is_ours(&mcs(&format!(
            "metadata: {{name: a, finalizers: [{FINALIZER}]}}\nspec: {{types: [CrossCluster]}}"
        ))));
    }

    #[test]
    fn statuses_compare_as_stored() {
        assert!(same_status(None, Some(&LoadBalancerStatus::default())));
        assert!(same_status(Some(&lb(&[])), None));
        assert!(same_status(
            Some(&lb(&["1.2.3.4"])),
            Some(&lb(&["1.2.3.4"]))
        ));
        assert!(!same_status(
            Some(&lb(&["1.2.3.4"])),
            Some(&lb(&["1.2.3.5"]))
        ));
        assert!(!same_status(None, Some(&lb(&["1.2.3.4"]))));
    }

    #[test]
    fn only_spec_annotations_and_deletion_are_changes() {
        let old = mcs("metadata: {name: a, resourceVersion: '1'}\nspec: {types: [LoadBalancer]}");
        let mut new = old.clone();
        new.metadata.resource_version = Some("2".into());
        new.status = Some(Default::default());
        assert!(!spec_changed(&old, &new));
        new.metadata.annotations = Some([("a".to_owned(), "b".to_owned())].into());
        assert!(spec_changed(&old, &new));
        let mut types = old.clone();
        types.spec.types = vec!["CrossCluster".into()];
        assert!(spec_changed(&old, &types));
    }

    #[test]
    fn event_notes_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("abc".into(), 5), "abc");
        assert_eq!(truncate("aé".into(), 2), "a");
        assert_eq!(truncate("x".repeat(2000), 1024).len(), 1024);
    }
}
