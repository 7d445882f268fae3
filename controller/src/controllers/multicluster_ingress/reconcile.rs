//! Reconcile one MultiClusterIngress: finalizer, traffic-blocked clusters, the balancer and its
//! status; and which MCIs are ours (their IngressClass).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{IngressClass, IngressLoadBalancerStatus};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::cluster::REMEDY_ACTION_TRAFFIC_CONTROL;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_loader::Encoded;
use serde_json::json;

use super::{DEFAULT_CLASS_ANNOTATION, EVENTS, FINALIZER};
use crate::context::Context;
use crate::controllers::calls::provider_call;
use crate::error::{Error, Result};
use crate::writes::{
    add_finalizer, has_finalizer, namespaced_api, patch_status, patch_status_returning,
    remove_finalizer,
};

/// Whose MCI it is, as its IngressClass says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// Its class is served by `--provider-ingress-class`.
    Ours,
    /// Its class is another controller's: left alone.
    Theirs,
    /// The class it names does not exist, or it names none and no class is the default: whose
    /// it is cannot be told. Says what is missing.
    Unresolved(String),
}

/// Whether `class` is marked the default IngressClass.
pub fn is_default(class: &IngressClass) -> bool {
    class
        .annotations()
        .get(DEFAULT_CLASS_ANNOTATION)
        .map(String::as_str)
        == Some("true")
}

/// The MCI's IngressClass among `classes`, and whether it is served by `controller`
/// (`--provider-ingress-class`): the class named in `spec.ingressClassName`, else the one default
/// class. Several default classes is an error, as in Kubernetes.
pub fn class_of(
    mci: &MultiClusterIngress,
    classes: &[Arc<IngressClass>],
    controller: &str,
) -> Result<Class> {
    let served = |class: &IngressClass| {
        if class.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(controller) {
            Class::Ours
        } else {
            Class::Theirs
        }
    };
    if let Some(name) = mci
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
    {
        return Ok(classes.iter().find(|c| c.name_any() == name).map_or_else(
            || Class::Unresolved(format!("IngressClass {name} not found")),
            |c| served(c),
        ));
    }
    let defaults: Vec<&Arc<IngressClass>> = classes.iter().filter(|c| is_default(c)).collect();
    match defaults.as_slice() {
        [] => Ok(Class::Unresolved(
            "no IngressClass is marked default and this MultiClusterIngress names none".into(),
        )),
        [one] => Ok(served(one)),
        many => {
            // Sorted: the cache's order is arbitrary, and the same problem must read the same
            // each time (repeated Events are aggregated by their message).
            let mut names: Vec<String> = many.iter().map(|c| c.name_any()).collect();
            names.sort();
            Err(Error::Invalid(format!(
                "{} IngressClasses are marked default ({}); mark exactly one with {DEFAULT_CLASS_ANNOTATION}: \"true\" or set spec.ingressClassName",
                many.len(),
                names.join(", ")
            )))
        }
    }
}

/// The MCI's [`Class`] from the cached IngressClasses. An invalid class set-up gives `None`
/// (nothing is done until the classes change); it is logged and, being something the user must
/// fix, said on the MCI as a Warning (`kubectl describe` shows it). Recording does not block, so
/// mappers may ask too.
pub fn class(ctx: &Context, mci: &MultiClusterIngress) -> Option<Class> {
    let classes = ctx.caches.ingress_classes().store().state();
    match class_of(mci, &classes, &ctx.settings.provider_ingress_class) {
        Ok(class) => Some(class),
        Err(e) => {
            tracing::warn!(
                namespace = mci.namespace().unwrap_or_default(),
                name = mci.name_any(),
                "{e}"
            );
            ctx.events
                .warn(EVENTS, mci, "InvalidIngressClass", &e.to_string());
            None
        }
    }
}

/// Whether the MCI is being deleted and still carries our finalizer name.
fn deletion_pending(mci: &MultiClusterIngress) -> bool {
    mci.metadata.deletion_timestamp.is_some() && has_finalizer(mci, FINALIZER)
}

/// Whether [`reconcile`] has work on the MCI: it is ours, or it is being deleted with the
/// finalizer while its class does not resolve (its deletion waits for the class, retried).
pub fn is_handled(ctx: &Context, mci: &MultiClusterIngress) -> bool {
    match class(ctx, mci) {
        Some(Class::Ours) => true,
        Some(Class::Unresolved(_)) => deletion_pending(mci),
        Some(Class::Theirs) | None => false,
    }
}

/// The sorted clusters of the MCI's service locations that carry `TrafficControl`.
pub fn traffic_block_clusters(mci: &MultiClusterIngress, ctx: &Context) -> Vec<String> {
    let located: BTreeSet<&str> = mci
        .status
        .iter()
        .flat_map(|s| s.service_locations.iter().flatten())
        .flat_map(|l| l.clusters.iter().flatten())
        .map(String::as_str)
        .collect();
    let clusters = ctx.caches.clusters().store();
    let mut blocked: Vec<String> = located
        .into_iter()
        .filter(|name| {
            clusters
                .get(&ObjectRef::new(name))
                .is_some_and(|c| c.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL))
        })
        .map(str::to_owned)
        .collect();
    blocked.sort();
    blocked
}

pub async fn reconcile(mci: Arc<MultiClusterIngress>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, mci.as_ref());

    // Before anything else, deletion included: the finalizer name is shared by the deployments
    // of every class, and another class's balancer is not ours to delete.
    match class(&ctx, &mci) {
        Some(Class::Ours) => {}
        // Whose balancer it is cannot be told, so none is deleted; nor is the deletion dropped:
        // it is retried with backoff, and re-triggered when the class is back.
        Some(Class::Unresolved(missing)) if deletion_pending(&mci) => {
            let message = format!(
                "{missing}: the load balancer of this MultiClusterIngress cannot be deleted until its IngressClass is back; restore the IngressClass (the default one if the MultiClusterIngress names none), or remove the finalizer {FINALIZER} by hand if it has no load balancer"
            );
            ctx.events
                .warn(EVENTS, mci.as_ref(), "IngressClassNotFound", &message);
            return Err(Error::Invalid(message));
        }
        _ => {
            tracing::debug!("not our IngressClass; skipped");
            return Ok(Action::await_change());
        }
    }

    if mci.metadata.deletion_timestamp.is_some() {
        if !has_finalizer(mci.as_ref(), FINALIZER) {
            return Ok(Action::await_change());
        }
        ctx.events.normal(
            EVENTS,
            mci.as_ref(),
            "DeletingLoadBalancer",
            "Deleting load balancer",
        );
        let delete = ctx.provider.mci_ensure_deleted(&mci);
        provider_call(
            &ctx,
            EVENTS,
            mci.as_ref(),
            "EnsureLoadBalancerDeleted",
            delete,
        )
        .await?;
        tracing::info!("deleted the load balancer");
        ctx.events.normal(
            EVENTS,
            mci.as_ref(),
            "DeletedLoadBalancer",
            "Deleted load balancer",
        );
        remove_finalizer(&api, mci.as_ref(), FINALIZER).await?;
        return Ok(Action::await_change());
    }

    let mut current: MultiClusterIngress = (*mci).clone();
    if !has_finalizer(mci.as_ref(), FINALIZER) {
        current = add_finalizer(&api, mci.as_ref(), FINALIZER).await?;
    }

    let blocked = traffic_block_clusters(&current, &ctx);
    let existing_blocked = current
        .status
        .as_ref()
        .and_then(|s| s.traffic_block_clusters.clone())
        .unwrap_or_default();
    if blocked != existing_blocked {
        current = patch_status_returning(
            &api,
            &current.name_any(),
            json!({ "trafficBlockClusters": blocked }),
        )
        .await?;
    }

    let existing = current
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.clone())
        .unwrap_or_default();
    // Encoded once for both calls (the same JSON as encoding it for each).
    let payload = Encoded::new(&current);
    let get = ctx.provider.mci_get(&payload);
    let status = match provider_call(&ctx, EVENTS, &current, "GetLoadBalancer", get).await? {
        Some(_) => {
            let update = ctx.provider.mci_update(&payload);
            let status =
                provider_call(&ctx, EVENTS, &current, "UpdateLoadBalancer", update).await?;
            tracing::info!("updated the load balancer");
            if !same_status(&existing, &status) {
                ctx.events.normal(
                    EVENTS,
                    &current,
                    "UpdatedLoadBalancer",
                    "Updated load balancer",
                );
            }
            status
        }
        None => {
            ctx.events.normal(
                EVENTS,
                &current,
                "EnsuringLoadBalancer",
                "Ensuring load balancer",
            );
            let ensure = ctx.provider.mci_ensure(&payload);
            let status =
                provider_call(&ctx, EVENTS, &current, "EnsureLoadBalancer", ensure).await?;
            tracing::info!("created the load balancer");
            ctx.events.normal(
                EVENTS,
                &current,
                "EnsuredLoadBalancer",
                "Ensured load balancer",
            );
            status
        }
    };
    if !same_status(&existing, &status) {
        patch_status::<MultiClusterIngress>(
            &api,
            &current.name_any(),
            json!({ "loadBalancer": status }),
        )
        .await?;
    }
    Ok(Action::await_change())
}

/// Compares statuses as the API server stores them (an empty list and no list are the same).
pub fn same_status(a: &IngressLoadBalancerStatus, b: &IngressLoadBalancerStatus) -> bool {
    let norm = |s: &IngressLoadBalancerStatus| s.ingress.clone().unwrap_or_default();
    norm(a) == norm(b)
}
