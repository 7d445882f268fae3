//! The shared caches on a real control plane: a relist after a watch gap, and objects our model
//! cannot decode.

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::{ControllerOptions, Env, eventually};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::work::ResourceBinding;
use mcp_testenv::ControlPlaneOptions;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// MCI `<service>` with the one backend Service `<service>`.
fn mci(service: &str) -> String {
    format!(
        "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterIngress\nmetadata: {{name: {service}}}\nspec:\n  defaultBackend: {{service: {{name: {service}, port: {{number: 80}}}}}}\n"
    )
}

fn binding(service: &str, cluster: &str) -> String {
    format!(
        "apiVersion: work.karmada.io/v1alpha2\nkind: ResourceBinding\nmetadata: {{name: {service}-service}}\nspec:\n  resource: {{apiVersion: v1, kind: Service, name: {service}, namespace: default}}\n  clusters: [{{name: {cluster}}}]\n"
    )
}

fn locations(mci: &MultiClusterIngress) -> serde_json::Value {
    json!(
        mci.status
            .as_ref()
            .and_then(|s| s.service_locations.clone())
    )
}

/// The controller loses its watches (a proxy between it and the API server is cut); meanwhile
/// one binding moves and another is deleted, and etcd's history is compacted, so the watches
/// cannot resume (410 Gone) and list again. The relist must be announced once stored, and the
/// deleted binding as a deletion: the service locations of both MCIs then follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_a_watch_gap_announces_changes_and_deletions() {
    let env = Env::start_with(ControlPlaneOptions {
        // Watches are served from etcd, whose compacted history they cannot resume from.
        extra_apiserver_args: vec!["--watch-cache=false".into()],
        ..ControlPlaneOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    for service in ["serve", "api"] {
        env.apply(&mci(service), "default").await;
        env.apply(&binding(service, "member1"), "default").await;
    }
    let proxy = Proxy::start(env.server_address()).await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .with_kubeconfig(&env.kubeconfig_via(proxy.port, dir.path()))
            .arg("--controllers=mci-service-locations")
            .arg("--leader-elect=false"),
    );
    controller.wait_ready(WAIT).await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let wait_locations = |name: &'static str, want: serde_json::Value, what: &'static str| {
        let mcis = mcis.clone();
        async move {
            eventually(WAIT, what, || async {
                let mci = mcis.get(name).await.ok()?;
                (locations(&mci) == want).then_some(())
            })
            .await
        }
    };
    for service in ["serve", "api"] {
        let located = json!([{"name": service, "clusters": ["member1"]}]);
        wait_locations(service, located, "the service located on member1").await;
    }

    proxy.cut();
    let bindings: Api<ResourceBinding> = Api::namespaced(env.client.clone(), "default");
    bindings
        .patch(
            "serve-service",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusters": [{"name": "member2"}]}})),
        )
        .await
        .unwrap();
    bindings
        .delete("api-service", &DeleteParams::default())
        .await
        .unwrap();
    env.plane.compact_etcd().await.unwrap();
    proxy.restore();

    let moved = json!([{"name": "serve", "clusters": ["member2"]}]);
    wait_locations("serve", moved, "serve's location to follow its binding").await;
    let unbound = json!(null);
    wait_locations("api", unbound, "api's location to go with its binding").await;
    // The watches did list again (the deletion was not seen as a watch event).
    assert!(
        controller.logs().contains("vanished=1"),
        "{}",
        controller.logs()
    );
    controller.stop(WAIT).await;
}

/// An MCS status condition with a timestamp the CRD accepts (its `date-time` format checks
/// neither the offset's range nor the fraction's separator) but `metav1.Time` rejects: the MCS
/// is reported (warning, metric, Event) and skipped; every other MCS is served, and the
/// controller is ready. Once fixed, the MCS is served too.
#[tokio::test]
async fn an_object_our_model_cannot_decode_is_skipped_and_the_rest_served() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mcs = |name: &str| {
        format!(
            "apiVersion: networking.karmada.io/v1alpha1\nkind: MultiClusterService\nmetadata: {{name: {name}}}\nspec: {{types: [LoadBalancer], ports: [{{port: 80}}]}}\n"
        )
    };
    env.apply(&mcs("odd"), "default").await;
    env.apply(&mcs("good"), "default").await;
    let api: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    let condition = |time: &str| json!({"status": {"conditions": [{"type": "ServiceApplied", "status": "True", "reason": "Applied", "message": "", "lastTransitionTime": time}]}});
    // Untyped: our own model could not read the answer.
    let untyped: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "default",
        &ApiResource::erase::<MultiClusterService>(&()),
    );
    let set_condition_time = |time: &'static str| {
        let untyped = untyped.clone();
        async move {
            let patch = Patch::Merge(condition(time));
            untyped
                .patch_status("odd", &PatchParams::default(), &patch)
                .await
        }
    };
    set_condition_time("2026-01-02T03:04:05+99:00")
        .await
        .expect("the CRD accepts the timestamp");

    let mut controller =
        env.controller(ControllerOptions::new(dir.path()).arg("--controllers=multiclusterservice"));
    controller.wait_ready(WAIT).await;
    let ip = |name: &'static str| {
        let api = api.clone();
        async move {
            eventually(WAIT, &format!("{name}'s address"), || async {
                let mcs = api.get(name).await.ok()?;
                let lb = mcs.status?.load_balancer?;
                lb.ingress?.first()?.ip.clone()
            })
            .await
        }
    };
    assert_eq!(ip("good").await, "1.2.3.4");
    let skipped = controller.metric_sum(
        "multicluster_provider_undecodable_objects_total",
        &[("kind", "MultiClusterService")],
    );
    assert!(skipped >= 1.0, "{}", controller.metrics());
    let logs = controller.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("skipped an object") && l.contains("odd") && l.contains("default")),
        "{logs}"
    );
    let events: Api<Event> = Api::namespaced(env.client.clone(), "default");
    eventually(WAIT, "a Warning Event on the skipped MCS", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("Undecodable")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("odd")
            })
            .map(|_| ())
    })
    .await;
    assert!(
        untyped
            .get("odd")
            .await
            .unwrap()
            .metadata
            .finalizers
            .is_none(),
        "the skipped MCS was acted on"
    );

    // Fixed, it is served like the others.
    set_condition_time("2026-01-02T03:04:05+09:00")
        .await
        .unwrap();
    assert_eq!(ip("odd").await, "1.2.3.4");
    controller.stop(WAIT).await;
}
