//! Adoption, proven: the objects exactly as the Go original leaves them (captured from the Go
//! controller run against the same control plane: MCI and MCS with its finalizers and statuses,
//! ServiceExport and PropagationPolicy with its owner references and no labels, the
//! ClusterPropagationPolicy with its fields in Go's order, the Lease held by a Go replica) and
//! its balancers in the fake cloud. Ours takes the Lease over, reconciles everything and writes
//! nothing; then, as things change, does what the Go controller does.

#![forbid(unsafe_code)]

pub mod common;

use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::ResourceBinding;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

/// The fake answers an update of an existing balancer with 1.2.3.5: what a Go controller that
/// reconciled its balancers since creating them wrote into the statuses.
const GO_IP: &str = "1.2.3.5";

const CLUSTERS: &str = "\
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: member1}
spec: {syncMode: Push}
---
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: member2}
spec: {syncMode: Push}
";

/// The start of both policies' spec as the Go controller writes them (field order included).
const GO_POLICY_SPEC: &str = "\
spec:
  conflictResolution: Abort
  placement:
    clusterAffinity:
      clusterNames:
      - member1
      - member2
";

/// The ClusterPropagationPolicy as the Go controller writes it.
fn go_cpp() -> String {
    format!(
        "apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: serviceexportpropagation-policy
{GO_POLICY_SPEC}    clusterTolerations:
    - effect: NoExecute
      key: cluster.karmada.io/not-ready
      operator: Exists
    - effect: NoExecute
      key: cluster.karmada.io/unreachable
      operator: Exists
  preemption: Never
  priority: 0
  resourceSelectors:
  - apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    name: serviceexports.multicluster.x-k8s.io
  schedulerName: default-scheduler
"
    )
}

fn binding(clusters: &[&str]) -> String {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({"name": c})).collect();
    serde_json::to_string(&json!({
        "apiVersion": "work.karmada.io/v1alpha2",
        "kind": "ResourceBinding",
        "metadata": {"name": "serve-service", "namespace": NS},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Service", "name": "serve", "namespace": NS},
            "clusters": clusters,
        },
    }))
    .unwrap()
}

/// The ServiceExport or PropagationPolicy as Go writes them: owned by the Service, no labels.
fn owned_by_service(kind_yaml: &str, service_uid: &str) -> String {
    format!(
        "{kind_yaml}
  ownerReferences:
  - apiVersion: v1
    blockOwnerDeletion: true
    controller: true
    kind: Service
    name: serve
    uid: {service_uid}
"
    )
}

fn go_service_export(service_uid: &str) -> String {
    owned_by_service(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata:\n  name: serve\n  namespace: default",
        service_uid,
    )
}

fn go_policy(service_uid: &str) -> String {
    owned_by_service(
        "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata:\n  name: propagate-service-serve\n  namespace: default",
        service_uid,
    ) + GO_POLICY_SPEC
        + "  preemption: Never
  priority: 0
  resourceSelectors:
  - apiVersion: multicluster.x-k8s.io/v1alpha1
    kind: ServiceExport
    name: serve
  schedulerName: default-scheduler
"
}

/// What the objects' resourceVersions are now (a write changes them).
async fn versions(apis: &Apis) -> Vec<(String, String)> {
    let rv = |m: &kube::core::ObjectMeta| m.resource_version.clone().unwrap();
    vec![
        (
            "MCI".into(),
            rv(&apis.mcis.get("minimal-ingress").await.unwrap().metadata),
        ),
        (
            "MCS".into(),
            rv(&apis.mcss.get("web").await.unwrap().metadata),
        ),
        (
            "ServiceExport".into(),
            rv(&apis.exports.get("serve").await.unwrap().metadata),
        ),
        (
            "PropagationPolicy".into(),
            rv(&apis
                .policies
                .get("propagate-service-serve")
                .await
                .unwrap()
                .metadata),
        ),
        (
            "ClusterPropagationPolicy".into(),
            rv(&apis
                .cpps
                .get("serviceexportpropagation-policy")
                .await
                .unwrap()
                .metadata),
        ),
    ]
}

struct Apis {
    mcis: Api<MultiClusterIngress>,
    mcss: Api<MultiClusterService>,
    exports: Api<ServiceExport>,
    policies: Api<PropagationPolicy>,
    cpps: Api<ClusterPropagationPolicy>,
    bindings: Api<ResourceBinding>,
    leases: Api<Lease>,
}

fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn objects_as_the_go_controller_leaves_them_are_adopted_without_a_write() {
    let env = Env::start().await;
    let c = &env.client;
    let apis = Apis {
        mcis: Api::namespaced(c.clone(), NS),
        mcss: Api::namespaced(c.clone(), NS),
        exports: Api::namespaced(c.clone(), NS),
        policies: Api::namespaced(c.clone(), NS),
        cpps: Api::all(c.clone()),
        bindings: Api::namespaced(c.clone(), NS),
        leases: Api::namespaced(c.clone(), "karmada-system"),
    };
    for yaml in [
        common::INGRESS_CLASS,
        include_str!("../../examples/application.yaml"),
        include_str!("../../examples/mci.yaml"),
        include_str!("../../examples/mcs.yaml"),
        CLUSTERS,
        &binding(&["member1", "member2"]),
    ] {
        env.apply(yaml, NS).await;
    }
    let service_uid = Api::<Service>::namespaced(c.clone(), NS)
        .get("serve")
        .await
        .unwrap()
        .uid()
        .unwrap();

    // What the Go controller wrote.
    let merge = |v: Value| Patch::Merge(v);
    let pp = PatchParams::default();
    apis.mcis
        .patch("minimal-ingress", &pp, &merge(json!({"metadata": {"finalizers": ["karmada.io/multi-cluster-ingress-controller"]}})))
        .await
        .unwrap();
    apis.mcis
        .patch_status(
            "minimal-ingress",
            &pp,
            &merge(json!({"status": {
                "loadBalancer": {"ingress": [{"ip": GO_IP}]},
                "serviceLocations": [{"clusters": ["member1", "member2"], "name": "serve"}],
            }})),
        )
        .await
        .unwrap();
    apis.mcss
        .patch("web", &pp, &merge(json!({"metadata": {"finalizers": ["karmada.io/multi-cluster-service-controller"]}})))
        .await
        .unwrap();
    apis.mcss
        .patch_status(
            "web",
            &pp,
            &merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": GO_IP}]}}})),
        )
        .await
        .unwrap();
    env.apply(&go_service_export(&service_uid), NS).await;
    env.apply(&go_policy(&service_uid), NS).await;
    env.apply(&go_cpp(), NS).await;
    // A Go replica holds the Lease (it stopped without releasing it: the new one waits the
    // lease duration, as client-go does).
    let go_identity = "multicluster-provider-fake-7d9c_0b6a3e1c-2f4d-4e8a-9c1d-5b7e8f9a0c1d";
    env.apply(
        &format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: multicluster-controller-manager, namespace: karmada-system}}\nspec: {{holderIdentity: {go_identity}, leaseDurationSeconds: 3, leaseTransitions: 0, acquireTime: \"2026-01-01T00:00:00.000000Z\", renewTime: \"2026-01-01T00:00:00.000000Z\"}}\n"
        ),
        "karmada-system",
    )
    .await;
    // Its balancers in the fake cloud.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let balancer = json!({"status": {"ingress": [{"ip": GO_IP}]}, "createdBy": 1});
    common::seed_fake_state(
        &state,
        json!({
            "balancers": {"mci/default/minimal-ingress": balancer, "mcs/default/web": balancer},
            "created": ["mci/default/minimal-ingress", "mcs/default/web"],
            "deleted": [],
            "calls": [],
        }),
    );
    let before = versions(&apis).await;

    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}\n", state.display()))
            // A renew deadline a loaded machine still meets: a spurious loss would end ours
            // (and the transition count below).
            .arg("--leader-elect-lease-duration=8s")
            .arg("--leader-elect-renew-deadline=6s")
            .arg("--leader-elect-retry-period=1s"),
    );
    controller.wait_ready(WAIT).await;

    // Every controller has handled what is there: the counters moved.
    let lease = eventually(WAIT, "ours to take the Lease over", || async {
        let lease = apis
            .leases
            .get("multicluster-controller-manager")
            .await
            .ok()?;
        let holder = lease.spec.as_ref()?.holder_identity.clone()?;
        (holder != go_identity).then_some(lease)
    })
    .await;
    assert_eq!(
        lease.spec.unwrap().lease_transitions,
        Some(1),
        "Go's 0, plus ours"
    );
    eventually(
        WAIT,
        "every controller to reconcile what the Go one left",
        || async {
            let m = controller.metrics();
            let done = |controller: &str, n: f64| {
                metric(
                    &m,
                    &format!(
                        r#"multicluster_provider_reconcile_total{{controller="{controller}"}}"#
                    ),
                ) >= n
            };
            (done("multiclusteringress", 1.0)
                && done("multiclusterservice", 1.0)
                && done("serviceexport-propagation", 1.0)
                && done("crd-installation", 1.0)
                && done("mci-service-locations", 1.0))
            .then_some(())
        },
    )
    .await;
    let after = versions(&apis).await;
    assert_eq!(
        after,
        before,
        "ours wrote to what Go left:\n{}",
        controller.logs()
    );
    let s = fake_state(&state);
    assert_eq!(
        s["created"],
        json!(["mci/default/minimal-ingress", "mcs/default/web"]),
        "no balancer made again: {s}"
    );

    // Then as Go: member2 leaves the Service's placement; the policy and the MCI's service
    // locations follow.
    env.apply(&binding(&["member1"]), NS).await;
    eventually(WAIT, "the placement to follow", || async {
        let policy = apis.policies.get("propagate-service-serve").await.ok()?;
        let mci = apis.mcis.get("minimal-ingress").await.ok()?;
        let policy_clusters = serde_json::to_value(&policy).unwrap()["spec"]["placement"]
            ["clusterAffinity"]["clusterNames"]
            .clone();
        let locations = serde_json::to_value(&mci).unwrap()["status"]["serviceLocations"].clone();
        (policy_clusters == json!(["member1"])
            && locations == json!([{"clusters": ["member1"], "name": "serve"}]))
        .then_some(())
    })
    .await;
    let policy = apis.policies.get("propagate-service-serve").await.unwrap();
    assert_eq!(
        policy.owner_references()[0].uid,
        service_uid,
        "still Go's owner reference"
    );
    assert!(apis.bindings.get("serve-service").await.is_ok());

    // The MCI is deleted: its balancer goes, then Go's finalizer.
    apis.mcis
        .delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    common::wait_gone(&apis.mcis, "minimal-ingress", WAIT).await;
    // The MCS no longer wants a balancer: deleted, status cleared, Go's finalizer removed.
    apis.mcss
        .patch(
            "web",
            &pp,
            &merge(json!({"spec": {"types": ["CrossCluster"]}})),
        )
        .await
        .unwrap();
    let mcs = eventually(WAIT, "the MCS to let go", || async {
        let mcs = apis.mcss.get("web").await.ok()?;
        mcs.finalizers().is_empty().then_some(mcs)
    })
    .await;
    assert!(
        mcs.status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .is_none_or(|i| i.is_empty())
    );
    let s = fake_state(&state);
    assert_eq!(
        s["deleted"],
        json!(["mci/default/minimal-ingress", "mcs/default/web"]),
        "{s}"
    );
    assert!(controller.terminate(WAIT).await.success());
}
