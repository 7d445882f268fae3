//! The crd-installation controller on a real control plane.

#![forbid(unsafe_code)]

pub mod common;

use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::policy::ClusterPropagationPolicy;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const POLICY: &str = "serviceexportpropagation-policy";

fn cluster_yaml(name: &str) -> String {
    format!(
        r#"apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: {name}
spec:
  syncMode: Push
  apiEndpoint: https://{name}.example.com:6443
"#
    )
}

fn cluster_names(policy: &ClusterPropagationPolicy) -> Vec<String> {
    policy
        .spec
        .placement
        .as_ref()
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.clone())
        .unwrap_or_default()
}

async fn wait_for_clusters(
    api: &Api<ClusterPropagationPolicy>,
    want: &[&str],
) -> ClusterPropagationPolicy {
    eventually(WAIT, &format!("the policy to list {want:?}"), || async {
        let policy = api.get_opt(POLICY).await.ok()??;
        (cluster_names(&policy) == want).then_some(policy)
    })
    .await
}

fn start(env: &Env) -> (tempfile::TempDir, ControllerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let controller =
        env.controller(ControllerOptions::new(dir.path()).arg("--controllers=crd-installation"));
    (dir, controller)
}

#[tokio::test]
async fn the_policy_lists_every_cluster_and_follows_them() {
    let env = Env::start().await;
    env.apply(&cluster_yaml("member2"), "default").await;
    env.apply(&cluster_yaml("member1"), "default").await;
    let (_dir, mut controller) = start(&env);
    controller.wait_ready(WAIT).await;

    let api: Api<ClusterPropagationPolicy> = Api::all(env.client.clone());
    let policy = wait_for_clusters(&api, &["member1", "member2"]).await;
    let spec = serde_json::to_value(&policy.spec).unwrap();
    assert_eq!(
        spec["resourceSelectors"],
        json!([{
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "name": "serviceexports.multicluster.x-k8s.io",
        }])
    );
    assert_eq!(
        spec["placement"]["clusterTolerations"],
        json!([
            {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
            {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        ])
    );

    // A new cluster joins.
    env.apply(&cluster_yaml("member3"), "default").await;
    wait_for_clusters(&api, &["member1", "member2", "member3"]).await;

    // One is deleted.
    let clusters: Api<Cluster> = Api::all(env.client.clone());
    clusters
        .delete("member2", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_clusters(&api, &["member1", "member3"]).await;

    // One is being deleted: a finalizer keeps it, with its deletionTimestamp, and it is no
    // target any more.
    clusters
        .patch(
            "member3",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": ["karmada.io/cluster-controller"]}})),
        )
        .await
        .unwrap();
    clusters
        .delete("member3", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_clusters(&api, &["member1"]).await;
    let lingering = clusters.get("member3").await.unwrap();
    assert!(lingering.metadata.deletion_timestamp.is_some());

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

#[tokio::test]
async fn a_deleted_policy_is_recreated() {
    let env = Env::start().await;
    env.apply(&cluster_yaml("member1"), "default").await;
    let (_dir, mut controller) = start(&env);
    controller.wait_ready(WAIT).await;
    let api: Api<ClusterPropagationPolicy> = Api::all(env.client.clone());
    let first = wait_for_clusters(&api, &["member1"]).await;

    api.delete(POLICY, &DeleteParams::default()).await.unwrap();
    let second = eventually(WAIT, "the policy to be recreated", || async {
        let policy = api.get_opt(POLICY).await.ok()??;
        (policy.uid() != first.uid()).then_some(policy)
    })
    .await;
    assert_eq!(cluster_names(&second), ["member1"]);

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

#[tokio::test]
async fn what_others_add_to_the_policy_is_kept_and_an_unchanged_policy_is_not_rewritten() {
    let env = Env::start().await;
    env.apply(&cluster_yaml("member1"), "default").await;
    env.apply(&cluster_yaml("member2"), "default").await;
    let (_dir, mut controller) = start(&env);
    controller.wait_ready(WAIT).await;
    let api: Api<ClusterPropagationPolicy> = Api::all(env.client.clone());
    let policy = wait_for_clusters(&api, &["member1", "member2"]).await;
    // The CRD defaults were filled in by the server.
    assert_eq!(policy.spec.conflict_resolution.as_deref(), Some("Abort"));
    assert_eq!(policy.spec.priority, Some(0));
    assert_eq!(
        policy.spec.scheduler_name.as_deref(),
        Some("default-scheduler")
    );

    // Karmada's webhook and a user add their own bits (a spec change: reconciled, and left).
    let reconciled = controller.quiet("crd-installation", WAIT).await;
    let edited = api
        .patch(
            POLICY,
            &PatchParams::default(),
            &Patch::Merge(&json!({
                "metadata": {"labels": {
                    "clusterpropagationpolicy.karmada.io/permanent-id": "6d1c8e4e-0000-4000-8000-000000000001",
                }},
                "spec": {
                    "priority": 5,
                    "placement": {"clusterTolerations": [
                        {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                        {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    ]},
                },
            })),
        )
        .await
        .unwrap();
    eventually(WAIT, "the reconcile of the edit", || async {
        (controller.reconciles("crd-installation") > reconciled).then_some(())
    })
    .await;
    let now = api.get(POLICY).await.unwrap();
    assert_eq!(
        now.resource_version(),
        edited.resource_version(),
        "the policy was rewritten:\n{}",
        controller.logs()
    );
    assert_eq!(now.spec, edited.spec);

    // Someone drops a cluster and a toleration: only those are restored.
    api.patch(
        POLICY,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"placement": {
            "clusterAffinity": {"clusterNames": ["member2"]},
            "clusterTolerations": [
                {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        }}})),
    )
    .await
    .unwrap();
    let restored = wait_for_clusters(&api, &["member1", "member2"]).await;
    let spec = serde_json::to_value(&restored.spec).unwrap();
    assert_eq!(
        spec["placement"]["clusterTolerations"],
        json!([
            {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        ])
    );
    assert_eq!(restored.spec.priority, Some(5));
    assert_eq!(
        restored
            .labels()
            .get("clusterpropagationpolicy.karmada.io/permanent-id")
            .map(String::as_str),
        Some("6d1c8e4e-0000-4000-8000-000000000001")
    );

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
