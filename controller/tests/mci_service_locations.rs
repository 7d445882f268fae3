//! The mci-service-locations controller on a real control plane.

#![forbid(unsafe_code)]

pub mod common;

use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;
use serde_json::{Value, json};

const MCI: &str = include_str!("../../examples/mci.yaml");
const APPLICATION: &str = include_str!("../../examples/application.yaml");
const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

fn start(env: &Env) -> (tempfile::TempDir, ControllerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let controller = env
        .controller(ControllerOptions::new(dir.path()).arg("--controllers=mci-service-locations"));
    (dir, controller)
}

/// A ResourceBinding for Service `svc`, shaped as Karmada writes it.
fn binding(svc: &str, clusters: &[&str]) -> ResourceBinding {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({"name": c})).collect();
    serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha2",
        "kind": "ResourceBinding",
        "metadata": {"name": format!("{svc}-service"), "namespace": NS},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Service", "name": svc, "namespace": NS},
            "clusters": clusters,
        },
    }))
    .unwrap()
}

fn status(mci: &MultiClusterIngress) -> Value {
    serde_json::to_value(&mci.status).unwrap()
}

async fn wait_locations(
    api: &Api<MultiClusterIngress>,
    name: &str,
    want: Value,
) -> MultiClusterIngress {
    eventually(
        WAIT,
        &format!("{name}'s serviceLocations to be {want}"),
        || async {
            let mci = api.get(name).await.ok()?;
            (status(&mci)["serviceLocations"] == want).then_some(mci)
        },
    )
    .await
}

#[tokio::test]
async fn service_locations_follow_the_bindings_and_leave_other_status_fields_alone() {
    let env = Env::start().await;
    env.apply(common::INGRESS_CLASS, NS).await;
    env.apply(APPLICATION, NS).await;
    env.apply(MCI, NS).await;
    // An MCI of a class no provider of ours serves: it gets locations too (as in Go).
    env.apply(
        r#"apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterIngress
metadata: {name: other-class}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: serve, port: {number: 80}}}
"#,
        NS,
    )
    .await;
    let mcis: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), NS);
    let bindings: Api<ResourceBinding> = Api::namespaced(env.client.clone(), NS);
    let pp = PostParams::default();
    bindings
        .create(&pp, &binding("serve", &["member2", "member1"]))
        .await
        .unwrap();
    // Status written by the multiclusteringress controller: must survive.
    let others = json!({
        "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]},
        "trafficBlockClusters": ["member2"],
    });
    mcis.patch_status(
        "minimal-ingress",
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": others })),
    )
    .await
    .unwrap();

    let (_dir, mut controller) = start(&env);
    controller.wait_ready(WAIT).await;

    let mci = wait_locations(
        &mcis,
        "minimal-ingress",
        json!([{"name": "serve", "clusters": ["member1", "member2"]}]),
    )
    .await;
    assert_eq!(status(&mci)["loadBalancer"], others["loadBalancer"]);
    assert_eq!(
        status(&mci)["trafficBlockClusters"],
        others["trafficBlockClusters"]
    );
    wait_locations(
        &mcis,
        "other-class",
        json!([{"name": "serve", "clusters": ["member1", "member2"]}]),
    )
    .await;

    // Written only when changed: each MCI is reconciled at start (a write) and once more for
    // that write (nothing to write); once those four reconciles are done, nothing has moved.
    assert_eq!(controller.quiet("mci-service-locations", WAIT).await, 4.0);
    assert_eq!(controller.queued("mci-service-locations"), 4.0);
    assert_eq!(
        mcis.get("minimal-ingress")
            .await
            .unwrap()
            .resource_version(),
        mci.resource_version()
    );

    // The binding changes: so do the locations (requiredBy clusters count too).
    let patch = json!({"spec": {
        "clusters": [{"name": "member1"}],
        "requiredBy": [{"namespace": NS, "name": "dependent", "clusters": [{"name": "member3"}]}],
    }});
    bindings
        .patch(
            "serve-service",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    wait_locations(
        &mcis,
        "minimal-ingress",
        json!([{"name": "serve", "clusters": ["member1", "member3"]}]),
    )
    .await;

    // An unrelated binding triggers nothing. Once the binding cache has handled it (its
    // mappers have run), any request it made is queued before the next one of this
    // controller (the rules change below), so once that one is reconciled and nothing is left
    // in the queue, it is the only request since the baseline.
    // (First every request so far, the writes' own follow-ups included, is reconciled.)
    let reconciled = controller.quiet("mci-service-locations", WAIT).await;
    let queued = controller.queued("mci-service-locations");
    let binding_events = || {
        controller.metric_sum(
            "multicluster_provider_cache_events_total",
            &[("kind", "ResourceBinding")],
        )
    };
    let seen = binding_events();
    bindings
        .create(&pp, &binding("unrelated", &["member9"]))
        .await
        .unwrap();
    eventually(
        WAIT,
        "the binding cache to handle the new binding",
        || async { (binding_events() > seen).then_some(()) },
    )
    .await;

    // A second backend without a binding is skipped (its reconcile writes nothing); once bound,
    // it is listed, sorted by name.
    let rules = json!({"spec": {"rules": [{"http": {"paths": [
        {"path": "/testpath", "pathType": "Prefix",
         "backend": {"service": {"name": "serve", "port": {"number": 80}}}},
        {"path": "/api", "pathType": "Prefix",
         "backend": {"service": {"name": "api", "port": {"number": 80}}}},
    ]}}]}});
    mcis.patch(
        "minimal-ingress",
        &PatchParams::default(),
        &Patch::Merge(&rules),
    )
    .await
    .unwrap();
    eventually(WAIT, "the reconcile of the new backend", || async {
        (controller.reconciles("mci-service-locations") > reconciled).then_some(())
    })
    .await;
    assert_eq!(
        controller.quiet("mci-service-locations", WAIT).await,
        reconciled + 1.0
    );
    assert_eq!(
        controller.queued("mci-service-locations"),
        queued + 1.0,
        "the unrelated binding triggered a reconcile"
    );
    assert_eq!(
        status(&mcis.get("minimal-ingress").await.unwrap())["serviceLocations"],
        json!([{"name": "serve", "clusters": ["member1", "member3"]}])
    );
    bindings
        .create(&pp, &binding("api", &["member4"]))
        .await
        .unwrap();
    wait_locations(
        &mcis,
        "minimal-ingress",
        json!([
            {"name": "api", "clusters": ["member4"]},
            {"name": "serve", "clusters": ["member1", "member3"]},
        ]),
    )
    .await;

    // Someone else overwrites the locations: put back.
    mcis.patch_status(
        "minimal-ingress",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"serviceLocations": [{"name": "bogus"}]}})),
    )
    .await
    .unwrap();
    wait_locations(
        &mcis,
        "minimal-ingress",
        json!([
            {"name": "api", "clusters": ["member4"]},
            {"name": "serve", "clusters": ["member1", "member3"]},
        ]),
    )
    .await;

    // A binding deleted: its entry goes; the last one deleted: the field goes.
    bindings
        .delete("serve-service", &DeleteParams::default())
        .await
        .unwrap();
    wait_locations(
        &mcis,
        "minimal-ingress",
        json!([{"name": "api", "clusters": ["member4"]}]),
    )
    .await;
    wait_locations(&mcis, "other-class", Value::Null).await;
    bindings
        .delete("api-service", &DeleteParams::default())
        .await
        .unwrap();
    let mci = wait_locations(&mcis, "minimal-ingress", Value::Null).await;
    assert_eq!(status(&mci)["loadBalancer"], others["loadBalancer"]);
    assert_eq!(
        status(&mci)["trafficBlockClusters"],
        others["trafficBlockClusters"]
    );

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
