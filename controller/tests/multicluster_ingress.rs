//! The multiclusteringress controller on a real control plane with the real fake provider.

mod common;

use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;

const MCI: &str = include_str!("../../examples/mci.yaml");
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_mci_of_our_class_gets_a_finalizer_and_a_balancer_and_loses_both_on_deletion() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(MCI, "default").await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}", state.display()))
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;

    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    let mci = eventually(WAIT, "the MCI's load balancer address", || async {
        let mci = api.get("minimal-ingress").await.ok()?;
        (common::mci_ip(&mci).as_deref() == Some("1.2.3.4")).then_some(mci)
    })
    .await;
    assert!(
        mci.metadata
            .finalizers
            .unwrap()
            .contains(&"karmada.io/multi-cluster-ingress-controller".to_owned())
    );
    assert_eq!(
        fake_state(&state)["created"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );

    api.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    common::wait_gone(&api, "minimal-ingress", WAIT).await;
    let s = fake_state(&state);
    assert_eq!(s["balancers"], serde_json::json!({}), "{s}");
    assert_eq!(
        s["deleted"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );
    let status = controller.terminate(WAIT).await;
    assert!(status.success(), "{status}\n{}", controller.logs());
}

fn calls_for(state: &std::path::Path, object: &str) -> Vec<String> {
    fake_state(state)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["object"] == object)
        .map(|c| c["method"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_ip(
    api: &Api<MultiClusterIngress>,
    name: &str,
    ip: &str,
    why: &str,
) -> MultiClusterIngress {
    eventually(WAIT, why, || async {
        let mci = api.get(name).await.ok()?;
        (common::mci_ip(&mci).as_deref() == Some(ip)).then_some(mci)
    })
    .await
}

const SERVE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: serve
spec:
  ports:
  - port: 80
    targetPort: 8080
  selector:
    app: serve
"#;

/// Every re-trigger path of the Go original: Service create/spec/annotation/delete,
/// EndpointSlice of the derived Service, TLS Secret, MCI spec. A trigger makes the controller
/// `get` then `update` the existing balancer, which the fake answers with 1.2.3.5; status-only
/// and label-only changes must not trigger.
#[tokio::test]
async fn re_triggers_follow_the_go_predicates() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(
        r#"
apiVersion: networking.karmada.io/v1alpha1
kind: MultiClusterIngress
metadata:
  name: shop
spec:
  tls:
  - hosts: [shop.example.com]
    secretName: shop-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: serve
            port:
              number: 80
"#,
        "default",
    )
    .await;
    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}", state.display()))
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    wait_ip(&api, "shop", "1.2.3.4", "the first balancer").await;
    assert_eq!(calls_for(&state, "default/shop"), ["mci_get", "mci_ensure"]);

    let mut expect = 2usize;
    async fn check(state: &std::path::Path, expect: &mut usize, what: &str, triggers: bool) {
        if triggers {
            *expect += 2;
            let want = *expect;
            eventually(WAIT, what, || async move {
                (calls_for(state, "default/shop").len() >= want).then_some(())
            })
            .await;
            let calls = calls_for(state, "default/shop");
            assert_eq!(calls.len(), want, "{what}: {calls:?}");
            assert_eq!(&calls[want - 2..], ["mci_get", "mci_update"], "{what}");
        } else {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let calls = calls_for(state, "default/shop");
            assert_eq!(calls.len(), *expect, "{what} must not trigger: {calls:?}");
        }
    }

    env.apply(SERVE, "default").await;
    check(
        &state,
        &mut expect,
        "the referenced Service is created",
        true,
    )
    .await;
    wait_ip(&api, "shop", "1.2.3.5", "the updated address").await;

    env.apply(
        &SERVE.replace("targetPort: 8080", "targetPort: 9090"),
        "default",
    )
    .await;
    check(&state, &mut expect, "the Service's spec changes", true).await;

    env.apply(
        &SERVE
            .replace("targetPort: 8080", "targetPort: 9090")
            .replace("name: serve\n", "name: serve\n  labels: {team: a}\n"),
        "default",
    )
    .await;
    check(&state, &mut expect, "a Service label-only change", false).await;

    env.apply(
        r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: imported-member1-serve
  labels:
    kubernetes.io/service-name: derived-serve
addressType: IPv4
endpoints:
- addresses: ["10.0.0.1"]
"#,
        "default",
    )
    .await;
    check(
        &state,
        &mut expect,
        "an EndpointSlice of derived-serve appears",
        true,
    )
    .await;

    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-tls}\ntype: Opaque\nstringData: {tls.crt: one}\n",
        "default",
    )
    .await;
    check(&state, &mut expect, "the TLS Secret is created", true).await;
    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: unrelated}\ntype: Opaque\nstringData: {a: b}\n",
        "default",
    )
    .await;
    check(&state, &mut expect, "an unrelated Secret", false).await;

    // Status-only and label-only changes of the MCI itself do not trigger.
    api.patch_status(
        "shop",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"status": {"serviceLocations": [{"name": "serve", "clusters": ["member1"]}]}})),
    )
    .await
    .unwrap();
    api.patch(
        "shop",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .unwrap();
    check(&state, &mut expect, "MCI status/label changes", false).await;

    api.patch(
        "shop",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"metadata": {"annotations": {"note": "v2"}}})),
    )
    .await
    .unwrap();
    check(&state, &mut expect, "an MCI annotation change", true).await;

    let svcs: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(env.client.clone(), "default");
    svcs.delete("serve", &DeleteParams::default())
        .await
        .unwrap();
    check(&state, &mut expect, "the Service is deleted", true).await;
    let _ = controller.terminate(WAIT).await;
}

/// trafficBlockClusters: the located clusters whose Cluster has TrafficControl, re-computed
/// when a Cluster gains or loses it.
#[tokio::test]
async fn traffic_block_clusters_follow_cluster_remedy_actions() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    env.apply(common::INGRESS_CLASS, "default").await;
    for name in ["member1", "member2", "member3"] {
        env.apply(
            &format!("apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec: {{syncMode: Push}}\n"),
            "default",
        )
        .await;
    }
    env.apply(MCI, "default").await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    api.patch_status(
        "minimal-ingress",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"status": {"serviceLocations": [{"name": "serve", "clusters": ["member1", "member2"]}]}})),
    )
    .await
    .unwrap();
    let clusters: Api<mcp_interface::api::cluster::Cluster> = Api::all(env.client.clone());
    let set_remedy = |name: &'static str, actions: serde_json::Value| {
        let clusters = clusters.clone();
        async move {
            clusters
                .patch_status(
                    name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(
                        serde_json::json!({"status": {"remedyActions": actions}}),
                    ),
                )
                .await
                .unwrap();
        }
    };
    set_remedy("member2", serde_json::json!(["TrafficControl"])).await;
    set_remedy("member3", serde_json::json!(["TrafficControl"])).await;

    let mut controller =
        env.controller(ControllerOptions::new(dir.path()).arg("--controllers=multiclusteringress"));
    controller.wait_ready(WAIT).await;
    let blocked = |mci: &MultiClusterIngress| {
        mci.status
            .as_ref()
            .and_then(|s| s.traffic_block_clusters.clone())
    };
    eventually(
        WAIT,
        "member2 blocked (member3 is not a location)",
        || async {
            let mci = api.get("minimal-ingress").await.ok()?;
            (blocked(&mci) == Some(vec!["member2".to_owned()]) && common::mci_ip(&mci).is_some())
                .then_some(())
        },
    )
    .await;

    set_remedy("member1", serde_json::json!(["TrafficControl"])).await;
    eventually(WAIT, "member1 blocked too", || async {
        let mci = api.get("minimal-ingress").await.ok()?;
        (blocked(&mci) == Some(vec!["member1".to_owned(), "member2".to_owned()])).then_some(())
    })
    .await;
    set_remedy("member1", serde_json::json!(null)).await;
    set_remedy("member2", serde_json::json!([])).await;
    eventually(WAIT, "no cluster blocked", || async {
        let mci = api.get("minimal-ingress").await.ok()?;
        blocked(&mci).is_none().then_some(())
    })
    .await;
    // The other status fields were kept throughout.
    let mci = api.get("minimal-ingress").await.unwrap();
    assert_eq!(
        mci.status.unwrap().service_locations.unwrap()[0]
            .clusters
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    let _ = controller.terminate(WAIT).await;
}

/// Only MCIs of our class are served; several default classes are an error; objects written by
/// the Go controller (finalizer, status) are adopted as they are.
#[tokio::test]
async fn class_selection_and_adoption_of_go_written_objects() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: other}\nspec: {controller: example.com/other}\n",
        "default",
    )
    .await;
    env.apply(
        &MCI.replace("minimal-ingress", "theirs")
            .replace("spec:\n", "spec:\n  ingressClassName: other\n"),
        "default",
    )
    .await;
    env.apply(
        &MCI.replace("minimal-ingress", "explicit")
            .replace("spec:\n", "spec:\n  ingressClassName: fake\n"),
        "default",
    )
    .await;
    // As the Go controller leaves it: finalizer and status already there.
    env.apply(
        &MCI.replace("minimal-ingress", "adopted").replace(
            "metadata:\n",
            "metadata:\n  finalizers: [karmada.io/multi-cluster-ingress-controller]\n",
        ),
        "default",
    )
    .await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    api.patch_status(
        "adopted",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(
            serde_json::json!({"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}),
        ),
    )
    .await
    .unwrap();
    let before = api.get("adopted").await.unwrap().metadata.resource_version;

    let mut controller = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}", state.display()))
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;
    wait_ip(&api, "explicit", "1.2.3.4", "the explicitly classed MCI").await;
    eventually(WAIT, "the adopted MCI's balancer", || async {
        (calls_for(&state, "default/adopted") == ["mci_get", "mci_ensure"]).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let adopted = api.get("adopted").await.unwrap();
    assert_eq!(
        adopted.metadata.finalizers.as_ref().unwrap().len(),
        1,
        "the finalizer is not added twice"
    );
    assert_eq!(
        adopted.metadata.resource_version, before,
        "an unchanged status is not rewritten"
    );

    let theirs = api.get("theirs").await.unwrap();
    assert!(
        theirs.metadata.finalizers.is_none(),
        "another class's MCI is left alone"
    );
    assert!(calls_for(&state, "default/theirs").is_empty());

    // A second default class makes class-less MCIs ambiguous: they are not served, with a clear log.
    env.apply(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: fake2\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\nspec: {controller: karmada.io/fake}\n",
        "default",
    )
    .await;
    env.apply(&MCI.replace("minimal-ingress", "ambiguous"), "default")
        .await;
    eventually(WAIT, "the ambiguity to be logged", || async {
        controller
            .logs()
            .contains("2 IngressClasses are marked default")
            .then_some(())
    })
    .await;
    assert!(calls_for(&state, "default/ambiguous").is_empty());
    let _ = controller.terminate(WAIT).await;
}
