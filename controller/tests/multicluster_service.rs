//! The multiclusterservice controller on a real control plane with the real fake provider: what
//! needs an API server (watches and re-triggers, Karmada's conditions beside our status, the
//! binary end to end). Each reconcile case is a unit test (`src/controllers/multicluster_service`).
//!
//! The fake runs as a provider without the backend view (`backendView: off`): these are the Go
//! original's triggers, each a `get` + `update`. What a view-aware provider is called for is
//! tested in the controllers' unit tests and on real Karmada (`karmada_e2e`).

#![forbid(unsafe_code)]

pub mod common;

use std::path::Path;
use std::time::Duration;

use common::{ControllerOptions, ControllerProcess, Env, eventually, fake_state, seed_fake_state};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use mcp_interface::api::networking::MultiClusterService;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const FINALIZER: &str = "karmada.io/multi-cluster-service-controller";

fn mcs_yaml(name: &str, exposure: &str) -> String {
    format!(
        r#"apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterService
metadata:
  name: {name}
spec:
  types: [{exposure}]
  ports:
  - port: 80
"#
    )
}

fn service_yaml(name: &str, port: u16) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
  - port: {port}
    targetPort: 8080
  selector:
    app: {name}
"#
    )
}

/// Conditions as karmada-controller-manager writes them (metav1.Condition).
fn karmada_conditions() -> serde_json::Value {
    json!([
        {
            "type": "ServiceApplied",
            "status": "True",
            "reason": "ServiceAppliedSuccess",
            "message": "Service is propagated to target clusters.",
            "lastTransitionTime": "2026-01-02T03:04:05Z",
        },
        {
            "type": "EndpointSliceDispatched",
            "status": "False",
            "reason": "EndpointSliceDispatchedFailed",
            "message": "",
            "lastTransitionTime": "2026-01-02T03:04:06Z",
        },
    ])
}

fn lb_ip(mcs: &MultiClusterService) -> Option<String> {
    mcs.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .ip
        .clone()
}

fn conditions(mcs: &MultiClusterService) -> serde_json::Value {
    serde_json::to_value(mcs.status.as_ref().and_then(|s| s.conditions.clone())).unwrap()
}

fn finalizers(mcs: &MultiClusterService) -> Vec<String> {
    mcs.metadata.finalizers.clone().unwrap_or_default()
}

/// The fake's call log for one object: the methods, in order.
fn calls(state: &Path, object: &str) -> Vec<String> {
    fake_state(state)["calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter(|c| c["object"] == object)
                .map(|c| c["method"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn set_conditions(api: &Api<MultiClusterService>, name: &str) {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": karmada_conditions()}})),
    )
    .await
    .unwrap();
}

async fn wait_for_ip(api: &Api<MultiClusterService>, name: &str, ip: &str) -> MultiClusterService {
    eventually(
        WAIT,
        &format!("{name}'s load balancer address {ip}"),
        || async {
            let mcs = api.get(name).await.ok()?;
            (lb_ip(&mcs).as_deref() == Some(ip)).then_some(mcs)
        },
    )
    .await
}

fn start(env: &Env, dir: &Path, state: &Path, extra: &str) -> ControllerProcess {
    env.controller(
        ControllerOptions::new(dir)
            .cloud_config(&format!(
                "stateFile: {}\nbackendView: off\n{extra}",
                state.display()
            ))
            .arg("--controllers=multiclusterservice"),
    )
}

#[tokio::test]
async fn a_load_balancer_mcs_gets_a_finalizer_and_an_address_and_karmadas_conditions_stay() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(&mcs_yaml("web", "LoadBalancer"), "default").await;
    env.apply(&mcs_yaml("cross", "CrossCluster"), "default")
        .await;
    let api: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    set_conditions(&api, "web").await;
    set_conditions(&api, "cross").await;

    let mut controller = start(&env, dir.path(), &state, "");
    controller.wait_ready(WAIT).await;

    let web = wait_for_ip(&api, "web", "1.2.3.4").await;
    assert_eq!(finalizers(&web), [FINALIZER]);
    assert_eq!(conditions(&web), karmada_conditions(), "{web:?}");
    assert_eq!(
        fake_state(&state)["created"],
        json!(["mcs/default/web"]),
        "{}",
        controller.logs()
    );
    assert_eq!(calls(&state, "default/web"), ["mcs_get", "mcs_ensure"]);

    // Conditions Karmada writes later are a status change: kept, and no re-trigger.
    let mut later = karmada_conditions();
    later[1]["status"] = json!("True");
    later[1]["reason"] = json!("EndpointSliceDispatchedSucceed");
    api.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": later}})),
    )
    .await
    .unwrap();

    // Then an annotation (a trigger): its reconcile is the only request since the start's.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"annotations": {"note": "v2"}}})),
    )
    .await
    .unwrap();
    let web = wait_for_ip(&api, "web", "1.2.3.5").await;
    assert_eq!(
        controller.queued("multiclusterservice"),
        2.0,
        "only web's start-up and annotation requests: the conditions change and the \
         CrossCluster MCS triggered nothing"
    );
    assert_eq!(conditions(&web), later);
    assert_eq!(
        calls(&state, "default/web"),
        ["mcs_get", "mcs_ensure", "mcs_get", "mcs_update"]
    );

    // The CrossCluster MCS was left alone.
    let cross = api.get("cross").await.unwrap();
    assert!(finalizers(&cross).is_empty(), "{cross:?}");
    assert_eq!(lb_ip(&cross), None);
    assert_eq!(conditions(&cross), karmada_conditions());
    assert_eq!(calls(&state, "default/cross"), Vec::<String>::new());

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

#[tokio::test]
async fn service_and_endpoint_slice_changes_re_trigger_the_mcs() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(&mcs_yaml("web", "LoadBalancer"), "default").await;
    let api: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    let mut controller = start(&env, dir.path(), &state, "");
    controller.wait_ready(WAIT).await;
    wait_for_ip(&api, "web", "1.2.3.4").await;
    assert_eq!(calls(&state, "default/web"), ["mcs_get", "mcs_ensure"]);

    // The same-named Service appears: get, then update (the fake's update gives 1.2.3.5).
    env.apply(&service_yaml("web", 80), "default").await;
    wait_for_ip(&api, "web", "1.2.3.5").await;
    assert_eq!(
        calls(&state, "default/web"),
        ["mcs_get", "mcs_ensure", "mcs_get", "mcs_update"]
    );

    // A Service of another name is no trigger; a label-only change of ours is none either:
    // the spec change after them is the only request they are followed by.
    let queued = controller.queued("multiclusterservice");
    env.apply(&service_yaml("other", 80), "default").await;
    let services: Api<Service> = Api::namespaced(env.client.clone(), "default");
    services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .unwrap();

    // Its spec changes.
    services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"ports": [{"port": 81, "targetPort": 8080}]}})),
        )
        .await
        .unwrap();
    eventually(
        WAIT,
        "a reconcile after the Service's spec change",
        || async { (calls(&state, "default/web").len() >= 6).then_some(()) },
    )
    .await;
    assert_eq!(calls(&state, "default/web")[4..], ["mcs_get", "mcs_update"]);
    assert_eq!(calls(&state, "default/web").len(), 6);
    assert_eq!(
        controller.queued("multiclusterservice"),
        queued + 1.0,
        "the other Service or the label-only change triggered"
    );

    // An EndpointSlice of the derived Service changes.
    env.apply(
        r#"apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: imported-member1-web
  labels:
    kubernetes.io/service-name: derived-web
addressType: IPv4
endpoints: []
"#,
        "default",
    )
    .await;
    eventually(
        WAIT,
        "a reconcile after the EndpointSlice appeared",
        || async { (calls(&state, "default/web").len() >= 8).then_some(()) },
    )
    .await;

    // The Service is deleted.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "a reconcile after the Service's deletion", || async {
        (calls(&state, "default/web").len() >= 10).then_some(())
    })
    .await;
    assert_eq!(fake_state(&state)["created"], json!(["mcs/default/web"]));

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

#[tokio::test]
async fn objects_written_by_the_go_controller_are_adopted() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    // The fake cloud already holds the balancers the Go controller made.
    let balancer = |ip: &str| json!({"status": {"ingress": [{"ip": ip}]}, "createdBy": 1});
    seed_fake_state(
        &state,
        json!({
            "balancers": {
                "mcs/default/kept": balancer("1.2.3.4"),
                "mcs/default/leaving": balancer("1.2.3.4"),
            },
            "created": ["mcs/default/kept", "mcs/default/leaving"],
            "deleted": [],
            "calls": [],
        }),
    );
    let api: Api<MultiClusterService> = Api::namespaced(env.client.clone(), "default");
    for name in ["kept", "leaving"] {
        env.apply(&mcs_yaml(name, "LoadBalancer"), "default").await;
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": [FINALIZER]}})),
        )
        .await
        .unwrap();
        // Go writes the whole ServiceStatus (Status().Update).
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {
                "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]},
                "conditions": karmada_conditions(),
            }})),
        )
        .await
        .unwrap();
    }
    // Deleted while no controller ran: the Go finalizer holds it.
    api.delete("leaving", &DeleteParams::default())
        .await
        .unwrap();

    let mut controller = start(&env, dir.path(), &state, "");
    controller.wait_ready(WAIT).await;
    eventually(WAIT, "the leaving MCS to be gone", || async {
        api.get_opt("leaving")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // The existing balancer is updated, not created again.
    let kept = wait_for_ip(&api, "kept", "1.2.3.5").await;
    assert_eq!(finalizers(&kept), [FINALIZER]);
    assert_eq!(conditions(&kept), karmada_conditions());
    let s = fake_state(&state);
    assert_eq!(
        s["created"],
        json!(["mcs/default/kept", "mcs/default/leaving"]),
        "{s}"
    );
    assert_eq!(s["deleted"], json!(["mcs/default/leaving"]), "{s}");
    assert_eq!(calls(&state, "default/kept"), ["mcs_get", "mcs_update"]);
    // Deleted while its types hold LoadBalancer: ensure_deleted without a get, as Go does.
    assert_eq!(calls(&state, "default/leaving"), ["mcs_ensure_deleted"]);

    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}
