//! Ingress classes: only MCIs of our class are served (several defaults are an error), objects
//! the Go controller wrote are adopted, a second deployment of another class leaves our
//! deletions alone, and a deletion waits for its class to come back.

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::api::{Api, DeleteParams, ListParams};
use mcp_interface::api::networking::MultiClusterIngress;

use super::{MCI, WAIT, calls_for, wait_ip};
use crate::common::{self, ControllerOptions, ControllerProcess, Env, eventually, fake_state};

/// IngressClasses `fake` (ours, the default) and `other` (`example.com/other`), and MCI
/// `theirs` of class `other`.
async fn apply_two_classes(env: &Env) {
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
}

/// Only MCIs of our class are served; several default classes are an error; objects written by
/// the Go controller (finalizer, status) are adopted as they are.
#[tokio::test]
async fn class_selection_and_adoption_of_go_written_objects() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    apply_two_classes(&env).await;
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
    // Every request queued so far (both MCIs of our class, and anything their writes or the
    // other class's MCI triggered) has been handled.
    controller.quiet("multiclusteringress", WAIT).await;
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
    controller.stop(WAIT).await;
}

/// The controller (multiclusteringress only) with the fake's `faults`, ready.
async fn start_with_faults(
    env: &Env,
    dir: &std::path::Path,
    state: &std::path::Path,
    faults: &str,
) -> ControllerProcess {
    let config = format!("stateFile: {}\nfaults: {faults}", state.display());
    let mut controller = env.controller(
        ControllerOptions::new(dir)
            .cloud_config(&config)
            .arg("--controllers=multiclusteringress"),
    );
    controller.wait_ready(WAIT).await;
    controller
}

/// Two deployments serving two IngressClasses share the finalizer name: each handles only the
/// MCIs of its class, deletion included, so neither deletes the other's balancer or removes
/// the finalizer before the right provider has deleted its balancer.
#[tokio::test]
async fn a_second_deployment_leaves_the_deletion_of_another_class_alone() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (state_fake, state_other) = (dir.path().join("fake.json"), dir.path().join("other.json"));
    apply_two_classes(&env).await;
    env.apply(&MCI.replace("minimal-ingress", "ours"), "default")
        .await;
    // The fake class's provider is slow to delete: without the class check, the other
    // deployment would delete first (nothing, in its cloud) and remove the finalizer.
    let mut fake = env.controller(
        ControllerOptions::new(dir.path())
            .cloud_config(&format!(
                "stateFile: {}\nfaults: [{{method: mci_ensure_deleted, action: hang, hangMs: 2000}}]",
                state_fake.display()
            ))
            .arg("--controllers=multiclusteringress")
            .arg("--leader-elect=false"),
    );
    let mut other = ControllerProcess::start_with_provider(
        env.kubeconfig(),
        ControllerOptions::new(dir.path())
            .cloud_config(&format!("stateFile: {}", state_other.display()))
            .arg("--controllers=multiclusteringress")
            .arg("--leader-elect=false"),
        &[
            "--cloud-provider=fake".to_owned(),
            "--provider-dir".to_owned(),
            common::fake_dir().display().to_string(),
            "--provider-ingress-class=example.com/other".to_owned(),
        ],
    );
    fake.wait_ready(WAIT).await;
    other.wait_ready(WAIT).await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    wait_ip(&api, "ours", "1.2.3.4", "the fake class's balancer").await;
    wait_ip(&api, "theirs", "1.2.3.4", "the other class's balancer").await;

    api.delete("ours", &DeleteParams::default()).await.unwrap();
    common::wait_gone(&api, "ours", WAIT).await;
    let fake_state_now = fake_state(&state_fake);
    assert_eq!(
        fake_state_now["deleted"],
        serde_json::json!(["mci/default/ours"]),
        "the fake class's balancer was not deleted (leaked):\n{fake_state_now}\n{}",
        fake.logs()
    );
    assert!(
        calls_for(&state_other, "default/ours").is_empty(),
        "the other deployment acted on an MCI of another class: {:?}",
        calls_for(&state_other, "default/ours")
    );

    api.delete("theirs", &DeleteParams::default())
        .await
        .unwrap();
    common::wait_gone(&api, "theirs", WAIT).await;
    // Proof that each deployment handled the other's deletion: an MCI cache sees changes in
    // the order they happened and queues requests in that order, so a request for the other's
    // MCI would have been queued before a request for a later change of its own class (for
    // `other`, the deletion of `theirs`; for `fake`, a new MCI). Once each has handled every
    // queued request, neither touched the other's MCI.
    env.apply(&MCI.replace("minimal-ingress", "later"), "default")
        .await;
    wait_ip(&api, "later", "1.2.3.4", "the fake class's later MCI").await;
    fake.quiet("multiclusteringress", WAIT).await;
    other.quiet("multiclusteringress", WAIT).await;
    assert_eq!(
        fake_state(&state_other)["deleted"],
        serde_json::json!(["mci/default/theirs"])
    );
    assert!(calls_for(&state_fake, "default/theirs").is_empty());
    assert!(calls_for(&state_other, "default/ours").is_empty());
    fake.stop(WAIT).await;
    other.stop(WAIT).await;
}

/// The Event of `reason` on MCI `default/<name>`, once recorded.
async fn mci_event(env: &Env, name: &str, reason: &str) -> Option<Event> {
    let events: Api<Event> = Api::namespaced(env.client.clone(), "default");
    let list = events.list(&ListParams::default()).await.ok()?;
    list.items.into_iter().find(|e| {
        e.regarding.as_ref().is_some_and(|r| {
            r.kind.as_deref() == Some("MultiClusterIngress") && r.name.as_deref() == Some(name)
        }) && e.reason.as_deref() == Some(reason)
    })
}

/// A deletion whose IngressClass goes meanwhile (a `kubectl delete -f` of a whole directory) is
/// not dropped: while the class is missing the controller deletes nothing and keeps retrying,
/// saying why on the MCI; when the class is back, the balancer is deleted and the MCI goes.
#[tokio::test]
async fn a_deletion_waits_for_its_ingress_class_to_come_back() {
    let (env, dir) = (Env::start().await, tempfile::tempdir().unwrap());
    let state = dir.path().join("fake-cloud.db");
    env.apply(common::INGRESS_CLASS, "default").await;
    env.apply(MCI, "default").await;
    // The first `ensure_deleted` takes 5 s, then fails; the class is deleted in between.
    let mut controller = start_with_faults(
        &env,
        dir.path(),
        &state,
        "[{method: mci_ensure_deleted, action: hang, hangMs: 5000, times: 1}, \
         {method: mci_ensure_deleted, action: fail, times: 1, message: cloud busy}]",
    )
    .await;
    let api: Api<MultiClusterIngress> = Api::namespaced(env.client.clone(), "default");
    wait_ip(&api, "minimal-ingress", "1.2.3.4", "the balancer").await;

    api.delete("minimal-ingress", &DeleteParams::default())
        .await
        .unwrap();
    // Recorded just before the provider call, which then hangs.
    eventually(WAIT, "the deletion of the balancer to start", || {
        mci_event(&env, "minimal-ingress", "DeletingLoadBalancer")
    })
    .await;
    let classes: Api<IngressClass> = Api::all(env.client.clone());
    classes
        .delete("fake", &DeleteParams::default())
        .await
        .unwrap();

    // The failed call is retried with backoff, each retry failing for want of the class.
    let missing_class = || {
        controller.metric_sum(
            "multicluster_provider_reconcile_errors_total",
            &[("controller", "multiclusteringress"), ("error", "invalid")],
        )
    };
    eventually(
        WAIT,
        "three retries failing for want of the class",
        || async { (missing_class() >= 3.0).then_some(()) },
    )
    .await;
    let warning = eventually(WAIT, "the Warning on the MCI", || {
        mci_event(&env, "minimal-ingress", "IngressClassNotFound")
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    let note = warning.note.unwrap_or_default();
    assert!(
        note.starts_with("no IngressClass is marked default")
            && note.contains("karmada.io/multi-cluster-ingress-controller"),
        "{note}"
    );
    let terminating = api.get("minimal-ingress").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.metadata.finalizers.unwrap_or_default(),
        ["karmada.io/multi-cluster-ingress-controller"]
    );
    let s = fake_state(&state);
    assert!(
        s["balancers"]
            .as_object()
            .unwrap()
            .contains_key("mci/default/minimal-ingress"),
        "the balancer went while its class was missing: {s}"
    );
    assert_eq!(s["deleted"], serde_json::json!([]), "{s}");

    // The class is back: its watch re-triggers the deletion (a queued request; the backoff's
    // retries are not counted there).
    let queued = controller.queued("multiclusteringress");
    env.apply(common::INGRESS_CLASS, "default").await;
    common::wait_gone(&api, "minimal-ingress", WAIT).await;
    assert!(
        controller.queued("multiclusteringress") > queued,
        "the IngressClass's return did not re-trigger the MCI"
    );
    let s = fake_state(&state);
    assert_eq!(s["balancers"], serde_json::json!({}), "{s}");
    assert_eq!(
        s["deleted"],
        serde_json::json!(["mci/default/minimal-ingress"])
    );
    controller.stop(WAIT).await;
}
