//! `crd-installation`: keeps ClusterPropagationPolicy `serviceexportpropagation-policy`
//! propagating the ServiceExport CRD (`serviceexports.multicluster.x-k8s.io`) to every member
//! cluster.
//!
//! The policy selects CRD `serviceexports.multicluster.x-k8s.io` (`apiextensions.k8s.io/v1`),
//! places it on `clusterAffinity.clusterNames` = the sorted names of all Clusters not being
//! deleted, and tolerates the `cluster.karmada.io/not-ready` and `cluster.karmada.io/unreachable`
//! NoExecute taints (operator `Exists`), as the Go original writes it.
//!
//! Only the fields it owns are compared and written (a merge patch with the resourceVersion as
//! precondition): the selector, the cluster names and the presence of the two tolerations. What
//! the API server or Karmada's webhook add (`conflictResolution`, `priority`, `schedulerName`,
//! `tolerationSeconds`, labels, finalizers, ...) is left alone, so an unchanged policy is never
//! rewritten.
//!
//! # The reconcile key
//!
//! There is one desired object, whatever changed: the policy. So the controller's primary is the
//! policy's name, and every trigger (a Cluster created, deleted or starting deletion; the policy
//! created, edited or deleted; start-up) enqueues that one name. kube-runtime only reconciles keys
//! present in its store, and the policy is absent exactly when it must be recreated, so the
//! controller runs over a private store that always holds a placeholder with the policy's name.
//! The reconcile ignores the placeholder: it reads the live policy with a GET (not the cache, so
//! it never re-creates a policy it just created, nor patches a stale copy) and the Clusters from
//! the shared cache, whose change is what triggered it.
//!
//! Differences from Go, on purpose: Go adds or removes the one cluster of each event, appending
//! to the list; here the whole list is derived each time (sorted, level-triggered), so a missed
//! event or a hand edit is repaired. Go also lists Clusters being deleted when it creates the
//! policy; here they are left out, as they are on every later update.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::constants::{
    SERVICE_EXPORT_CRD_NAME, SERVICE_EXPORT_CRD_POLICY_NAME, TAINT_CLUSTER_NOT_READY,
    TAINT_CLUSTER_UNREACHABLE,
};
use mcp_interface::api::policy::{
    ClusterAffinity, ClusterPropagationPolicy, Placement, PropagationSpec, ResourceSelector,
};
use serde_json::json;

use crate::cache::Change;
use crate::context::{CacheKind, Context};
use crate::controllers::{Trigger, run_controller};
use crate::error::Result;

pub const NAME: &str = "crd-installation";
/// The policy this controller keeps.
pub const POLICY_NAME: &str = SERVICE_EXPORT_CRD_POLICY_NAME;
const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";
const CRD_KIND: &str = "CustomResourceDefinition";
const TOLERATED_TAINTS: [&str; 2] = [TAINT_CLUSTER_NOT_READY, TAINT_CLUSTER_UNREACHABLE];

pub const CACHES: &[CacheKind] = &[CacheKind::Clusters, CacheKind::ClusterPropagationPolicies];

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

async fn reconcile(_key: Arc<ClusterPropagationPolicy>, ctx: Arc<Context>) -> Result<Action> {
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

/// A store that always holds one placeholder named [`POLICY_NAME`] (see the module doc).
fn key_store() -> Store<ClusterPropagationPolicy> {
    let (store, mut writer) = reflector::store();
    let placeholder = ClusterPropagationPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    writer.apply_watcher_event(&watcher::Event::Init);
    writer.apply_watcher_event(&watcher::Event::InitApply(placeholder));
    writer.apply_watcher_event(&watcher::Event::InitDone);
    store
}

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let (trigger, triggers) = Trigger::<ClusterPropagationPolicy>::new();
        let caches = ctx.caches.clone();
        let enqueue = {
            let trigger = trigger.clone();
            move || trigger.enqueue(POLICY_NAME, None)
        };

        let _subscriptions = [
            caches.clusters().subscribe({
                let enqueue = enqueue.clone();
                move |change| {
                    let relevant = match change {
                        Change::Applied {
                            old: Some(old),
                            new,
                        } => {
                            old.metadata.deletion_timestamp.is_some()
                                != new.metadata.deletion_timestamp.is_some()
                        }
                        Change::Applied { old: None, .. } | Change::Deleted(_) => true,
                    };
                    if relevant {
                        enqueue();
                    }
                }
            }),
            caches.cluster_propagation_policies().subscribe({
                let enqueue = enqueue.clone();
                move |change| {
                    if change.object().name_any() != POLICY_NAME {
                        return;
                    }
                    let relevant = match change {
                        Change::Applied {
                            old: Some(old),
                            new,
                        } => {
                            old.spec != new.spec
                                || old.metadata.deletion_timestamp.is_some()
                                    != new.metadata.deletion_timestamp.is_some()
                        }
                        Change::Applied { old: None, .. } | Change::Deleted(_) => true,
                    };
                    if relevant {
                        enqueue();
                    }
                }
            }),
        ];

        // Reconciled once on start: creates the policy or catches up with what changed meanwhile.
        enqueue();
        run_controller(
            NAME,
            ctx.clone(),
            key_store(),
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

    fn cluster(name: &str, deleting: bool) -> Cluster {
        let mut c: Cluster = serde_yaml::from_str(&format!(
            "metadata: {{name: {name}}}\nspec: {{syncMode: Push}}"
        ))
        .unwrap();
        if deleting {
            c.metadata.deletion_timestamp =
                Some(serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap());
        }
        c
    }

    #[test]
    fn desired_clusters_are_sorted_and_leave_out_deleting_ones() {
        let clusters = [
            cluster("member2", false),
            cluster("member1", false),
            cluster("gone", true),
        ];
        assert_eq!(desired_clusters(&clusters), ["member1", "member2"]);
    }

    #[test]
    fn the_created_policy_has_the_go_shape() {
        let policy = serde_json::to_value(desired_policy(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(
            policy,
            json!({
                "apiVersion": "policy.karmada.io/v1alpha1",
                "kind": "ClusterPropagationPolicy",
                "metadata": {"name": "serviceexportpropagation-policy"},
                "spec": {
                    "resourceSelectors": [{
                        "apiVersion": "apiextensions.k8s.io/v1",
                        "kind": "CustomResourceDefinition",
                        "name": "serviceexports.multicluster.x-k8s.io",
                    }],
                    "placement": {
                        "clusterAffinity": {"clusterNames": ["a", "b"]},
                        "clusterTolerations": [
                            {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                            {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                        ],
                    },
                },
            })
        );
    }

    #[test]
    fn server_defaults_are_not_differences() {
        let mut policy = desired_policy(vec!["a".into()]);
        policy.metadata.resource_version = Some("7".into());
        assert_eq!(owned_fields_patch(&policy, &["a".into()]), None);
        // What the CRD defaults and Karmada's webhook add.
        policy.spec.priority = Some(0);
        policy.spec.conflict_resolution = Some("Abort".into());
        policy.spec.scheduler_name = Some("default-scheduler".into());
        policy.spec.preemption = Some("Never".into());
        policy.spec.resource_selectors[0].namespace = Some(String::new());
        let placement = policy.spec.placement.as_mut().unwrap();
        for t in placement.cluster_tolerations.as_mut().unwrap() {
            t.toleration_seconds = Some(300);
        }
        placement
            .cluster_tolerations
            .as_mut()
            .unwrap()
            .push(Toleration {
                key: Some("example.com/other".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            });
        assert_eq!(owned_fields_patch(&policy, &["a".into()]), None);
    }

    #[test]
    fn patches_touch_only_what_differs() {
        let mut policy = desired_policy(vec!["a".into(), "b".into()]);
        policy.metadata.resource_version = Some("7".into());
        assert_eq!(
            owned_fields_patch(&policy, &["a".into()]),
            Some(json!({
                "metadata": {"resourceVersion": "7"},
                "spec": {"placement": {"clusterAffinity": {"clusterNames": ["a"]}}},
            }))
        );
        let placement = policy.spec.placement.as_mut().unwrap();
        placement.cluster_tolerations.as_mut().unwrap().remove(0);
        policy.spec.resource_selectors.push(ResourceSelector {
            api_version: "v1".into(),
            kind: "Secret".into(),
            ..Default::default()
        });
        let patch = owned_fields_patch(&policy, &["a".into(), "b".into()]).unwrap();
        assert_eq!(
            patch["spec"]["resourceSelectors"],
            json!([{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": "serviceexports.multicluster.x-k8s.io"}])
        );
        assert_eq!(
            patch["spec"]["placement"]["clusterTolerations"],
            json!([
                {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
            ])
        );
        assert!(patch["spec"]["placement"].get("clusterAffinity").is_none());
    }
}
