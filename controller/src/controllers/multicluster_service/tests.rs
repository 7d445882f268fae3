use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use mcp_interface::api::networking::MultiClusterService;
use mcp_provider_fake::{ENSURED_IP, UPDATED_IP};
use serde_json::{Value, json};

use super::mappers::Mappers;
use super::reconcile::reconcile;
use super::{FINALIZER, is_ours};
use crate::cache::{CachedService, Change};
use crate::context::Caches;
use crate::controllers::balancer;
use crate::controllers::fixtures::{
    cache, cluster, deleting, endpoint_slice, names, object, service_binding, store,
};
use crate::controllers::testing::{Cloud, Harness, Sent, first_writes, load_balancer};

fn mcs(yaml: &str) -> MultiClusterService {
    serde_yaml::from_str(yaml).unwrap()
}

fn lb(ips: &[&str]) -> LoadBalancerStatus {
    LoadBalancerStatus {
        ingress: Some(
            ips.iter()
                .map(|ip| LoadBalancerIngress {
                    ip: Some((*ip).to_owned()),
                    ..Default::default()
                })
                .collect(),
        ),
    }
}

/// The Go MCS update predicate, as the MCS mapper applies it to an update.
fn spec_changed(old: &MultiClusterService, new: &MultiClusterService) -> bool {
    Change::updated(old, new).spec_annotations_or_deletion_changed(|m| &m.spec)
}

#[test]
fn ours_means_load_balancer_type_or_our_finalizer() {
    assert!(is_ours(&mcs(
        "metadata: {name: a}\nspec: {types: [LoadBalancer]}"
    )));
    assert!(!is_ours(&mcs(
        "metadata: {name: a}\nspec: {types: [CrossCluster]}"
    )));
    assert!(is_ours(&mcs(&format!(
        "metadata: {{name: a, finalizers: [{FINALIZER}]}}\nspec: {{types: [CrossCluster]}}"
    ))));
}

#[test]
fn statuses_compare_as_stored() {
    let same_status = balancer::same_status::<MultiClusterService>;
    assert!(same_status(None, Some(&LoadBalancerStatus::default())));
    assert!(same_status(Some(&lb(&[])), None));
    assert!(same_status(
        Some(&lb(&[ENSURED_IP])),
        Some(&lb(&[ENSURED_IP]))
    ));
    assert!(!same_status(
        Some(&lb(&[ENSURED_IP])),
        Some(&lb(&[UPDATED_IP]))
    ));
    assert!(!same_status(None, Some(&lb(&[ENSURED_IP]))));
}

#[test]
fn only_spec_annotations_and_deletion_are_changes() {
    let old = mcs("metadata: {name: a, resourceVersion: '1'}\nspec: {types: [LoadBalancer]}");
    let mut new = old.clone();
    new.metadata.resource_version = Some("2".into());
    new.status = Some(Default::default());
    assert!(!spec_changed(&old, &new));
    new.metadata.annotations = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(spec_changed(&old, &new));
    let mut types = old.clone();
    types.spec.types = vec!["CrossCluster".into()];
    assert!(spec_changed(&old, &types));
}

// ---------------------------------------------------------------------------------------------
// Mappers: which MCSs each watched change re-triggers.
// ---------------------------------------------------------------------------------------------

/// MCSs `ns/web` (LoadBalancer, its Service on member1 and member2) and `ns/cross`
/// (CrossCluster only, no finalizer, its Service on member1).
fn mappers() -> Mappers {
    let bindings = cache([
        service_binding("ns", "web", &["member1", "member2"], &[]),
        service_binding("ns", "cross", &["member1"], &[]),
    ]);
    Mappers::new(
        store([
            mcs("metadata: {name: web, namespace: ns}\nspec: {types: [LoadBalancer]}"),
            mcs("metadata: {name: cross, namespace: ns}\nspec: {types: [CrossCluster]}"),
        ]),
        &bindings,
    )
}

#[test]
fn an_mcs_triggers_itself_when_it_was_or_is_ours_and_its_spec_changed() {
    let m = mappers();
    let lb = mcs(
        "metadata: {name: a, namespace: ns, resourceVersion: '1'}\nspec: {types: [LoadBalancer]}",
    );
    let cross = mcs(
        "metadata: {name: a, namespace: ns, resourceVersion: '2'}\nspec: {types: [CrossCluster]}",
    );
    assert_eq!(names(m.mcs(&Change::created(&lb))), ["ns/a"]);
    assert!(m.mcs(&Change::created(&cross)).is_none());
    assert!(m.mcs(&Change::Deleted(&lb)).is_none());
    // LoadBalancer leaving the types: the balancer must go.
    let left = Change::updated(&lb, &cross);
    assert_eq!(names(m.mcs(&left)), ["ns/a"]);
    let mut status_only = lb.clone();
    status_only.status = Some(Default::default());
    let update = Change::updated(&lb, &status_only);
    assert!(m.mcs(&update).is_none());
    let being_deleted = deleting(lb.clone());
    let update = Change::updated(&lb, &being_deleted);
    assert_eq!(names(m.mcs(&update)), ["ns/a"]);
}

#[test]
fn a_service_or_its_endpoint_slices_trigger_the_mcs_of_its_name_when_ours() {
    let m = mappers();
    let web: CachedService = object("metadata: {name: web, namespace: ns}");
    let cross: CachedService = object("metadata: {name: cross, namespace: ns}");
    let other: CachedService = object("metadata: {name: web, namespace: other}");
    assert_eq!(names(m.service(&Change::created(&web))), ["ns/web"]);
    assert!(m.service(&Change::created(&cross)).is_none());
    assert!(m.service(&Change::created(&other)).is_none());
    let unchanged = Change::updated(&web, &web);
    assert!(m.service(&unchanged).is_none());

    let slice = endpoint_slice("ns", "web-1", "web");
    assert_eq!(
        names(m.endpoint_slice(&Change::created(&slice))),
        ["ns/web"]
    );
}

#[test]
fn a_binding_triggers_the_mcs_of_its_service_when_placement_or_member_balancers_change() {
    let m = mappers();
    let web = service_binding("ns", "web", &["member1"], &[]);
    assert_eq!(names(m.binding(&Change::created(&web))), ["ns/web"]);
    let moved = service_binding("ns", "web", &["member2"], &[]);
    assert_eq!(names(m.binding(&Change::updated(&web, &moved))), ["ns/web"]);
    let balanced = service_binding("ns", "web", &["member1"], &[("member1", "10.1.0.1")]);
    assert_eq!(
        names(m.binding(&Change::updated(&web, &balanced))),
        ["ns/web"]
    );
    // Health or conditions only: no change of the view.
    let mut healthier = balanced.clone();
    let status = healthier.status.as_mut().unwrap();
    status.aggregated_status.as_mut().unwrap()[0].health = Some("Unhealthy".into());
    assert!(
        m.binding(&Change::updated(&balanced, &healthier))
            .is_empty()
    );
    // Not ours.
    let cross = service_binding("ns", "cross", &["member1"], &[]);
    assert!(m.binding(&Change::created(&cross)).is_empty());
}

#[test]
fn a_cluster_triggers_our_mcss_placed_on_it_when_readiness_or_traffic_control_change() {
    let m = mappers();
    let ready = cluster("member1", true, false);
    let lost = cluster("member1", false, false);
    assert_eq!(
        names(m.cluster(&Change::updated(&ready, &lost))),
        ["ns/web"]
    );
    let blocked = cluster("member1", true, true);
    assert_eq!(
        names(m.cluster(&Change::updated(&ready, &blocked))),
        ["ns/web"]
    );
    let mut heartbeat = ready.clone();
    heartbeat.spec.region = Some("eu".into());
    assert!(m.cluster(&Change::updated(&ready, &heartbeat)).is_empty());
    // No Service placed there.
    let empty = cluster("member3", true, false);
    assert!(m.cluster(&Change::Deleted(&empty)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Reconcile, against a mocked API server and the fake provider in memory (controllers::testing).
// ---------------------------------------------------------------------------------------------

const GET: &str = "multiclusterservice_get";
const ENSURE: &str = "multiclusterservice_ensure";
const UPDATE: &str = "multiclusterservice_update";
const ENSURE_DELETED: &str = "multiclusterservice_ensure_deleted";

/// MCS `ns/web` of type LoadBalancer at resourceVersion 1, with a condition as Karmada writes it
/// (never ours to touch).
fn web() -> MultiClusterService {
    mcs(r#"
metadata: {name: web, namespace: ns, resourceVersion: '1'}
spec: {types: [LoadBalancer], ports: [{port: 80}]}
status:
  conditions:
  - {type: ServiceApplied, status: 'True', reason: ServiceAppliedSuccess, message: applied, lastTransitionTime: '2026-01-02T03:04:05Z'}
"#)
}

/// MCS `web` of type CrossCluster only, with `finalizers`.
fn cross(finalizers: &[&str]) -> MultiClusterService {
    let mut mcs = web();
    mcs.spec.types = vec!["CrossCluster".into()];
    mcs.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    mcs
}

fn harness(mcs: &MultiClusterService, cloud: &str) -> Harness {
    Harness::new(mcs, Cloud::fake(cloud), Caches::default())
}

/// MCS `web` reconciled once (its balancer made), with `cloud`: the harness, its records emptied,
/// and the MCS as the API server then holds it.
async fn created(cloud: &str) -> (Harness, MultiClusterService) {
    let mut h = harness(&web(), cloud);
    let mcs = h.reconciled(reconcile, &[GET, ENSURE]).await;
    (h, mcs)
}

fn status_patch(load_balancer: Value) -> Sent {
    Sent::status(json!({ "loadBalancer": load_balancer }))
}

fn conditions(mcs: &MultiClusterService) -> Value {
    serde_json::to_value(mcs.status.as_ref().and_then(|s| s.conditions.clone())).unwrap()
}

/// The one Event, a Warning of reason `MCSLoadBalance`: its message.
fn warning(h: &mut Harness) -> String {
    let events = h.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let message = events[0].strip_prefix("Warning MCSLoadBalance: ");
    message.unwrap_or_else(|| panic!("{events:?}")).to_owned()
}

#[tokio::test]
async fn creation_adds_the_finalizer_ensures_the_balancer_and_writes_its_status_alone() {
    let mut h = harness(&web(), "");
    assert_eq!(
        h.run(reconcile, web()).await.unwrap(),
        Action::await_change()
    );
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert_eq!(h.api.take(), first_writes(FINALIZER));
    assert_eq!(h.events(), Vec::<String>::new());
    assert_eq!(
        h.cloud.mcs_balancer(&web()).await,
        Some(load_balancer(ENSURED_IP))
    );
    let stored: MultiClusterService = h.api.object();
    assert_eq!(stored.finalizers(), [FINALIZER]);
    assert_eq!(conditions(&stored), conditions(&web()));
}

/// Also the adoption of an MCS the Go controller wrote: its finalizer is not added again.
#[tokio::test]
async fn an_existing_balancer_is_updated_and_a_status_written_only_when_it_changed() {
    let (h, mcs) = created("").await;
    h.run(reconcile, mcs).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(h.api.take(), [status_patch(load_balancer(UPDATED_IP))]);

    // The same answer again: the update is made, nothing is written.
    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, UPDATE]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
}

/// As the Go original: while its types hold LoadBalancer, a deleted MCS's balancer is deleted
/// without asking `get` (a provider whose `get` lags behind its creates must not leak it).
#[tokio::test]
async fn deletion_deletes_the_balancer_without_asking_then_removes_the_finalizer() {
    // The second cloud's `get` says there is no balancer although there is one.
    for cloud in ["", "faults: [{method: mcs_get, action: absent}]"] {
        let (h, _) = created(cloud).await;
        let mcs = h.api.delete::<MultiClusterService>();
        h.run(reconcile, mcs.clone()).await.unwrap();
        assert_eq!(h.cloud.take(), [ENSURE_DELETED], "{cloud}");
        let version = mcs.resource_version().unwrap();
        assert_eq!(h.api.take(), [Sent::finalizers(&version, &[])]);
        if cloud.is_empty() {
            assert_eq!(h.cloud.mcs_balancer(&mcs).await, None);
        }
    }
}

/// LoadBalancer dropped from the types: `get` first, the balancer deleted, the status cleared
/// (Karmada's conditions kept) and the finalizer removed, in one pass: the finalizer write
/// carries the resourceVersion the status write returned.
#[tokio::test]
async fn dropping_the_load_balancer_type_deletes_the_balancer_and_clears_the_status() {
    let (h, _) = created("").await;
    let mcs = h
        .api
        .edit(|m: &mut MultiClusterService| m.spec.types = vec!["CrossCluster".into()]);
    h.run(reconcile, mcs.clone()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, ENSURE_DELETED]);
    let written = mcs.resource_version().unwrap().parse::<u64>().unwrap() + 1;
    assert_eq!(
        h.api.take(),
        [
            status_patch(Value::Null),
            Sent::finalizers(&written.to_string(), &[]),
        ]
    );
    let stored: MultiClusterService = h.api.object();
    assert!(stored.finalizers().is_empty());
    assert_eq!(stored.status.as_ref().unwrap().load_balancer, None);
    assert_eq!(conditions(&stored), conditions(&web()));
    assert_eq!(h.cloud.mcs_balancer(&mcs).await, None);

    // With our finalizer but no balancer (nor status): asked, nothing deleted, finalizer gone.
    let h = harness(&cross(&[FINALIZER]), "");
    h.run(reconcile, cross(&[FINALIZER])).await.unwrap();
    assert_eq!(h.cloud.take(), [GET]);
    assert_eq!(h.api.take(), [Sent::finalizers("1", &[])]);

    // Neither LoadBalancer nor our finalizer: not ours.
    let h = harness(&cross(&[]), "");
    let done = h.run(reconcile, cross(&[])).await.unwrap();
    assert_eq!(done, Action::await_change());
    assert_eq!((h.cloud.take(), h.api.take()), (vec![], vec![]));
}

/// A failure is a Warning and an error, with no status written; the retry converges.
#[tokio::test]
async fn a_failed_call_is_a_warning_and_an_error_and_the_retry_converges() {
    let fault = "faults: [{method: mcs_ensure, action: fail, times: 1, message: quota exceeded}]";
    let mut h = harness(&web(), fault);
    let error = h.run(reconcile, web()).await.unwrap_err();
    assert!(error.to_string().contains("quota exceeded"), "{error}");
    assert_eq!(
        h.cloud.take(),
        [GET.to_owned(), format!("{ENSURE}: retryable")]
    );
    assert_eq!(h.api.take(), [Sent::finalizers("1", &[FINALIZER])]);
    let message = warning(&mut h);
    assert!(
        message.starts_with("EnsureLoadBalancer failed") && message.ends_with("quota exceeded"),
        "{message}"
    );

    h.run(reconcile, h.api.object()).await.unwrap();
    assert_eq!(h.cloud.take(), [GET, ENSURE]);
    assert_eq!(h.api.take(), [status_patch(load_balancer(ENSURED_IP))]);
}

#[tokio::test]
async fn a_failed_deletion_keeps_the_finalizer_and_the_balancer() {
    let faults = "faults: [{method: mcs_ensure_deleted, action: fail, message: cloud unavailable}]";
    let (mut h, _) = created(faults).await;
    let mcs = h.api.delete::<MultiClusterService>();
    h.run(reconcile, mcs.clone()).await.unwrap_err();
    assert_eq!(h.cloud.take(), [format!("{ENSURE_DELETED}: retryable")]);
    assert_eq!(h.api.take(), Vec::<Sent>::new());
    assert!(warning(&mut h).starts_with("DeleteLoadBalancer failed"));
    assert!(h.cloud.mcs_balancer(&mcs).await.is_some());
}

#[tokio::test]
async fn a_panic_in_the_provider_is_a_failed_call() {
    let (mut h, mcs) = created("faults: [{method: mcs_update, action: panic}]").await;
    h.run(reconcile, mcs).await.unwrap_err();
    assert_eq!(
        h.cloud.take(),
        [GET.to_owned(), format!("{UPDATE}: panicked")]
    );
    assert_eq!(h.api.take(), Vec::<Sent>::new());
    assert!(warning(&mut h).contains("panicked"));
}
