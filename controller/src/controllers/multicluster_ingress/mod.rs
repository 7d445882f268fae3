//! `multiclusteringress`: cloud load balancers for MultiClusterIngresses of our IngressClass.
//!
//! Reconcile (as the Go original): add finalizer `karmada.io/multi-cluster-ingress-controller`;
//! set `status.trafficBlockClusters` to the sorted clusters of `status.serviceLocations` whose
//! Cluster has `TrafficControl` in `status.remedyActions`; `get` the balancer, then `update` it if
//! it exists else `ensure` it, and write `status.loadBalancer` when it changed. On deletion:
//! `ensure_deleted`, then remove the finalizer.
//!
//! Re-triggered (Go predicates) when an MCI's spec, annotations or deletion state change; when a
//! Service it references is created, deleted or changes spec, annotations or deletion state; when
//! an EndpointSlice of such a Service (label `kubernetes.io/service-name`, `derived-` stripped)
//! changes; when a TLS Secret it references changes; when a Cluster in its service locations
//! gains or loses `TrafficControl`.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::networking::v1::{IngressClass, IngressLoadBalancerStatus};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use mcp_interface::api::cluster::REMEDY_ACTION_TRAFFIC_CONTROL;
use mcp_interface::api::networking::MultiClusterIngress;
use serde_json::json;

use crate::context::{CacheKind, Context};
use crate::controllers::{
    ServiceHandler, Trigger, namespaced_api, patch_finalizers, run_controller,
    spec_annotations_or_deletion_changed, watch_services,
};
use crate::error::{Error, Result};

pub const NAME: &str = "multiclusteringress";
pub const FINALIZER: &str = "karmada.io/multi-cluster-ingress-controller";
/// The annotation that marks the default IngressClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

pub const CACHES: &[CacheKind] = &[
    CacheKind::MultiClusterIngresses,
    CacheKind::IngressClasses,
    CacheKind::Clusters,
    CacheKind::Services,
    CacheKind::EndpointSlices,
    CacheKind::Secrets,
];

/// The Services an MCI references: its rules' backends and its default backend.
pub fn referenced_services(mci: &MultiClusterIngress) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Some(spec) = &mci.spec else {
        return names;
    };
    if let Some(svc) = spec
        .default_backend
        .as_ref()
        .and_then(|b| b.service.as_ref())
    {
        names.insert(svc.name.clone());
    }
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
            if let Some(svc) = &path.backend.service {
                names.insert(svc.name.clone());
            }
        }
    }
    names
}

/// The TLS Secrets an MCI references.
pub fn referenced_secrets(mci: &MultiClusterIngress) -> BTreeSet<String> {
    mci.spec
        .iter()
        .flat_map(|s| s.tls.iter().flatten())
        .filter_map(|t| t.secret_name.clone())
        .collect()
}

/// Whether the MCI's IngressClass is served by `controller` (`--provider-ingress-class`): the
/// class named in `spec.ingressClassName`, else the one default class. Several default classes
/// is an error, as in Kubernetes.
pub fn class_matches(
    mci: &MultiClusterIngress,
    classes: &[Arc<IngressClass>],
    controller: &str,
) -> Result<bool> {
    let served = |class: &IngressClass| {
        class.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(controller)
    };
    if let Some(name) = mci
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
    {
        return Ok(classes.iter().any(|c| c.name_any() == name && served(c)));
    }
    let defaults: Vec<&Arc<IngressClass>> = classes
        .iter()
        .filter(|c| {
            c.annotations()
                .get(DEFAULT_CLASS_ANNOTATION)
                .map(String::as_str)
                == Some("true")
        })
        .collect();
    match defaults.as_slice() {
        [] => Ok(false),
        [one] => Ok(served(one)),
        many => Err(Error::Invalid(format!(
            "{} IngressClasses are marked default ({}); mark exactly one with {DEFAULT_CLASS_ANNOTATION}: \"true\" or set spec.ingressClassName",
            many.len(),
            many.iter()
                .map(|c| c.name_any())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn is_ours(ctx: &Context, mci: &MultiClusterIngress) -> bool {
    let classes = ctx.caches.ingress_classes().store().state();
    match class_matches(mci, &classes, &ctx.settings.provider_ingress_class) {
        Ok(ours) => ours,
        Err(e) => {
            tracing::warn!(
                namespace = mci.namespace().unwrap_or_default(),
                name = mci.name_any(),
                "{e}"
            );
            false
        }
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
                .get(&kube::runtime::reflector::ObjectRef::new(name))
                .is_some_and(|c| c.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL))
        })
        .map(str::to_owned)
        .collect();
    blocked.sort();
    blocked
}

/// Writes one status field with a merge patch on `/status`: the other status fields (written by
/// other controllers) are left as they are, so no conflict can clobber them.
async fn patch_status(
    api: &Api<MultiClusterIngress>,
    name: &str,
    status: serde_json::Value,
) -> Result<MultiClusterIngress> {
    Ok(api
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await?)
}

async fn reconcile(mci: Arc<MultiClusterIngress>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, mci.as_ref());
    let has_finalizer = mci.finalizers().iter().any(|f| f == FINALIZER);

    if mci.metadata.deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        ctx.provider.mci_ensure_deleted(&mci).await?;
        tracing::info!("deleted the load balancer");
        let remaining: Vec<String> = mci
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        patch_finalizers(&api, &mci, remaining).await?;
        return Ok(Action::await_change());
    }

    if !is_ours(&ctx, &mci) {
        tracing::debug!("not our IngressClass; skipped");
        return Ok(Action::await_change());
    }

    let mut current: MultiClusterIngress = (*mci).clone();
    if !has_finalizer {
        let mut finalizers = mci.finalizers().to_vec();
        finalizers.push(FINALIZER.to_owned());
        current = patch_finalizers(&api, &mci, finalizers).await?;
    }

    let blocked = traffic_block_clusters(&current, &ctx);
    let existing_blocked = current
        .status
        .as_ref()
        .and_then(|s| s.traffic_block_clusters.clone())
        .unwrap_or_default();
    if blocked != existing_blocked {
        let value = if blocked.is_empty() {
            json!(null)
        } else {
            json!(blocked)
        };
        current = patch_status(
            &api,
            &current.name_any(),
            json!({ "trafficBlockClusters": value }),
        )
        .await?;
    }

    let status = match ctx.provider.mci_get(&current).await? {
        Some(_) => {
            let status = ctx.provider.mci_update(&current).await?;
            tracing::info!("updated the load balancer");
            status
        }
        None => {
            let status = ctx.provider.mci_ensure(&current).await?;
            tracing::info!("created the load balancer");
            status
        }
    };
    let existing = current
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.clone())
        .unwrap_or_default();
    if !same_status(&existing, &status) {
        patch_status(&api, &current.name_any(), json!({ "loadBalancer": status })).await?;
    }
    Ok(Action::await_change())
}

/// Compares statuses as the API server stores them (an empty list and no list are the same).
fn same_status(a: &IngressLoadBalancerStatus, b: &IngressLoadBalancerStatus) -> bool {
    let norm = |s: &IngressLoadBalancerStatus| s.ingress.clone().unwrap_or_default();
    norm(a) == norm(b)
}

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<MultiClusterIngress>::new();
        let caches = ctx.caches.clone();
        let mcis = caches.mcis().clone();

        // The MCIs of a namespace that reference a Service.
        let by_service = {
            let mcis = mcis.clone();
            let ctx = ctx.clone();
            let trigger = trigger.clone();
            move |namespace: &str, service: &str| {
                for mci in mcis.store().state() {
                    if mci.namespace().as_deref() == Some(namespace)
                        && referenced_services(&mci).contains(service)
                        && is_ours(&ctx, &mci)
                    {
                        trigger.enqueue_obj(&mci);
                    }
                }
            }
        };
        let by_service: ServiceHandler = Arc::new(by_service);

        let _services = watch_services(&caches, by_service.clone());
        let _subscriptions = [
            mcis.subscribe({
                let ctx = ctx.clone();
                let trigger = trigger.clone();
                move |change| {
                    if let crate::cache::Change::Applied { old, new } = change
                        && old.is_none_or(|old| {
                            spec_annotations_or_deletion_changed(old, new, |m| &m.spec)
                        })
                        && (is_ours(&ctx, new) || new.finalizers().iter().any(|f| f == FINALIZER))
                    {
                        trigger.enqueue_obj(new);
                    }
                }
            }),
            caches.secrets().subscribe({
                let mcis = mcis.clone();
                let ctx = ctx.clone();
                let trigger = trigger.clone();
                move |change| {
                    if let crate::cache::Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                        && old.metadata.resource_version == new.metadata.resource_version
                    {
                        return;
                    }
                    let secret = change.object();
                    let namespace = secret.namespace().unwrap_or_default();
                    let name = secret.name_any();
                    for mci in mcis.store().state() {
                        if mci.namespace().as_deref() == Some(namespace.as_str())
                            && referenced_secrets(&mci).contains(&name)
                            && is_ours(&ctx, &mci)
                        {
                            trigger.enqueue_obj(&mci);
                        }
                    }
                }
            }),
            caches.clusters().subscribe({
                let mcis = mcis.clone();
                let ctx = ctx.clone();
                let trigger = trigger.clone();
                move |change| {
                    let crate::cache::Change::Applied {
                        old: Some(old),
                        new,
                    } = change
                    else {
                        return;
                    };
                    if old.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
                        == new.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
                    {
                        return;
                    }
                    let cluster = new.name_any();
                    for mci in mcis.store().state() {
                        let located = mci
                            .status
                            .iter()
                            .flat_map(|s| s.service_locations.iter().flatten())
                            .any(|l| l.clusters.iter().flatten().any(|c| *c == cluster));
                        if located && is_ours(&ctx, &mci) {
                            trigger.enqueue_obj(&mci);
                        }
                    }
                }
            }),
        ];

        trigger.enqueue_existing(mcis.store(), |mci| {
            is_ours(&ctx, mci) || mci.finalizers().iter().any(|f| f == FINALIZER)
        });
        run_controller(
            NAME,
            ctx.clone(),
            mcis.store().clone(),
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
    use k8s_openapi::api::networking::v1::IngressClassSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn class(name: &str, controller: &str, default: bool) -> Arc<IngressClass> {
        let mut meta = ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        };
        if default {
            meta.annotations =
                Some([(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())].into());
        }
        Arc::new(IngressClass {
            metadata: meta,
            spec: Some(IngressClassSpec {
                controller: Some(controller.into()),
                parameters: None,
            }),
        })
    }

    fn mci(yaml: &str) -> MultiClusterIngress {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn class_by_name_or_single_default() {
        let named = mci("metadata: {name: a}\nspec: {ingressClassName: other}");
        let unnamed = mci("metadata: {name: a}\nspec: {}");
        let classes = vec![
            class("fake", "karmada.io/fake", true),
            class("other", "example.com/x", false),
        ];
        assert!(!class_matches(&named, &classes, "karmada.io/fake").unwrap());
        assert!(class_matches(&named, &classes, "example.com/x").unwrap());
        assert!(class_matches(&unnamed, &classes, "karmada.io/fake").unwrap());
        assert!(!class_matches(&unnamed, &classes[1..], "karmada.io/fake").unwrap());
        let two_defaults = vec![
            class("a", "karmada.io/fake", true),
            class("b", "karmada.io/fake", true),
        ];
        let err = class_matches(&unnamed, &two_defaults, "karmada.io/fake").unwrap_err();
        assert!(
            err.to_string()
                .contains("2 IngressClasses are marked default"),
            "{err}"
        );
    }

    #[test]
    fn references_cover_rules_default_backend_and_tls() {
        let m = mci(r#"
metadata: {name: a, namespace: ns}
spec:
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  tls: [{hosts: [a.example.com], secretName: a-tls}, {hosts: [b.example.com]}]
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
      - {path: /r, pathType: Prefix, backend: {resource: {apiGroup: x, kind: Bucket, name: b}}}
"#);
        assert_eq!(
            referenced_services(&m).into_iter().collect::<Vec<_>>(),
            ["api", "fallback", "web"]
        );
        assert_eq!(
            referenced_secrets(&m).into_iter().collect::<Vec<_>>(),
            ["a-tls"]
        );
    }
}
