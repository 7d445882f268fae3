use mcp_interface::api::networking::{MultiClusterIngress, ServiceLocation};
use mcp_interface::api::work::ResourceBinding;
use serde_json::json;

use super::mappers::Mappers;
use super::reconcile::{same_locations, service_locations};
use crate::cache::{Change, SharedCache};
use crate::controllers::fixtures::{MCI, cache, names, object};

fn bindings(yaml: &[&str]) -> SharedCache<ResourceBinding> {
    cache(yaml.iter().map(|doc| object::<ResourceBinding>(doc)))
}

fn mci(yaml: &str) -> MultiClusterIngress {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn locations_are_sorted_unions_and_skip_unbound_services() {
    let store = bindings(&[
        r#"
metadata: {name: serve-service, namespace: ns}
spec:
  resource: {apiVersion: v1, kind: Service, name: serve, namespace: ns}
  clusters: [{name: member2}, {name: member1}]
  requiredBy: [{name: x, namespace: ns, clusters: [{name: member3}, {name: member1}]}]
"#,
        // Found through spec.resource although not named <svc>-service.
        r#"
metadata: {name: custom-binding, namespace: ns}
spec:
  resource: {apiVersion: v1, kind: Service, name: fallback, namespace: ns}
"#,
        // Another namespace: not ours.
        r#"
metadata: {name: api-service, namespace: other}
spec:
  resource: {apiVersion: v1, kind: Service, name: api, namespace: other}
  clusters: [{name: member1}]
"#,
    ]);
    let locations = service_locations(&mci(MCI), &store);
    assert_eq!(
        serde_json::to_value(&locations).unwrap(),
        json!([
            {"name": "fallback"},
            {"name": "serve", "clusters": ["member1", "member2", "member3"]},
        ])
    );
}

#[test]
fn empty_and_missing_cluster_lists_compare_equal() {
    let desired = vec![ServiceLocation {
        name: "a".into(),
        clusters: None,
    }];
    let stored = vec![ServiceLocation {
        name: "a".into(),
        clusters: Some(vec![]),
    }];
    assert!(same_locations(Some(&stored), &desired));
    assert!(same_locations(None, &[]));
    assert!(same_locations(Some(&vec![]), &[]));
    assert!(!same_locations(None, &desired));
}

// ---------------------------------------------------------------------------------------------
// Mappers: which MCIs each watched change re-triggers.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_mci_triggers_itself_when_created_or_its_services_or_locations_change() {
    let m = Mappers::new(&cache(Vec::<MultiClusterIngress>::new()));
    let web = mci(MCI);
    let created = Change::created(&web);
    assert_eq!(names(m.mci(&created)), ["ns/web"]);
    assert!(m.mci(&Change::Deleted(&web)).is_none());
    let update = |new| Change::updated(&web, new);
    let mut annotated = web.clone();
    annotated.metadata.annotations = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(m.mci(&update(&annotated)).is_none());
    let mut fewer = web.clone();
    fewer.spec.as_mut().unwrap().default_backend = None;
    assert_eq!(names(m.mci(&update(&fewer))), ["ns/web"]);
    let mut drifted = web.clone();
    drifted.status = Some(object("serviceLocations: [{name: serve, clusters: [x]}]"));
    assert_eq!(names(m.mci(&update(&drifted))), ["ns/web"]);
}

#[test]
fn a_binding_triggers_the_mcis_that_reference_its_service() {
    let other = mci(
        "metadata: {name: other, namespace: ns}\nspec: {defaultBackend: {service: {name: other, port: {number: 80}}}}",
    );
    let mut elsewhere = mci(MCI);
    elsewhere.metadata.namespace = Some("elsewhere".into());
    let m = Mappers::new(&cache([mci(MCI), other, elsewhere]));
    let rb: ResourceBinding = object(
        "metadata: {name: serve-service, namespace: ns}\nspec:\n  resource: {apiVersion: v1, kind: Service, name: serve, namespace: ns}\n  clusters: [{name: member1}]",
    );
    let created = Change::created(&rb);
    assert_eq!(names(m.binding(&created)), ["ns/web"]);
    assert_eq!(names(m.binding(&Change::Deleted(&rb))), ["ns/web"]);
    let unchanged = Change::updated(&rb, &rb);
    assert!(m.binding(&unchanged).is_empty());
}
