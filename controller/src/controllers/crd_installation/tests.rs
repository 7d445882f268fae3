use k8s_openapi::api::core::v1::Toleration;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::policy::{ClusterPropagationPolicy, ResourceSelector};
use serde_json::json;

use super::POLICY_NAME;
use super::mappers::Mappers;
use super::reconcile::{desired_clusters, desired_policy, owned_fields_patch};
use crate::cache::Change;
use crate::controllers::fixtures::{deleting, names};

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

// ---------------------------------------------------------------------------------------------
// Mappers: what re-triggers the policy.
// ---------------------------------------------------------------------------------------------

#[test]
fn clusters_trigger_the_policy_when_they_come_go_or_start_deletion() {
    let m = Mappers;
    let member = cluster("member1", false);
    let created = Change::created(&member);
    assert_eq!(
        names(m.cluster(&created)),
        ["/serviceexportpropagation-policy"]
    );
    assert_eq!(
        names(m.cluster(&Change::Deleted(&member))),
        ["/serviceexportpropagation-policy"]
    );
    let mut status_only = member.clone();
    status_only.metadata.resource_version = Some("9".into());
    let update = Change::updated(&member, &status_only);
    assert!(m.cluster(&update).is_none());
    let going = cluster("member1", true);
    let update = Change::updated(&member, &going);
    assert_eq!(
        names(m.cluster(&update)),
        ["/serviceexportpropagation-policy"]
    );
}

#[test]
fn only_our_policy_triggers_and_only_on_spec_or_deletion_changes() {
    let m = Mappers;
    let ours = desired_policy(vec!["a".into()]);
    let mut other = ours.clone();
    other.metadata.name = Some("someone-elses".into());
    assert_eq!(
        names(m.policy(&Change::created(&ours))),
        [format!("/{POLICY_NAME}")]
    );
    assert!(m.policy(&Change::created(&other)).is_none());
    assert!(m.policy(&Change::Deleted(&other)).is_none());
    assert!(m.policy(&Change::Deleted(&ours)).is_some());

    let update = |new| Change::updated(&ours, new);
    let mut labelled = ours.clone();
    labelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(m.policy(&update(&labelled)).is_none());
    let edited = desired_policy(vec!["b".into()]);
    assert!(m.policy(&update(&edited)).is_some());
    let being_deleted: ClusterPropagationPolicy = deleting(ours.clone());
    assert!(m.policy(&update(&being_deleted)).is_some());
}
