//! The controller as the identity of deploy/karmada-rbac.yaml, not as an admin: the Go original's
//! scenario plus the paths that use the rarer permissions converges with no request refused, and
//! the API server's audit log shows that every permission granted is used, in the namespace and
//! on the objects its rule allows (a rule's scope, Role or ClusterRole, and its resourceNames
//! count), and that the objects the controller uses by a fixed name are granted by that name
//! (so an excessive or broadened rule fails here too). Removing one rule makes the controller
//! log `forbidden` and not converge.
//!
//! The control plane runs with OwnerReferencesPermissionEnforcement, the strictest admission an
//! API server may add for the owner references the controller writes; the one granted permission
//! no request uses (update of services/finalizers) is shown to be needed there.
//!
//! How grants and audited requests are read and judged: `rbac/grants.rs`.

#![forbid(unsafe_code)]

pub mod common;
#[path = "rbac/grants.rs"]
mod grants;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::{ControllerOptions, DEPLOY_RBAC, Env, eventually};
use grants::{audited, granted, too_wide};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

/// The API server's audit policy: metadata of every request the provider's user makes.
const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["multicluster-provider"]
  - level: None
"#;

/// Granted permissions no request exercises: admission checks them (see karmada-rbac.yaml).
const ADMISSION_ONLY: &[(&str, &str, &str)] = &[("", "services/finalizers", "update")];

fn apiserver_args(dir: &Path) -> (Vec<String>, std::path::PathBuf) {
    let policy = dir.join("audit-policy.yaml");
    std::fs::write(&policy, AUDIT_POLICY).unwrap();
    let log = dir.join("audit.log");
    (
        vec![
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", log.display()),
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement".to_owned(),
        ],
        log,
    )
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn json_of(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap()
}

fn lb_ip(status: Option<&Value>) -> Option<String> {
    status?["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .map(str::to_owned)
}

/// Whether `status` holds the address the fake gives a balancer it made: an `update` may follow
/// the `ensure` when the status write and the locations write race (the object the next
/// reconcile sees may not have the address yet), so either of the fake's addresses.
fn has_fake_address(status: Option<&Value>) -> bool {
    lb_ip(status).is_some_and(|ip| {
        [mcp_provider_fake::ENSURED_IP, mcp_provider_fake::UPDATED_IP].contains(&ip.as_str())
    })
}

fn cluster_names(policy: &Value) -> Vec<String> {
    policy["spec"]["placement"]["clusterAffinity"]["clusterNames"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_controller_converges_under_the_deploy_rbac_and_uses_every_permission_it_grants() {
    let dir = tempfile::tempdir().unwrap();
    let (args, audit_log) = apiserver_args(dir.path());
    let (env, kubeconfig) = Env::start_with_rbac(DEPLOY_RBAC, args).await;
    let c = &env.client;
    let pp = PostParams::default();

    env.apply(common::INGRESS_CLASS, NS).await;
    env.apply(include_str!("../../examples/mci.yaml"), NS).await;
    env.apply(include_str!("../../examples/application.yaml"), NS)
        .await;
    // An MCI with TLS: the fake takes the backend view, so the controller reads its Secret.
    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-tls}\ntype: kubernetes.io/tls\ndata: {tls.crt: '', tls.key: ''}\n---\napiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterIngress\nmetadata: {name: shop}\nspec: {tls: [{hosts: [shop.example.com], secretName: shop-tls}], rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: serve, port: {number: 80}}}}]}}]}\n",
        NS,
    )
    .await;
    env.apply_karmada_state(NS).await;
    env.apply(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {name: serve}\nspec: {types: [LoadBalancer], ports: [{port: 80}]}\n---\napiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {name: broken}\nspec: {types: [LoadBalancer], ports: [{port: 80}]}\n",
        NS,
    )
    .await;
    // A ServiceExport left by an earlier Service `serve` (other UID): the controller re-points its
    // owner reference (patch).
    let exports_res = resource(
        "multicluster.x-k8s.io",
        "v1alpha1",
        "ServiceExport",
        "serviceexports",
    );
    let exports: Api<DynamicObject> = Api::namespaced_with(c.clone(), NS, &exports_res);
    let stale: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceExport",
        "metadata": {"name": "serve", "ownerReferences": [{
            "apiVersion": "v1", "kind": "Service", "name": "serve",
            "uid": "00000000-0000-0000-0000-000000000001",
            "controller": true, "blockOwnerDeletion": true,
        }]},
    }))
    .unwrap();
    exports.create(&pp, &stale).await.unwrap();

    // `broken`'s Service: the controller creates its ServiceExport (the MCS names it).
    env.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec: {ports: [{port: 80}], selector: {app: broken}}\n",
        NS,
    )
    .await;
    // `broken`'s balancer cannot be created: Warning events, created then patched as they repeat.
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&kubeconfig)
            .cloud_config(
                "faults:\n  - method: mcs_ensure\n    object: default/broken\n    action: fail\n    message: quota exceeded\n",
            ),
    );
    controller.wait_ready(WAIT).await;

    let mcis: Api<MultiClusterIngress> = Api::namespaced(c.clone(), NS);
    let mcss: Api<MultiClusterService> = Api::namespaced(c.clone(), NS);
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(c.clone(), NS);
    let policies_res = resource(
        "policy.karmada.io",
        "v1alpha1",
        "PropagationPolicy",
        "propagationpolicies",
    );
    let policies: Api<DynamicObject> = Api::namespaced_with(c.clone(), NS, &policies_res);
    let cpp_res = resource(
        "policy.karmada.io",
        "v1alpha1",
        "ClusterPropagationPolicy",
        "clusterpropagationpolicies",
    );
    let cpps: Api<DynamicObject> = Api::all_with(c.clone(), &cpp_res);
    let clusters_res = resource("cluster.karmada.io", "v1alpha1", "Cluster", "clusters");
    let clusters: Api<DynamicObject> = Api::all_with(c.clone(), &clusters_res);
    let bindings_res = resource(
        "work.karmada.io",
        "v1alpha2",
        "ResourceBinding",
        "resourcebindings",
    );
    let bindings: Api<DynamicObject> = Api::namespaced_with(c.clone(), NS, &bindings_res);
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(c.clone(), NS);

    eventually(WAIT, "the MCI's address and service locations", || async {
        let mci = serde_json::to_value(mcis.get("minimal-ingress").await.ok()?).unwrap();
        let locations = &mci["status"]["serviceLocations"];
        (has_fake_address(mci.get("status"))
            && *locations == json!([{"name": "serve", "clusters": ["member1", "member2"]}]))
        .then_some(())
    })
    .await;
    eventually(WAIT, "the MCS's address", || async {
        let mcs = serde_json::to_value(mcss.get("serve").await.ok()?).unwrap();
        has_fake_address(mcs.get("status")).then_some(())
    })
    .await;
    let service_uid = services.get("serve").await.unwrap().metadata.uid.unwrap();
    eventually(WAIT, "the ServiceExport owned by the Service", || async {
        let export = json_of(&exports.get("serve").await.ok()?);
        (export["metadata"]["ownerReferences"][0]["uid"] == service_uid.as_str()).then_some(())
    })
    .await;
    eventually(
        WAIT,
        "the PropagationPolicy of the ServiceExport",
        || async {
            let policy = json_of(&policies.get_opt("propagate-service-serve").await.ok()??);
            (cluster_names(&policy) == ["member1", "member2"]).then_some(())
        },
    )
    .await;
    eventually(WAIT, "the CRD's ClusterPropagationPolicy", || async {
        let policy = json_of(
            &cpps
                .get_opt("serviceexportpropagation-policy")
                .await
                .ok()??,
        );
        (cluster_names(&policy) == ["member1", "member2"]).then_some(())
    })
    .await;
    eventually(WAIT, "a repeated MCSLoadBalance Warning event", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("MCSLoadBalance")
                    && e.involved_object.name.as_deref() == Some("broken")
                    && e.count.is_some_and(|count| count >= 2)
            })
            .then_some(())
    })
    .await;

    // Placement changes: the PropagationPolicy and the ClusterPropagationPolicy follow (patch).
    env.join_clusters(&["member3"]).await;
    let three = json!({"spec": {"clusters": [{"name": "member1"}, {"name": "member2"}, {"name": "member3"}]}});
    bindings
        .patch(
            "serve-service",
            &PatchParams::default(),
            &Patch::Merge(&three),
        )
        .await
        .unwrap();
    eventually(WAIT, "member3 in both policies", || async {
        let pp = json_of(&policies.get_opt("propagate-service-serve").await.ok()??);
        let cpp = json_of(
            &cpps
                .get_opt("serviceexportpropagation-policy")
                .await
                .ok()??,
        );
        (cluster_names(&pp) == ["member1", "member2", "member3"]
            && cluster_names(&cpp) == ["member1", "member2", "member3"])
        .then_some(())
    })
    .await;

    // Deleting the MCI and the MCS: balancers and finalizers go, and `serve` is no longer
    // referenced, so its ServiceExport and PropagationPolicy are deleted.
    mcis.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    mcis.delete("shop", &DeleteParams::default()).await.unwrap();
    mcss.delete("serve", &DeleteParams::default())
        .await
        .unwrap();
    clusters
        .delete("member3", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        WAIT,
        "the MCI, the MCS, the export and its policy gone",
        || async {
            (mcis.get_opt("minimal-ingress").await.ok()?.is_none()
                && mcis.get_opt("shop").await.ok()?.is_none()
                && mcss.get_opt("serve").await.ok()?.is_none()
                && exports.get_opt("serve").await.ok()?.is_none()
                && policies
                    .get_opt("propagate-service-serve")
                    .await
                    .ok()?
                    .is_none())
            .then_some(())
        },
    )
    .await;

    let status = controller.terminate(WAIT).await;
    let logs = controller.logs();
    assert!(status.success(), "{status}\n{logs}");
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the controller was refused something under deploy/karmada-rbac.yaml:\n{logs}"
    );

    let requests = audited(&audit_log);
    assert!(!requests.is_empty(), "the audit log recorded nothing");
    let refused: BTreeSet<_> = requests.iter().filter(|r| r.code == 403).collect();
    assert!(refused.is_empty(), "requests refused by RBAC: {refused:?}");
    let grants = granted(DEPLOY_RBAC);
    let unused: Vec<_> = grants
        .iter()
        .filter(|g| !requests.iter().any(|r| g.allows(r)))
        .filter(|g| {
            !ADMISSION_ONLY.contains(&(g.group.as_str(), g.resource.as_str(), g.verb.as_str()))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/karmada-rbac.yaml grants permissions the controller never used: {unused:?}\nrequests: {requests:?}"
    );
    let wide: Vec<_> = grants
        .iter()
        .filter_map(|g| Some((g, too_wide(g)?)))
        .collect();
    assert!(wide.is_empty(), "wider than needed: {wide:?}");
}

/// deploy/karmada-rbac.yaml without the rule that lets the controller write statuses.
fn rbac_without_status_rule() -> String {
    let mut out = Vec::new();
    for object in mcp_testenv::parse_manifests(DEPLOY_RBAC, "rbac").unwrap() {
        let mut value = serde_json::to_value(&object).unwrap();
        if value["kind"] == "ClusterRole" {
            let rules = value["rules"].as_array_mut().unwrap();
            let before = rules.len();
            rules.retain(|rule| {
                !rule["resources"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("multiclusteringresses/status"))
            });
            assert_eq!(rules.len(), before - 1, "the status rule was not found");
        }
        out.push(serde_yaml::to_string(&value).unwrap());
    }
    out.join("---\n")
}

#[tokio::test]
async fn a_missing_permission_is_logged_as_forbidden_and_the_mci_does_not_converge() {
    let dir = tempfile::tempdir().unwrap();
    let (env, kubeconfig) = Env::start_with_rbac(&rbac_without_status_rule(), Vec::new()).await;
    env.apply(common::INGRESS_CLASS, NS).await;
    env.apply(include_str!("../../examples/mci.yaml"), NS).await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&kubeconfig)
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;

    eventually(WAIT, "a forbidden status write in the log", || async {
        controller
            .logs()
            .to_lowercase()
            .contains("forbidden")
            .then_some(())
    })
    .await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), NS);
    let mci = serde_json::to_value(mcis.get("minimal-ingress").await.unwrap()).unwrap();
    // The finalizer (a patch of the object) is allowed; the address (status) is not.
    assert_eq!(
        mci["metadata"]["finalizers"],
        json!(["karmada.io/multi-cluster-ingress-controller"])
    );
    assert_eq!(lb_ip(mci.get("status")), None, "{mci}");
    let logs = controller.logs();
    assert!(
        logs.contains("multiclusteringresses"),
        "the forbidden error should name the resource:\n{logs}"
    );
}

/// deploy/karmada-rbac.yaml without `update` on services/finalizers.
fn rbac_without_finalizers_rule() -> String {
    let mut out = Vec::new();
    for object in mcp_testenv::parse_manifests(DEPLOY_RBAC, "rbac").unwrap() {
        let mut value = serde_json::to_value(&object).unwrap();
        if value["kind"] == "ClusterRole" {
            let rules = value["rules"].as_array_mut().unwrap();
            let before = rules.len();
            rules.retain(|rule| rule["resources"] != json!(["services/finalizers"]));
            assert_eq!(rules.len(), before - 1, "the finalizers rule was not found");
        }
        out.push(serde_yaml::to_string(&value).unwrap());
    }
    out.join("---\n")
}

/// The one rule no request uses is still needed: an API server enforcing owner-reference
/// permissions refuses the ServiceExport (its owner reference blocks the Service's deletion)
/// without it.
#[tokio::test]
async fn services_finalizers_is_needed_where_owner_reference_permissions_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (env, kubeconfig) = Env::start_with_rbac(
        &rbac_without_finalizers_rule(),
        vec!["--enable-admission-plugins=OwnerReferencesPermissionEnforcement".to_owned()],
    )
    .await;
    env.apply(include_str!("../../examples/mci.yaml"), NS).await;
    env.apply(include_str!("../../examples/application.yaml"), NS)
        .await;
    // An MCI with TLS: the fake takes the backend view, so the controller reads its Secret.
    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-tls}\ntype: kubernetes.io/tls\ndata: {tls.crt: '', tls.key: ''}\n---\napiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterIngress\nmetadata: {name: shop}\nspec: {tls: [{hosts: [shop.example.com], secretName: shop-tls}], rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: serve, port: {number: 80}}}}]}}]}\n",
        NS,
    )
    .await;
    env.apply_karmada_state(NS).await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&kubeconfig)
            .arg("--controllers=serviceexport-propagation"),
    );
    controller.wait_ready(WAIT).await;
    eventually(
        WAIT,
        "a forbidden ServiceExport create in the log",
        || async {
            let logs = controller.logs().to_lowercase();
            (logs.contains("forbidden") && logs.contains("blockownerdeletion")).then_some(())
        },
    )
    .await;
    let exports: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        NS,
        &resource(
            "multicluster.x-k8s.io",
            "v1alpha1",
            "ServiceExport",
            "serviceexports",
        ),
    );
    assert!(exports.get_opt("serve").await.unwrap().is_none());
}
