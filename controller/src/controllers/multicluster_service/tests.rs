use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
use mcp_interface::api::networking::MultiClusterService;

use super::mappers::Mappers;
use super::{FINALIZER, is_ours};
use crate::cache::{CachedService, Change};
use crate::controllers::balancer;
use crate::controllers::fixtures::{deleting, endpoint_slice, names, object, store};

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
        Some(&lb(&["1.2.3.4"])),
        Some(&lb(&["1.2.3.4"]))
    ));
    assert!(!same_status(
        Some(&lb(&["1.2.3.4"])),
        Some(&lb(&["1.2.3.5"]))
    ));
    assert!(!same_status(None, Some(&lb(&["1.2.3.4"]))));
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

/// MCSs `ns/web` (LoadBalancer) and `ns/cross` (CrossCluster only, no finalizer).
fn mappers() -> Mappers {
    Mappers::new(store([
        mcs("metadata: {name: web, namespace: ns}\nspec: {types: [LoadBalancer]}"),
        mcs("metadata: {name: cross, namespace: ns}\nspec: {types: [CrossCluster]}"),
    ]))
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
