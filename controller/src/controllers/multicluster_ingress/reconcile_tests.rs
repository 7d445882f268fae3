//! The MCI reconcile, called as the controller calls it, against a mocked API server and the
//! fake provider in memory ([`crate::controllers::testing`]): what each case writes, which
//! provider calls it makes and which Events it records.

use std::time::Duration;

use k8s_openapi::api::networking::v1::IngressClass;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_provider_fake::{ENSURED_IP, UPDATED_IP};
use serde_json::json;

use super::FINALIZER;
use super::reconcile::reconcile;
use crate::context::Caches;
use crate::controllers::fixtures::{MCI, cache, deleting, object};
use crate::controllers::testing::{Cloud, Harness, Sent, first_writes, load_balancer};

const GET: &str = "multiclusteringress_get";
const ENSURE: &str = "multiclusteringress_ensure";
const UPDATE: &str = "multiclusteringress_update";
const ENSURE_DELETED: &str = "multiclusteringress_ensure_deleted";

/// IngressClass `fake`: ours (`karmada.io/fake`), the default.
const DEFAULT_CLASS: &str = include_str!("../../../../examples/ingressclass-fake.yaml");
const OTHER_CLASS: &str = "metadata: {name: other}\nspec: {controller: example.com/other}";

/// MCI `ns/web` of the default class, at resourceVersion 1.
fn web() -> MultiClusterIngress {
    let mut mci: MultiClusterIngress = object(MCI);
    mci.metadata.resource_version = Some("1".into());
    mci
}

fn caches(classes: &[&str], clusters: &[&str]) -> Caches {
    Caches::default()
        .with(cache(classes.iter().map(|c| object::<IngressClass>(c))))
        .with(cache(clusters.iter().map(|c| object::<Cluster>(c))))
}

/// `mci` on the API server; the fake's cloud-config `cloud`; the default class.
fn harness(mci: &MultiClusterIngress, cloud: &str) -> Harness {
    Harness::new(mci, Cloud::fake(cloud), caches(&[DEFAULT_CLASS], &[]))
}

/// MCI `web` reconciled once (its balancer made), with `cloud`: the harness, its records
/// emptied, and the MCI as the API server then holds it.
async fn created(cloud: &str) -> (Harness, MultiClusterIngress) {
    let mut h = harness(&web(), cloud);
    let mci = h.reconciled(reconcile, &[GET, ENSURE]).await;
    (h, mci)
}

/// The one Warning among `events`: its reason and message.
fn warning(events: &[String]) -> (&str, &str) {
    let warnings: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("Warning "))
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    let (reason, message) = warnings[0]["Warning ".len()..].split_once(": ").unwrap();
    (reason, message)
}

#[tokio::test]
async fn creation_adds_the_finalizer_ensures_the_balancer_and_writes_its_status() {
    let mut h = harness(&web(), "");
    let done = h.run(reconcile, web()).await.unwrap();
    let events = ["Normal EnsuringLoadBalancer", "Normal EnsuredLoadBalancer"];
    assert_eq!(h.events(), events);
    assert_eq!(h.api.take(), first_writes(FINALIZER));
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert_eq!(done, Action::await_change());
    let stored: MultiClusterIngress = h.api.object();
    assert_eq!(stored.finalizers(), [FINALIZER]);
    let balancer = h.cloud.mci_balancer(&stored).await;
    assert_eq!(balancer, Some(load_balancer(ENSURED_IP)));
}

/// Also the adoption of an MCI the Go controller wrote: its finalizer is not added again.
#[tokio::test]
async fn an_existing_balancer_is_updated_and_a_status_written_only_when_it_changed() {
    let (mut h, mci) = created("").await;
    h.run(reconcile, mci).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(
        h.api.take(),
        [Sent::status(
            json!({"loadBalancer": load_balancer(UPDATED_IP)})
        )]
    );
    assert_eq!(h.events(), ["Normal UpdatedLoadBalancer"]);

    // The same answer again: the update is made, nothing is written or said.
    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
    assert_eq!(h.events(), Vec::<String>::new());
}

#[tokio::test]
async fn deletion_deletes_the_balancer_then_removes_the_finalizer() {
    let (mut h, _) = created("").await;
    let mci = h.api.delete::<MultiClusterIngress>();
    h.run(reconcile, mci.clone()).await.unwrap();
    assert_eq!(h.cloud.take(), [ENSURE_DELETED]);
    let version = mci.resource_version().unwrap();
    assert_eq!(h.api.take(), [Sent::finalizers(&version, &[])]);
    assert_eq!(
        h.events(),
        ["Normal DeletingLoadBalancer", "Normal DeletedLoadBalancer"]
    );
    assert_eq!(h.cloud.mci_balancer(&mci).await, None);

    // Without the finalizer there is nothing left to do.
    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
}

/// Here `update` fails (the MCS tests fail `ensure`).
#[tokio::test]
async fn a_failed_call_is_a_warning_and_an_error_and_writes_no_status() {
    let fault = "faults: [{method: mci_update, action: fail, message: quota exceeded}]";
    let (mut h, mci) = created(fault).await;
    let error = h.run(reconcile, mci).await.unwrap_err();
    let events = h.events();
    let (reason, message) = warning(&events);
    assert_eq!(reason, "SyncLoadBalancerFailed");
    assert!(
        message.starts_with("UpdateLoadBalancer failed") && message.ends_with("quota exceeded"),
        "{message}"
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(error.to_string().contains("quota exceeded"), "{error}");
    let failed = format!("{UPDATE}: retryable");
    assert_eq!(h.cloud.take(), [GET, failed.as_str()]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
}

#[tokio::test]
async fn a_failed_deletion_keeps_the_finalizer_and_the_balancer() {
    let faults = "faults: [{method: mci_ensure_deleted, action: fail, message: cloud unavailable}]";
    let (mut h, _) = created(faults).await;
    let mci = h.api.delete::<MultiClusterIngress>();
    let error = h.run(reconcile, mci.clone()).await.unwrap_err();
    assert!(error.to_string().contains("cloud unavailable"), "{error}");
    assert_eq!(h.cloud.take(), [format!("{ENSURE_DELETED}: retryable")]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
    let events = h.events();
    assert_eq!(events[0], "Normal DeletingLoadBalancer");
    assert_eq!(warning(&events).0, "SyncLoadBalancerFailed");
    assert!(h.cloud.mci_balancer(&mci).await.is_some());
}

/// A panic in the provider and a call that outlives its timeout fail the reconcile as any
/// provider failure does, with what the loader says of them.
#[tokio::test]
async fn a_panic_or_a_timeout_in_the_provider_is_a_failed_call() {
    let mut h = harness(&web(), "faults: [{method: mci_get, action: panic}]");
    h.run(reconcile, web()).await.unwrap_err();
    assert_eq!(h.cloud.take(), [format!("{GET}: panicked")]);
    assert_eq!(h.api.take(), [Sent::finalizers("1", &[FINALIZER])]);
    let events = h.events();
    let (reason, message) = warning(&events);
    assert_eq!(reason, "SyncLoadBalancerFailed");
    assert!(message.contains("panicked"), "{message}");

    let hang = "faults: [{method: mci_ensure, action: hang, hangMs: 1000}]";
    let cloud = Cloud::fake(hang).with_call_timeout(Duration::from_millis(100));
    let mut h = Harness::new(&web(), cloud, caches(&[DEFAULT_CLASS], &[]));
    let error = h.run(reconcile, web()).await.unwrap_err();
    assert!(
        error.to_string().contains("did not return within"),
        "{error}"
    );
    assert_eq!(
        h.cloud.take(),
        [GET.to_owned(), format!("{ENSURE}: timeout")]
    );
    assert_eq!(h.api.take(), [Sent::finalizers("1", &[FINALIZER])]);
    assert_eq!(warning(&h.events()).0, "SyncLoadBalancerFailed");
}

/// A merge patch of `{}` would keep the stale addresses: `null` removes them.
#[tokio::test]
async fn an_answer_without_addresses_clears_the_status_once() {
    let (mut h, mci) = created("faults: [{method: mci_update, action: noaddress}]").await;
    h.run(reconcile, mci).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(h.api.take(), [Sent::status(json!({"loadBalancer": null}))]);
    assert_eq!(h.events(), ["Normal UpdatedLoadBalancer"]);
    let cleared: MultiClusterIngress = h.api.object();
    assert_eq!(cleared.status.unwrap().load_balancer, None);

    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
}

#[tokio::test]
async fn the_located_clusters_under_traffic_control_are_written_first() {
    let mut mci = web();
    mci.status = Some(object(
        "serviceLocations: [{name: serve, clusters: [member2, member1]}]",
    ));
    let cluster = |name: &str, remedy: &str| {
        format!(
            "metadata: {{name: {name}}}\nspec: {{syncMode: Push}}\nstatus: {{remedyActions: [{remedy}]}}"
        )
    };
    let clusters = [
        cluster("member1", ""),
        cluster("member2", "TrafficControl"),
        // Not a location of the MCI.
        cluster("member3", "TrafficControl"),
    ];
    let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();
    let mut h = Harness::new(&mci, Cloud::fake(""), caches(&[DEFAULT_CLASS], &clusters));
    h.run(reconcile, mci).await.unwrap();
    assert_eq!(
        h.api.take(),
        [
            Sent::finalizers("1", &[FINALIZER]),
            Sent::status(json!({"trafficBlockClusters": ["member2"]})),
            Sent::status(json!({"loadBalancer": load_balancer(ENSURED_IP)})),
        ]
    );
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert_eq!(h.events().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// IngressClasses: ours, theirs, unresolved.
// ---------------------------------------------------------------------------------------------

/// MCI `web` naming class `class`.
fn web_of_class(class: &str) -> MultiClusterIngress {
    let mut mci = web();
    mci.spec.as_mut().unwrap().ingress_class_name = Some(class.into());
    mci
}

#[tokio::test]
async fn an_mci_naming_our_class_is_served_and_one_naming_another_is_left_alone() {
    let ours = web_of_class("fake");
    let classes = [DEFAULT_CLASS, OTHER_CLASS];
    let h = Harness::new(&ours, Cloud::fake(""), caches(&classes, &[]));
    h.run(reconcile, ours).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert_eq!(h.api.take().len(), 2);

    // Another class's MCI, even carrying the finalizer every class's deployment uses and
    // being deleted: its balancer is not ours to delete.
    let mut theirs = deleting(web_of_class("other"));
    theirs.metadata.finalizers = Some(vec![FINALIZER.into()]);
    for mci in [web_of_class("other"), theirs] {
        let mut h = Harness::new(&mci, Cloud::fake(""), caches(&classes, &[]));
        assert_eq!(h.run(reconcile, mci).await.unwrap(), Action::await_change());
        assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
        assert_eq!(h.events(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn an_mci_whose_class_is_missing_is_left_alone_but_its_deletion_fails_with_a_warning() {
    let missing = web_of_class("gone");
    let mut h = harness(&missing, "");
    assert_eq!(
        h.run(reconcile, missing).await.unwrap(),
        Action::await_change()
    );
    assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
    assert_eq!(h.events(), Vec::<String>::new());

    // Being deleted with the finalizer, no class at all: whose balancer it is cannot be told.
    let mut deleted = deleting(web());
    deleted.metadata.finalizers = Some(vec![FINALIZER.into()]);
    let mut h = Harness::new(&deleted, Cloud::fake(""), caches(&[OTHER_CLASS], &[]));
    let error = h.run(reconcile, deleted).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no IngressClass is marked default"),
        "{error}"
    );
    assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
    let events = h.events();
    let (reason, message) = warning(&events);
    assert_eq!(reason, "IngressClassNotFound");
    assert!(message.contains(FINALIZER), "{message}");
}

#[tokio::test]
async fn several_default_classes_leave_an_mci_naming_none_alone_with_a_warning() {
    let second = DEFAULT_CLASS.replace("name: fake", "name: fake2");
    let mut h = Harness::new(
        &web(),
        Cloud::fake(""),
        caches(&[DEFAULT_CLASS, &second], &[]),
    );
    assert_eq!(
        h.run(reconcile, web()).await.unwrap(),
        Action::await_change()
    );
    assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
    let events = h.events();
    let (reason, message) = warning(&events);
    assert_eq!(reason, "InvalidIngressClass");
    assert!(
        message.starts_with("2 IngressClasses are marked default (fake, fake2)"),
        "{message}"
    );
}
