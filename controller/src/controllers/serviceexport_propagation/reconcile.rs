//! Reconcile one Service key: keep its ServiceExport and PropagationPolicy while it is
//! referenced, delete the ones it controls when it is not.

use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use mcp_interface::api::constants::service_export_policy_name;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::policy::PropagationPolicy;
use serde_json::json;

use super::keys::Keys;
use super::owned::{
    cluster_names, controlled_by_service, controller_ref, desired_export, desired_policy,
    is_service_ref, owned_by, owner_ref, policy_patch, serves_service_exports, with_owner,
};
use crate::cache::{Cacheable, CachedService, SharedCache};
use crate::context::Context;
use crate::controllers::references::{is_referenced, service_clusters};
use crate::error::Result;
use crate::key::ObjectKey;
use crate::writes::{create_unless_exists, delete_same, namespaced_api};

async fn ensure_export(ctx: &Context, svc: &CachedService) -> Result<()> {
    let namespace = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let api: Api<ServiceExport> = Api::namespaced(ctx.client.clone(), &namespace);
    let ours = owner_ref(svc);
    let cached = ctx.caches.service_exports().get(&namespace, &name);
    let Some(export) = cached else {
        if create_unless_exists(&api, &desired_export(svc)).await? {
            tracing::info!("created the ServiceExport");
        } else {
            tracing::debug!("the ServiceExport exists");
        }
        return Ok(());
    };
    if export.metadata.deletion_timestamp.is_some() {
        tracing::debug!("the ServiceExport is being deleted; it is recreated once gone");
        return Ok(());
    }
    match controller_ref(&export.metadata) {
        Some(r) if is_service_ref(r, &name) => {
            if !owned_by(&export.metadata, &ours) {
                let patch = json!({
                    "metadata": {
                        "resourceVersion": export.resource_version(),
                        "ownerReferences": with_owner(&export.metadata, &ours),
                    }
                });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::info!("pointed the ServiceExport's ownerReference at the current Service");
            }
        }
        Some(other) => tracing::debug!(
            controller = format!("{}/{}", other.kind, other.name),
            "the ServiceExport is controlled by something else; left alone"
        ),
        None => tracing::debug!("the ServiceExport was made by someone else; left alone"),
    }
    Ok(())
}

/// The clusters the policy of `namespace/service` places the ServiceExport on: those of the
/// Service's binding that serve the ServiceExport API, or that `policy` already places it on.
/// Also returns the binding's clusters still waiting for the API.
fn placement(
    ctx: &Context,
    namespace: &str,
    service: &str,
    policy: Option<&PropagationPolicy>,
) -> (Vec<String>, Vec<String>) {
    let placed = policy.map(cluster_names).unwrap_or_default();
    let clusters = ctx.caches.clusters().store();
    service_clusters(ctx.caches.bindings(), namespace, service)
        .unwrap_or_default()
        .into_iter()
        .partition(|name| {
            placed.contains(name)
                || clusters
                    .get(&ObjectRef::new(name))
                    .is_some_and(|cluster| serves_service_exports(&cluster))
        })
}

async fn ensure_policy(ctx: &Context, svc: &CachedService) -> Result<()> {
    let namespace = svc.namespace().unwrap_or_default();
    let service = svc.name_any();
    let policy_name = service_export_policy_name(&service);
    let cached = ctx
        .caches
        .propagation_policies()
        .get(&namespace, &policy_name);
    let (clusters, waiting) = placement(ctx, &namespace, &service, cached.as_deref());
    if !waiting.is_empty() {
        tracing::debug!(
            ?waiting,
            "clusters of the binding do not serve the ServiceExport API yet; placed once they do"
        );
    }
    if clusters.is_empty() {
        // An empty clusterNames would select every cluster: wait for the scheduler.
        tracing::debug!(
            "the Service is not scheduled to a cluster that can hold a ServiceExport yet; policy not written"
        );
        return Ok(());
    }
    let api: Api<PropagationPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(policy) = cached else {
        if create_unless_exists(&api, &desired_policy(svc, &clusters)).await? {
            tracing::info!(
                policy = policy_name,
                ?clusters,
                "created the PropagationPolicy"
            );
        } else {
            tracing::debug!(policy = policy_name, "the PropagationPolicy exists");
        }
        return Ok(());
    };
    if policy.metadata.deletion_timestamp.is_some() {
        tracing::debug!(
            policy = policy_name,
            "the PropagationPolicy is being deleted; it is recreated once gone"
        );
        return Ok(());
    }
    if let Some(other) = controller_ref(&policy.metadata)
        && !is_service_ref(other, &service)
    {
        tracing::warn!(
            policy = policy_name,
            controller = format!("{}/{}", other.kind, other.name),
            "the PropagationPolicy is controlled by something else; left alone"
        );
        return Ok(());
    }
    if let Some(patch) = policy_patch(&policy, svc, &clusters) {
        api.patch(&policy_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(
            policy = policy_name,
            ?clusters,
            "updated the PropagationPolicy"
        );
    }
    Ok(())
}

/// Deletes the ServiceExport and policy of `namespace/service` that a Service of that name
/// controls. Returns whether any was still there.
async fn remove_owned(ctx: &Context, namespace: &str, service: &str, why: &str) -> Result<bool> {
    let exports = ctx.caches.service_exports();
    let export = delete_controlled(&ctx.client, exports, namespace, service, service).await?;
    if export == Some(true) {
        tracing::info!(reason = why, "deleted the ServiceExport");
    }
    let policy_name = service_export_policy_name(service);
    let policies = ctx.caches.propagation_policies();
    let policy = delete_controlled(&ctx.client, policies, namespace, &policy_name, service).await?;
    if policy == Some(true) {
        tracing::info!(
            policy = policy_name,
            reason = why,
            "deleted the PropagationPolicy"
        );
    }
    Ok(export.is_some() || policy.is_some())
}

/// Deletes the cached object `namespace/name` if a Service named `service` controls it.
/// `None` when there is no such object; else whether this call deleted it (`false`: it was
/// already being deleted).
async fn delete_controlled<K>(
    client: &kube::Client,
    cache: &SharedCache<K>,
    namespace: &str,
    name: &str,
    service: &str,
) -> Result<Option<bool>>
where
    K: Cacheable + Resource<Scope = NamespaceResourceScope>,
{
    let Some(obj) = cache
        .get(namespace, name)
        .filter(|obj| controlled_by_service(obj.meta(), service))
    else {
        return Ok(None);
    };
    if obj.meta().deletion_timestamp.is_some() {
        return Ok(Some(false));
    }
    delete_same(&namespaced_api(client, obj.as_ref()), obj.as_ref()).await?;
    Ok(Some(true))
}

pub async fn reconcile(
    key: Arc<CachedService>,
    ctx: Arc<Context>,
    keys: Arc<Keys>,
) -> Result<Action> {
    let namespace = key.namespace().unwrap_or_default();
    let name = key.name_any();
    let key = ObjectKey::of(key.as_ref());
    // Taken before reading the caches: a request after this point keeps the key.
    let seen = keys.generation(&key);
    let service = ctx.caches.services().get(&namespace, &name);
    let why = match &service {
        None => "the Service is gone",
        Some(svc) if svc.metadata.deletion_timestamp.is_some() => "the Service is being deleted",
        Some(svc)
            if is_referenced(
                ctx.caches.mcss().store(),
                ctx.caches.mcis().store(),
                &namespace,
                &name,
            ) =>
        {
            ensure_export(&ctx, svc).await?;
            ensure_policy(&ctx, svc).await?;
            if ctx.settings.resync_period.is_none() {
                keys.forget(&key, seen);
            }
            return Ok(Action::await_change());
        }
        Some(_) => {
            "no MultiClusterIngress or load-balanced MultiClusterService references the Service"
        }
    };
    if !remove_owned(&ctx, &namespace, &name, why).await? {
        tracing::debug!(reason = why, "nothing to export");
        keys.forget(&key, seen);
    }
    Ok(Action::await_change())
}
