//! Reconcile one MultiClusterIngress: which MCIs are ours (their IngressClass), then the shared
//! balancer reconcile (`controllers/balancer.rs`) with what is the MCI's own: traffic-blocked
//! clusters, Normal Events for the balancer's lifecycle.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::{
    IngressClass, IngressLoadBalancerIngress, IngressLoadBalancerStatus,
};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use mcp_interface::api::networking::MultiClusterIngress;
use serde_json::json;

use super::{DEFAULT_CLASS_ANNOTATION, EVENTS, FINALIZER};
use crate::context::Context;
use crate::controllers::backends::traffic_block_clusters;
use crate::controllers::balancer::{self, Balanced};
use crate::error::{Error, Result};
use crate::events::Reporter;
use crate::writes::{has_finalizer, patch_status_returning};

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

/// The MCI's [`Class`] from the cached IngressClasses, for the reconcile. An invalid class
/// set-up gives `None` (nothing is done until the classes change); it is logged and, being
/// something the user must fix, said on the MCI as a Warning (`kubectl describe` shows it).
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
/// finalizer while its class does not resolve (its deletion waits for the class, retried), or
/// the class set-up is invalid (the reconcile reports that on the MCI). Mappers ask this: it
/// reads the cache and does nothing else.
pub fn is_handled(ctx: &Context, mci: &MultiClusterIngress) -> bool {
    let classes = ctx.caches.ingress_classes().store().state();
    match class_of(mci, &classes, &ctx.settings.provider_ingress_class) {
        Ok(Class::Ours) | Err(_) => true,
        Ok(Class::Unresolved(_)) => deletion_pending(mci),
        Ok(Class::Theirs) => false,
    }
}

impl Balanced for MultiClusterIngress {
    type Address = IngressLoadBalancerIngress;
    const EVENTS: Reporter = EVENTS;
    const FINALIZER: &'static str = FINALIZER;
    const LIFECYCLE_EVENTS: bool = true;
    const DELETE_CALL: &'static str = "EnsureLoadBalancerDeleted";

    fn load_balancer(&self) -> Option<&IngressLoadBalancerStatus> {
        self.status.as_ref().and_then(|s| s.load_balancer.as_ref())
    }
    fn addresses(status: &IngressLoadBalancerStatus) -> &[IngressLoadBalancerIngress] {
        status.ingress.as_deref().unwrap_or_default()
    }
    /// As the Go original: only a deletion removes the balancer.
    fn unwanted(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }
    fn delete_without_get(&self) -> bool {
        true
    }
    /// Writes `status.trafficBlockClusters` when it changed.
    async fn prepare(self, api: &Api<Self>, ctx: &Context) -> Result<Self> {
        let blocked = traffic_block_clusters(&self, ctx.caches.clusters().store());
        let existing = self
            .status
            .as_ref()
            .and_then(|s| s.traffic_block_clusters.as_deref())
            .unwrap_or_default();
        if blocked == existing {
            return Ok(self);
        }
        patch_status_returning(
            api,
            &self.name_any(),
            json!({ "trafficBlockClusters": blocked }),
        )
        .await
    }
}

pub async fn reconcile(mci: Arc<MultiClusterIngress>, ctx: Arc<Context>) -> Result<Action> {
    // Before anything else, deletion included: the finalizer name is shared by the deployments
    // of every class, and another class's balancer is not ours to delete.
    match class(&ctx, &mci) {
        Some(Class::Ours) => balancer::reconcile(mci, &ctx).await,
        // Whose balancer it is cannot be told, so none is deleted; nor is the deletion dropped:
        // it is retried with backoff, and re-triggered when the class is back.
        Some(Class::Unresolved(missing)) if deletion_pending(&mci) => {
            let message = format!(
                "{missing}: the load balancer of this MultiClusterIngress cannot be deleted until its IngressClass is back; restore the IngressClass (the default one if the MultiClusterIngress names none), or remove the finalizer {FINALIZER} by hand if it has no load balancer"
            );
            ctx.events
                .warn(EVENTS, mci.as_ref(), "IngressClassNotFound", &message);
            Err(Error::Invalid(message))
        }
        _ => {
            tracing::debug!("not our IngressClass; skipped");
            Ok(Action::await_change())
        }
    }
}
