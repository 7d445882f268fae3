//! What Karmada and the Go provider leave behind: an export and a policy they wrote are kept as
//! they are (only a placement change is written), and a cluster whose status does not list the
//! ServiceExport API yet is placed once it does.

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::policy::PropagationPolicy;
use serde_json::json;

use super::{
    APPLICATION, Apis, MCI, NS, WAIT, binding, expected_owner, owner_refs, reconciles, start,
};
use crate::common::{self, Env, eventually};

#[tokio::test]
async fn objects_as_karmada_and_the_go_provider_left_them_are_not_rewritten() {
    let env = Env::start().await;
    env.apply(APPLICATION, NS).await;
    env.apply(MCI, NS).await;
    let apis = Apis::new(&env);
    let pp = PostParams::default();
    apis.bindings
        .create(&pp, &binding("serve", &["member1", "member2"], &[]))
        .await
        .unwrap();
    let svc = apis.services.get("serve").await.unwrap();
    // As the Go provider created them, then Karmada's webhook and the CRD defaults filled in.
    let export: ServiceExport = serde_json::from_value(json!({
        "metadata": {"name": "serve", "namespace": NS, "ownerReferences": expected_owner(&svc)},
    }))
    .unwrap();
    let export = apis.exports.create(&pp, &export).await.unwrap();
    let policy: PropagationPolicy = serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {
            "name": "propagate-service-serve",
            "namespace": NS,
            "labels": {"propagationpolicy.karmada.io/permanent-id": "5f0c1b1e-0000-4000-8000-000000000001"},
            "finalizers": ["karmada.io/propagation-policy-controller"],
            "ownerReferences": expected_owner(&svc),
        },
        "spec": {
            "resourceSelectors": [{
                "apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceExport",
                "name": "serve",
                "namespace": NS,
            }],
            "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}},
            "conflictResolution": "Abort",
            "preemption": "Never",
            "priority": 0,
            "schedulerName": "default-scheduler",
        },
    }))
    .unwrap();
    let policy = apis.policies.create(&pp, &policy).await.unwrap();

    let (_dir, mut controller) = start(&env).await;
    controller.wait_ready(WAIT).await;
    // The start-up reconcile of `serve` (the only key there is) has run, and every request
    // queued since.
    eventually(WAIT, "a reconcile", || async {
        reconciles(&controller).filter(|n| *n >= 1.0)
    })
    .await;
    controller.quiet("serviceexport-propagation", WAIT).await;
    let export_now = apis.exports.get("serve").await.unwrap();
    let policy_now = apis.policies.get("propagate-service-serve").await.unwrap();
    assert_eq!(export_now.resource_version(), export.resource_version());
    assert_eq!(
        policy_now.resource_version(),
        policy.resource_version(),
        "the policy was rewritten:\n{}",
        controller.logs()
    );

    // The controller is alive: a placement change patches clusterNames and nothing else.
    apis.set_binding("serve", &["member1", "member2"], &["member3"])
        .await;
    let (_, updated) = apis
        .wait_exported("serve", &["member1", "member2", "member3"])
        .await;
    let spec = serde_json::to_value(&updated.spec).unwrap();
    assert_eq!(spec["resourceSelectors"][0]["namespace"], NS);
    assert_eq!(spec["conflictResolution"], "Abort");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(updated.labels(), policy.labels());
    assert_eq!(updated.finalizers(), policy.finalizers());
    assert_eq!(owner_refs(&updated.metadata), expected_owner(&svc));
    assert_eq!(
        apis.exports.get("serve").await.unwrap().resource_version(),
        export.resource_version()
    );

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

/// Karmada's scheduler places nothing on a cluster whose status does not list the resource's
/// API, and never retries such a binding by itself: the policy lists a cluster only once its
/// Cluster serves the ServiceExport API, and gains it when it does; a placed cluster stays.
#[tokio::test]
async fn clusters_are_placed_once_they_serve_the_service_export_api() {
    let env = Env::start().await;
    env.apply(common::INGRESS_CLASS, NS).await;
    env.apply(APPLICATION, NS).await;
    env.apply(MCI, NS).await;
    // member5 joined but has not reported the ServiceExport API (its CRD is still on its way).
    env.apply(
        "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {name: member5}\nspec: {syncMode: Push}\n",
        NS,
    )
    .await;
    let apis = Apis::new(&env);
    apis.bindings
        .create(
            &PostParams::default(),
            &binding("serve", &["member1", "member5"], &[]),
        )
        .await
        .unwrap();
    let (_dir, mut controller) = start(&env).await;
    controller.wait_ready(WAIT).await;
    apis.wait_exported("serve", &["member1"]).await;

    // The Cluster reports the API: the policy follows (which makes Karmada reschedule).
    env.join_clusters(&["member5"]).await;
    apis.wait_exported("serve", &["member1", "member5"]).await;

    // Losing it again (e.g. an incomplete discovery) does not take an existing placement away:
    // the reconcile the loss triggers (counted past every earlier request) leaves the policy
    // as it was, unwritten.
    let clusters: Api<mcp_interface::api::cluster::Cluster> = Api::all(env.client.clone());
    let before = controller.quiet("serviceexport-propagation", WAIT).await;
    let placed = apis
        .policies
        .get("propagate-service-serve")
        .await
        .unwrap()
        .resource_version();
    clusters
        .patch_status(
            "member5",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"apiEnablements": [
                {"groupVersion": "v1", "resources": [{"name": "services", "kind": "Service"}]}
            ]}})),
        )
        .await
        .unwrap();
    eventually(
        WAIT,
        "the controller to reconcile the Service again",
        || async { (reconciles(&controller)? > before).then_some(()) },
    )
    .await;
    controller.quiet("serviceexport-propagation", WAIT).await;
    let (_, policy) = apis.wait_exported("serve", &["member1", "member5"]).await;
    assert_eq!(
        policy.resource_version(),
        placed,
        "the policy was rewritten:\n{}",
        controller.logs()
    );
    assert!(controller.running());
}
