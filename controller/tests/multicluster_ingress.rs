//! The multiclusteringress controller on a real control plane with the real fake provider: what
//! needs an API server (watches and re-triggers, classes coming and going, two deployments, the
//! binary end to end). Each reconcile case is a unit test (`src/controllers/multicluster_ingress`).
//! Ingress classes and a second deployment are in `multicluster_ingress/classes.rs`.

#![forbid(unsafe_code)]

#[path = "multicluster_ingress/classes.rs"]
mod classes;
pub mod common;

use std::time::Duration;

use common::{ControllerOptions, Env, eventually, fake_state};
use kube::api::{Api, DeleteParams};
use mcp_interface::api::networking::MultiClusterIngress;

const MCI: &str = include_str!("../../examples/mci.yaml");
const WAIT: Duration = Duration::from_secs(60);

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

async fn annotate(api: &Api<MultiClusterIngress>, name: &str, note: &str) -> MultiClusterIngress {
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"metadata": {"annotations": {"note": note}}})),
    )
    .await
    .unwrap()
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

/// Counts the reconcile requests a controller queued and the fake's calls about one object, to
/// check each step of a test: a step that must trigger makes exactly one request and one
/// `get` + `update`; a step that must not is followed by one of the same kind that must (a
/// cache handles its events in order), whose check then finds exactly one request, not two.
struct Triggers<'a> {
    controller: &'a common::ControllerProcess,
    name: &'static str,
    state: &'a std::path::Path,
    object: &'static str,
    queued: f64,
    calls: usize,
    skips: f64,
}

const SKIPPED: &str =
    "multicluster_provider_provider_updates_skipped_total{kind=\"MultiClusterIngress\"}";

impl<'a> Triggers<'a> {
    fn new(
        controller: &'a common::ControllerProcess,
        name: &'static str,
        state: &'a std::path::Path,
        object: &'static str,
    ) -> Self {
        Triggers {
            controller,
            name,
            state,
            object,
            queued: controller.queued(name),
            calls: calls_for(state, object).len(),
            skips: controller.metric(SKIPPED).unwrap_or(0.0),
        }
    }

    /// Waits for the `get` + `update` that `what` triggers; requires that exactly one request
    /// was queued since the last check (so nothing in between triggered).
    async fn triggered(&mut self, what: &str) {
        let (want, state, object) = (self.calls + 2, self.state, self.object);
        eventually(WAIT, what, || async move {
            (calls_for(state, object).len() >= want).then_some(())
        })
        .await;
        let calls = calls_for(self.state, self.object);
        assert_eq!(calls.len(), want, "{what}: {calls:?}");
        assert_eq!(&calls[want - 2..], ["mci_get", "mci_update"], "{what}");
        let queued = self.controller.queued(self.name);
        assert_eq!(
            queued,
            self.queued + 1.0,
            "{what}: one request expected since the last check; a change that must not trigger did"
        );
        (self.queued, self.calls) = (queued, want);
        self.skips = self.controller.metric(SKIPPED).unwrap_or(0.0);
    }

    /// Waits until `what` was handled and found nothing the provider sees changed (the fake
    /// takes the backend view): one request queued, one update skipped, no call.
    async fn skipped(&mut self, what: &str) {
        let (before, controller) = (self.skips, self.controller);
        eventually(WAIT, what, || async move {
            (controller.metric(SKIPPED).unwrap_or(0.0) > before).then_some(())
        })
        .await;
        assert_eq!(
            calls_for(self.state, self.object).len(),
            self.calls,
            "{what}"
        );
        let queued = self.controller.queued(self.name);
        assert_eq!(queued, self.queued + 1.0, "{what}: one request expected");
        self.queued = queued;
        self.skips = before + 1.0;
    }
}

/// Every re-trigger path of the Go original: Service create/spec/annotation/delete,
/// EndpointSlice of the derived Service, TLS Secret, MCI spec; and those of the backend view:
/// the Service's binding placing it, a placed Cluster appearing or becoming Ready, a member
/// balancer aggregated into the binding. A trigger makes the controller `get` then
/// `update` the existing balancer, which the fake answers with 1.2.3.5; other status-only and
/// label-only changes, and unrelated objects, must not trigger.
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
    let mut triggers = Triggers::new(&controller, "multiclusteringress", &state, "default/shop");

    env.apply(SERVE, "default").await;
    triggers
        .triggered("the referenced Service is created")
        .await;
    wait_ip(&api, "shop", "1.2.3.5", "the updated address").await;

    // A label-only change (no trigger), then a spec change (one).
    env.apply(
        &SERVE.replace("name: serve\n", "name: serve\n  labels: {team: a}\n"),
        "default",
    )
    .await;
    env.apply(
        &SERVE
            .replace("targetPort: 8080", "targetPort: 9090")
            .replace("name: serve\n", "name: serve\n  labels: {team: a}\n"),
        "default",
    )
    .await;
    triggers
        .triggered("the Service's spec changes (its label-only change did not trigger)")
        .await;

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
    // Of no cluster the MCI is located in (the slice names none): nothing the provider sees.
    triggers
        .skipped("an EndpointSlice of derived-serve appears")
        .await;

    // An unrelated Secret (no trigger), then the TLS Secret (one).
    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: unrelated}\ntype: Opaque\nstringData: {a: b}\n",
        "default",
    )
    .await;
    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-tls}\ntype: Opaque\nstringData: {tls.crt: one}\n",
        "default",
    )
    .await;
    triggers
        .triggered("the TLS Secret is created (an unrelated one did not trigger)")
        .await;

    // Its service locations are no input (none: the view's clusters come from the bindings),
    // then the Service's binding appears, placing it on member1 and member2 (one).
    let params = kube::api::PatchParams::default();
    let merge = kube::api::Patch::Merge;
    let located = serde_json::json!({"status": {"serviceLocations": [{"name": "serve", "clusters": ["member1"]}]}});
    api.patch_status("shop", &params, &merge(located))
        .await
        .unwrap();
    env.apply(common::KARMADA_STATE, "default").await;
    triggers
        .triggered("the Service's binding appears (the MCI's locations change did not trigger)")
        .await;

    // A Cluster of no view appears (none), then one the Service is placed on (one), which then
    // becomes Ready (one).
    let cluster = |name: &str| {
        format!(
            "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec: {{syncMode: Push}}\n"
        )
    };
    env.apply(&cluster("member3"), "default").await;
    env.apply(&cluster("member1"), "default").await;
    // Not Ready yet, as the view already said of a cluster without its Cluster: no call.
    triggers
        .skipped("a placed Cluster appears (an unrelated one did not trigger)")
        .await;
    let clusters: Api<mcp_interface::api::cluster::Cluster> = Api::all(env.client.clone());
    let ready = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True",
        "reason": "ClusterReady", "message": "ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    clusters
        .patch_status("member1", &params, &merge(ready))
        .await
        .unwrap();
    triggers.triggered("a placed Cluster becomes Ready").await;

    // The binding aggregates member1's balancer (one).
    let bindings: Api<mcp_interface::api::work::ResourceBinding> =
        Api::namespaced(env.client.clone(), "default");
    let balancer = serde_json::json!({"status": {"aggregatedStatus": [{"clusterName": "member1",
        "status": {"loadBalancer": {"ingress": [{"ip": "10.1.0.1"}]}}}]}});
    bindings
        .patch_status("serve-service", &params, &merge(balancer))
        .await
        .unwrap();
    triggers
        .triggered("the binding aggregates a member balancer")
        .await;

    // Other status and label changes of the MCI itself (none), then an annotation (one).
    let other_status = serde_json::json!({"status": {"trafficBlockClusters": []}});
    api.patch_status("shop", &params, &merge(other_status))
        .await
        .unwrap();
    let labels = serde_json::json!({"metadata": {"labels": {"x": "y"}}});
    api.patch("shop", &params, &merge(labels)).await.unwrap();
    annotate(&api, "shop", "v2").await;
    triggers
        .triggered("an MCI annotation change (its status and label changes did not trigger)")
        .await;

    let svcs: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(env.client.clone(), "default");
    svcs.delete("serve", &DeleteParams::default())
        .await
        .unwrap();
    triggers.triggered("the Service is deleted").await;
    controller.stop(WAIT).await;
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
    controller.stop(WAIT).await;
}
