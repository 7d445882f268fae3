//! Reconcile the one policy: create it, or patch the fields this controller owns.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::constants::{
    SERVICE_EXPORT_CRD_NAME, TAINT_CLUSTER_NOT_READY, TAINT_CLUSTER_UNREACHABLE,
};
use mcp_interface::api::policy::{
    ClusterAffinity, ClusterPropagationPolicy, Placement, PropagationSpec, ResourceSelector,
};
use serde_json::json;

use super::POLICY_NAME;
use crate::context::Context;
use crate::error::Result;

const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";
const CRD_KIND: &str = "CustomResourceDefinition";
const TOLERATED_TAINTS: [&str; 2] = [TAINT_CLUSTER_NOT_READY, TAINT_CLUSTER_UNREACHABLE];

/// The sorted names of the Clusters not being deleted.
pub fn desired_clusters<'a>(clusters: impl IntoIterator<Item = &'a Cluster>) -> Vec<String> {
    let mut names: Vec<String> = clusters
        .into_iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .map(|c| c.name_any())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn selector() -> ResourceSelector {
    ResourceSelector {
        api_version: CRD_API_VERSION.to_owned(),
        kind: CRD_KIND.to_owned(),
        name: Some(SERVICE_EXPORT_CRD_NAME.to_owned()),
        ..Default::default()
    }
}

fn toleration(key: &str) -> Toleration {
    Toleration {
        key: Some(key.to_owned()),
        operator: Some("Exists".to_owned()),
        effect: Some("NoExecute".to_owned()),
        ..Default::default()
    }
}

/// The policy as this controller creates it.
pub fn desired_policy(clusters: Vec<String>) -> ClusterPropagationPolicy {
    ClusterPropagationPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.to_owned()),
            ..Default::default()
        },
        spec: PropagationSpec {
            resource_selectors: vec![selector()],
            placement: Some(Placement {
                cluster_affinity: Some(ClusterAffinity {
                    cluster_names: Some(clusters),
                    ..Default::default()
                }),
                cluster_tolerations: Some(TOLERATED_TAINTS.iter().map(|k| toleration(k)).collect()),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// Whether the selectors are exactly ours. The namespace is not compared: it means nothing for a
/// cluster-scoped CRD, and a webhook may fill it in.
fn selectors_match(selectors: &[ResourceSelector]) -> bool {
    let want = selector();
    matches!(selectors, [one] if one.api_version == want.api_version
        && one.kind == want.kind
        && one.name == want.name
        && one.label_selector.is_none())
}

/// Whether `have` tolerates the taint `key` as we want (any effect-NoExecute `Exists` toleration of
/// that key; extra fields such as `tolerationSeconds` are someone else's).
fn tolerates(have: &[Toleration], key: &str) -> bool {
    have.iter().any(|t| {
        t.key.as_deref() == Some(key)
            && t.operator.as_deref() == Some("Exists")
            && t.effect.as_deref() == Some("NoExecute")
    })
}

/// The merge patch bringing the fields this controller owns to the desired state, with the
/// resourceVersion as precondition; `None` when they already are.
pub fn owned_fields_patch(
    policy: &ClusterPropagationPolicy,
    clusters: &[String],
) -> Option<serde_json::Value> {
    let mut spec = serde_json::Map::new();
    if !selectors_match(&policy.spec.resource_selectors) {
        spec.insert("resourceSelectors".into(), json!([selector()]));
    }
    let placement = policy.spec.placement.as_ref();
    let mut placement_patch = serde_json::Map::new();
    let names = placement
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.as_deref())
        .unwrap_or_default();
    if names != clusters {
        placement_patch.insert(
            "clusterAffinity".into(),
            json!({ "clusterNames": clusters }),
        );
    }
    let tolerations = placement
        .and_then(|p| p.cluster_tolerations.as_deref())
        .unwrap_or_default();
    let missing: Vec<Toleration> = TOLERATED_TAINTS
        .iter()
        .filter(|key| !tolerates(tolerations, key))
        .map(|key| toleration(key))
        .collect();
    if !missing.is_empty() {
        let mut all = tolerations.to_vec();
        all.extend(missing);
        placement_patch.insert("clusterTolerations".into(), json!(all));
    }
    if !placement_patch.is_empty() {
        spec.insert("placement".into(), placement_patch.into());
    }
    (!spec.is_empty()).then(|| {
        json!({
            "metadata": { "resourceVersion": policy.resource_version() },
            "spec": spec,
        })
    })
}

pub async fn reconcile(_key: Arc<ClusterPropagationPolicy>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<ClusterPropagationPolicy> = Api::all(ctx.client.clone());
    let clusters = desired_clusters(
        ctx.caches
            .clusters()
            .store()
            .state()
            .iter()
            .map(|c| c.as_ref()),
    );
    match api.get_opt(POLICY_NAME).await? {
        None => {
            api.create(&PostParams::default(), &desired_policy(clusters.clone()))
                .await?;
            tracing::info!(?clusters, "created the policy");
        }
        Some(policy) if policy.metadata.deletion_timestamp.is_some() => {
            // Its deletion (a Delete from the cache) triggers the re-creation.
            tracing::debug!("the policy is being deleted; it is recreated once gone");
        }
        Some(policy) => match owned_fields_patch(&policy, &clusters) {
            Some(patch) => {
                api.patch(POLICY_NAME, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::info!(?clusters, "updated the policy");
            }
            None => tracing::debug!("the policy is up to date"),
        },
    }
    Ok(Action::await_change())
}
