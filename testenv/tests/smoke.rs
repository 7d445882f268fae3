//! Smoke tests of the project's CRDs on a real kube-apiserver: create, list, watch and update
//! the status of every kind; apply the examples and read them back.

#![forbid(unsafe_code)]

pub mod common;

use futures::StreamExt as _;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use mcp_testenv::RESTRICTED_USER;
use serde_json::json;

use common::{dynamic_api, dynamic_object, samples, unique};

#[tokio::test]
async fn every_crd_supports_create_list_watch_and_status() {
    let ctx = mcp_testenv::test_context("smoke-crds").await;
    let name = unique("smoke");
    for sample in samples(&name) {
        let what = format!("{} {}", sample.kind, name);
        let (api, _) =
            dynamic_api(&ctx.admin, sample.api_version, sample.kind, ctx.namespace()).await;

        // list (and remember where the watch should start)
        let before = api
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("list {what}: {e}"));
        let resource_version = before.metadata.resource_version.clone().unwrap_or_default();

        // create
        let object = dynamic_object(sample.api_version, sample.kind, sample.object.clone());
        let created = api
            .create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("create {what}: {e}"));
        assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));
        if sample.namespaced {
            assert_eq!(created.metadata.namespace.as_deref(), Some(ctx.namespace()));
        }

        // watch: the creation arrives as an ADDED event
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(10);
        let mut events = api.watch(&params, &resource_version).await.unwrap().boxed();
        let first = tokio::time::timeout(std::time::Duration::from_secs(15), events.next())
            .await
            .unwrap_or_else(|_| panic!("no watch event for {what}"))
            .expect("watch stream ended")
            .unwrap_or_else(|e| panic!("watch {what}: {e}"));
        match first {
            WatchEvent::Added(object) => {
                assert_eq!(object.metadata.name.as_deref(), Some(name.as_str()))
            }
            other => panic!("expected ADDED for {what}, got {other:?}"),
        }

        // list again: it is there
        let listed = api.list(&ListParams::default()).await.unwrap();
        assert!(
            listed
                .items
                .iter()
                .any(|o| o.metadata.name.as_deref() == Some(name.as_str())),
            "{what} not listed"
        );

        // status subresource
        let status_patch =
            Patch::Merge(json!({"status": sample.status.clone().unwrap_or(json!({"x": 1}))}));
        let result = api
            .patch_status(&name, &PatchParams::default(), &status_patch)
            .await;
        match &sample.status {
            Some(status) => {
                result.unwrap_or_else(|e| panic!("status update of {what}: {e}"));
                let stored = api.get(&name).await.unwrap();
                assert_eq!(
                    &stored.data["status"], status,
                    "status of {what} was not stored as written"
                );
                // A status written through the main resource is ignored (status is a subresource).
                let mut spec_write = stored.clone();
                spec_write.data["status"] = json!({});
                spec_write.metadata.managed_fields = None;
                let replaced = api
                    .replace(&name, &PostParams::default(), &spec_write)
                    .await
                    .unwrap();
                assert_eq!(
                    &replaced.data["status"], status,
                    "{what}: status changed through the main resource"
                );
            }
            None => match result {
                Err(kube::Error::Api(status)) => assert_eq!(status.code, 404, "{what}: {status:?}"),
                other => panic!("{what} should have no status subresource, got {other:?}"),
            },
        }

        if !sample.namespaced {
            api.delete(&name, &DeleteParams::default()).await.unwrap();
        }
    }
}

#[tokio::test]
async fn restricted_identity_is_denied_until_rbac_allows() {
    let ctx = mcp_testenv::test_context("smoke-rbac").await;
    let (api, _) = dynamic_api(
        &ctx.restricted,
        "networking.karmada.io/v1alpha1",
        "MultiClusterIngress",
        ctx.namespace(),
    )
    .await;
    match api.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("restricted user listed MultiClusterIngresses: {other:?}"),
    }
    let (admin_api, _) = dynamic_api(
        &ctx.admin,
        "networking.karmada.io/v1alpha1",
        "MultiClusterIngress",
        ctx.namespace(),
    )
    .await;
    assert!(admin_api.list(&ListParams::default()).await.is_ok());

    // RBAC grants the restricted user `list` in this namespace only: now it may, elsewhere not.
    mcp_testenv::apply_yaml(
        &ctx.admin,
        &format!(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: list-mcis}}
rules:
  - apiGroups: [networking.karmada.io]
    resources: [multiclusteringresses]
    verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: list-mcis}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: list-mcis}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {RESTRICTED_USER}}}
"#
        ),
        "smoke",
        ctx.namespace(),
    )
    .await
    .unwrap();
    // RBAC reads its objects from a cache: the grant takes effect shortly after the write.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Err(e) = api.list(&ListParams::default()).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the granted list stayed refused: {e}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (elsewhere, _) = dynamic_api(
        &ctx.restricted,
        "networking.karmada.io/v1alpha1",
        "MultiClusterIngress",
        "default",
    )
    .await;
    match elsewhere.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("the grant leaked to another namespace: {other:?}"),
    }
}

#[tokio::test]
async fn examples_apply_and_read_back() {
    let ctx = mcp_testenv::test_context("smoke-examples").await;
    let examples = mcp_testenv::repo_root().join("examples");
    for file in ["ingressclass-fake.yaml", "application.yaml", "mci.yaml"] {
        let applied = mcp_testenv::apply_path(&ctx.admin, &examples.join(file), ctx.namespace())
            .await
            .unwrap_or_else(|e| panic!("applying examples/{file}: {e:?}"));
        assert!(!applied.is_empty(), "examples/{file} has no objects");
        for object in applied {
            let types = object.types.clone().expect("stored objects have types");
            let name = object.metadata.name.clone().unwrap();
            let (api, _) =
                dynamic_api(&ctx.admin, &types.api_version, &types.kind, ctx.namespace()).await;
            let stored = api
                .get(&name)
                .await
                .unwrap_or_else(|e| panic!("reading back {} {name}: {e}", types.kind));
            assert!(stored.metadata.uid.is_some());
            if stored.metadata.namespace.is_some() {
                assert_eq!(stored.metadata.namespace.as_deref(), Some(ctx.namespace()));
            }
        }
    }
    let (mci, _) = dynamic_api(
        &ctx.admin,
        "networking.karmada.io/v1alpha1",
        "MultiClusterIngress",
        ctx.namespace(),
    )
    .await;
    let stored = mci.get("minimal-ingress").await.unwrap();
    assert_eq!(
        stored.data["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        json!("serve")
    );
    let (pp, _) = dynamic_api(
        &ctx.admin,
        "policy.karmada.io/v1alpha1",
        "PropagationPolicy",
        ctx.namespace(),
    )
    .await;
    let policy = pp.get("mcs-workload").await.unwrap();
    // Defaults from the schema, as Karmada's CRD sets them.
    assert_eq!(policy.data["spec"]["conflictResolution"], json!("Abort"));
    assert_eq!(
        policy.data["spec"]["schedulerName"],
        json!("default-scheduler")
    );
}

/// More Services than a /24 holds get cluster IPs (the Service range is as large as
/// Kubernetes' default: `SERVICE_CLUSTER_IP_RANGE`).
#[tokio::test]
async fn more_services_than_a_slash_24_holds_get_cluster_ips() {
    let ctx = mcp_testenv::test_context("smoke-services").await;
    let services: kube::Api<k8s_openapi::api::core::v1::Service> =
        kube::Api::namespaced(ctx.admin.clone(), ctx.namespace());
    let created: Vec<String> = futures::stream::iter(0..300)
        .map(|i| {
            let services = services.clone();
            async move {
                let svc = serde_json::from_value(json!({
                    "metadata": {"name": format!("svc-{i}")},
                    "spec": {"ports": [{"port": 80}]},
                }))
                .unwrap();
                services
                    .create(&PostParams::default(), &svc)
                    .await
                    .unwrap_or_else(|e| panic!("Service {i}: {e}"))
                    .spec
                    .and_then(|s| s.cluster_ip)
                    .unwrap_or_default()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let distinct: std::collections::BTreeSet<&String> = created.iter().collect();
    assert_eq!(distinct.len(), 300, "every Service has its own cluster IP");
    assert!(!distinct.contains(&String::new()));
}
