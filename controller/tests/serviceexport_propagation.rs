//! The serviceexport-propagation controller on a real control plane (which has no garbage
//! collector: every deletion seen here is the controller's). Objects Karmada and the Go provider
//! left, and clusters that do not serve the ServiceExport API yet:
//! `serviceexport_propagation/karmada_state.rs`.

#![forbid(unsafe_code)]

pub mod common;
#[path = "serviceexport_propagation/karmada_state.rs"]
mod karmada_state;

use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually};
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::PropagationPolicy;
use mcp_interface::api::work::ResourceBinding;
use serde_json::{Value, json};

const MCI: &str = include_str!("../../examples/mci.yaml");
const APPLICATION: &str = include_str!("../../examples/application.yaml");
const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

async fn start(env: &Env) -> (tempfile::TempDir, ControllerProcess) {
    env.join_clusters(&["member1", "member2", "member3", "member4"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let controller = env.controller(
        ControllerOptions::new(dir.path()).arg("--controllers=serviceexport-propagation"),
    );
    (dir, controller)
}

/// A ResourceBinding for Service `svc`, shaped as Karmada writes it.
fn binding(svc: &str, clusters: &[&str], required_by: &[&str]) -> ResourceBinding {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({"name": c})).collect();
    let mut spec = json!({
        "resource": {"apiVersion": "v1", "kind": "Service", "name": svc, "namespace": NS},
        "clusters": clusters,
    });
    if !required_by.is_empty() {
        let required: Vec<Value> = required_by.iter().map(|c| json!({"name": c})).collect();
        spec["requiredBy"] =
            json!([{"namespace": NS, "name": "dependent-deployment", "clusters": required}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha2",
        "kind": "ResourceBinding",
        "metadata": {"name": format!("{svc}-service"), "namespace": NS},
        "spec": spec,
    }))
    .unwrap()
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"ports": [{"port": 80}]},
    }))
    .unwrap()
}

fn cluster_names(pp: &PropagationPolicy) -> Vec<String> {
    pp.spec
        .placement
        .as_ref()
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.clone())
        .unwrap_or_default()
}

fn owner_refs(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Value {
    json!(meta.owner_references.clone().unwrap_or_default())
}

fn expected_owner(svc: &Service) -> Value {
    json!([{
        "apiVersion": "v1",
        "kind": "Service",
        "name": svc.name_any(),
        "uid": svc.uid().unwrap(),
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// The controller's reconcile count, from its metrics.
fn reconciles(controller: &ControllerProcess) -> Option<f64> {
    controller.metrics().lines().find_map(|line| {
        line.strip_prefix(
            "multicluster_provider_reconcile_total{controller=\"serviceexport-propagation\"} ",
        )?
        .trim()
        .parse()
        .ok()
    })
}

struct Apis {
    exports: Api<ServiceExport>,
    policies: Api<PropagationPolicy>,
    bindings: Api<ResourceBinding>,
    services: Api<Service>,
    mcis: Api<MultiClusterIngress>,
    mcss: Api<MultiClusterService>,
}

impl Apis {
    fn new(env: &Env) -> Apis {
        let c = &env.client;
        Apis {
            exports: Api::namespaced(c.clone(), NS),
            policies: Api::namespaced(c.clone(), NS),
            bindings: Api::namespaced(c.clone(), NS),
            services: Api::namespaced(c.clone(), NS),
            mcis: Api::namespaced(c.clone(), NS),
            mcss: Api::namespaced(c.clone(), NS),
        }
    }

    /// Waits for the export and policy of `svc`, the policy listing `clusters`.
    async fn wait_exported(
        &self,
        svc: &str,
        clusters: &[&str],
    ) -> (ServiceExport, PropagationPolicy) {
        let policy_name = format!("propagate-service-{svc}");
        eventually(
            WAIT,
            &format!("ServiceExport {svc} and policy {policy_name} listing {clusters:?}"),
            || async {
                let export = self.exports.get_opt(svc).await.ok()??;
                let policy = self.policies.get_opt(&policy_name).await.ok()??;
                (cluster_names(&policy) == clusters).then_some((export, policy))
            },
        )
        .await
    }

    /// Waits until neither the export nor the policy of `svc` exists.
    async fn wait_unexported(&self, svc: &str) {
        let policy_name = format!("propagate-service-{svc}");
        eventually(
            WAIT,
            &format!("ServiceExport {svc} and policy {policy_name} to be deleted"),
            || async {
                let export = self.exports.get_opt(svc).await.ok()?;
                let policy = self.policies.get_opt(&policy_name).await.ok()?;
                (export.is_none() && policy.is_none()).then_some(())
            },
        )
        .await
    }

    async fn set_binding(&self, svc: &str, clusters: &[&str], required_by: &[&str]) {
        let rb = binding(svc, clusters, required_by);
        let patch =
            json!({"spec": {"clusters": rb.spec.clusters, "requiredBy": rb.spec.required_by}});
        self.bindings
            .patch(
                &format!("{svc}-service"),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
    }
}

fn assert_export_shape(svc: &Service, export: &ServiceExport, policy: &PropagationPolicy) {
    let name = svc.name_any();
    assert_eq!(owner_refs(&export.metadata), expected_owner(svc));
    assert_eq!(owner_refs(&policy.metadata), expected_owner(svc));
    assert_eq!(
        json!(policy.spec.resource_selectors),
        json!([{"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport", "name": name}])
    );
}

#[tokio::test]
async fn an_mci_backend_is_exported_where_its_binding_places_it_until_unreferenced() {
    let env = Env::start().await;
    env.apply(common::INGRESS_CLASS, NS).await;
    env.apply(APPLICATION, NS).await;
    env.apply(MCI, NS).await;
    let apis = Apis::new(&env);
    apis.bindings
        .create(
            &PostParams::default(),
            &binding("serve", &["member2", "member1"], &["member3", "member1"]),
        )
        .await
        .unwrap();
    let (_dir, mut controller) = start(&env).await;
    controller.wait_ready(WAIT).await;

    // Created with the union of clusters and requiredBy clusters, sorted, owned by the Service.
    let svc = apis.services.get("serve").await.unwrap();
    let (export, policy) = apis
        .wait_exported("serve", &["member1", "member2", "member3"])
        .await;
    assert_export_shape(&svc, &export, &policy);

    // The list follows the binding.
    apis.set_binding("serve", &["member2"], &[]).await;
    apis.wait_exported("serve", &["member2"]).await;
    apis.set_binding("serve", &["member1", "member2"], &["member4"])
        .await;
    let (export, policy) = apis
        .wait_exported("serve", &["member1", "member2", "member4"])
        .await;

    // Someone deletes both: they come back.
    let dp = DeleteParams::default();
    apis.exports.delete("serve", &dp).await.unwrap();
    apis.policies
        .delete("propagate-service-serve", &dp)
        .await
        .unwrap();
    let (export, recreated) = eventually(WAIT, "the export and policy to be recreated", || async {
        let new_export = apis.exports.get_opt("serve").await.ok()??;
        let new_policy = apis
            .policies
            .get_opt("propagate-service-serve")
            .await
            .ok()??;
        (new_export.uid() != export.uid() && new_policy.uid() != policy.uid())
            .then_some((new_export, new_policy))
    })
    .await;
    assert_eq!(cluster_names(&recreated), ["member1", "member2", "member4"]);
    assert_export_shape(&svc, &export, &recreated);

    // The MCI stops referencing the Service: both go.
    let mci_patch = json!({"spec": {"rules": [{"http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "elsewhere", "port": {"number": 80}}}
    }]}}]}});
    apis.mcis
        .patch(
            "minimal-ingress",
            &PatchParams::default(),
            &Patch::Merge(&mci_patch),
        )
        .await
        .unwrap();
    apis.wait_unexported("serve").await;

    // Referenced again through the default backend: back.
    let mci_patch =
        json!({"spec": {"defaultBackend": {"service": {"name": "serve", "port": {"number": 80}}}}});
    apis.mcis
        .patch(
            "minimal-ingress",
            &PatchParams::default(),
            &Patch::Merge(&mci_patch),
        )
        .await
        .unwrap();
    apis.wait_exported("serve", &["member1", "member2", "member4"])
        .await;

    // The Service is deleted (no garbage collector here): both go; re-created: back, owned by
    // the new Service.
    apis.services.delete("serve", &dp).await.unwrap();
    apis.wait_unexported("serve").await;
    let svc = apis
        .services
        .create(&PostParams::default(), &service("serve"))
        .await
        .unwrap();
    let (export, policy) = apis
        .wait_exported("serve", &["member1", "member2", "member4"])
        .await;
    assert_export_shape(&svc, &export, &policy);

    // The MCI is deleted: both go.
    apis.mcis.delete("minimal-ingress", &dp).await.unwrap();
    apis.wait_unexported("serve").await;

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

#[tokio::test]
async fn a_load_balanced_mcs_service_is_exported_and_unexported_with_its_type() {
    let env = Env::start().await;
    let apis = Apis::new(&env);
    let pp = PostParams::default();
    let svc = apis.services.create(&pp, &service("lb")).await.unwrap();
    apis.bindings
        .create(&pp, &binding("lb", &["member1"], &[]))
        .await
        .unwrap();
    env.apply(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {name: lb}\nspec: {types: [LoadBalancer], ports: [{port: 80}]}\n",
        NS,
    )
    .await;
    // A user's own export for a CrossCluster MCS: not ours, never touched.
    apis.services.create(&pp, &service("mine")).await.unwrap();
    env.apply(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {name: mine}\nspec: {types: [CrossCluster]}\n",
        NS,
    )
    .await;
    let user_export: ServiceExport =
        serde_json::from_value(json!({"metadata": {"name": "mine", "namespace": NS}})).unwrap();
    let user_export = apis.exports.create(&pp, &user_export).await.unwrap();

    let (_dir, mut controller) = start(&env).await;
    controller.wait_ready(WAIT).await;
    let (export, policy) = apis.wait_exported("lb", &["member1"]).await;
    assert_export_shape(&svc, &export, &policy);

    // LoadBalancer removed from the types: both go.
    let to_cross_cluster = json!({"spec": {"types": ["CrossCluster"]}});
    apis.mcss
        .patch(
            "lb",
            &PatchParams::default(),
            &Patch::Merge(&to_cross_cluster),
        )
        .await
        .unwrap();
    apis.wait_unexported("lb").await;

    // Back to LoadBalancer: back; the MCS deleted: gone.
    let to_load_balancer = json!({"spec": {"types": ["LoadBalancer"]}});
    apis.mcss
        .patch(
            "lb",
            &PatchParams::default(),
            &Patch::Merge(&to_load_balancer),
        )
        .await
        .unwrap();
    apis.wait_exported("lb", &["member1"]).await;
    apis.mcss
        .delete("lb", &DeleteParams::default())
        .await
        .unwrap();
    apis.wait_unexported("lb").await;

    // The user's export was never deleted nor rewritten.
    let mine = apis.exports.get("mine").await.unwrap();
    assert_eq!(mine.uid(), user_export.uid());
    assert_eq!(mine.resource_version(), user_export.resource_version());
    assert!(
        apis.policies
            .get_opt("propagate-service-mine")
            .await
            .unwrap()
            .is_none(),
        "no policy for an unreferenced Service"
    );

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
