use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{PropagationPolicy, ResourceSelector};
use mcp_interface::api::work::ResourceBinding;
use serde_json::json;

use super::keys::Keys;
use super::mappers::{Mappers, existing};
use super::owned::{desired_selector, policy_patch, selectors_match};
use crate::cache::{CachedService, Change};
use crate::controllers::fixtures::{MCI, deleting, names, object, store};
use crate::key::ObjectKey;

fn service(uid: &str) -> CachedService {
    serde_json::from_value(json!({
        "metadata": {"name": "serve", "namespace": "ns", "uid": uid}
    }))
    .unwrap()
}

fn policy(value: serde_json::Value) -> PropagationPolicy {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_policy_with_server_defaults_needs_no_patch() {
    let pp = policy(json!({
        "metadata": {
            "name": "propagate-service-serve", "namespace": "ns", "resourceVersion": "7",
            "labels": {"propagationpolicy.karmada.io/permanent-id": "x"},
            "finalizers": ["karmada.io/propagation-policy-controller"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "serve",
                "uid": "u1", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceExport", "name": "serve", "namespace": "ns"}],
            "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}},
            "conflictResolution": "Abort", "preemption": "Never", "priority": 0,
            "schedulerName": "default-scheduler"
        }
    }));
    let clusters = ["member1".to_owned(), "member2".to_owned()];
    assert_eq!(policy_patch(&pp, &service("u1"), &clusters), None);
}

#[test]
fn a_policy_patch_touches_only_wrong_owned_fields() {
    let pp = policy(json!({
        "metadata": {
            "name": "propagate-service-serve", "namespace": "ns", "resourceVersion": "7",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Service", "name": "serve", "uid": "old",
                 "controller": true, "blockOwnerDeletion": true},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "c"}
            ]
        },
        "spec": {
            "resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceExport", "name": "serve"}],
            "placement": {"clusterAffinity": {"clusterNames": ["member1"]}}
        }
    }));
    let clusters = ["member1".to_owned(), "member2".to_owned()];
    let patch = policy_patch(&pp, &service("new"), &clusters).unwrap();
    assert_eq!(
        patch,
        json!({
            "metadata": {
                "resourceVersion": "7",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "c"},
                    {"apiVersion": "v1", "kind": "Service", "name": "serve", "uid": "new",
                     "controller": true, "blockOwnerDeletion": true}
                ]
            },
            "spec": {"placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}}}
        })
    );
}

#[test]
fn selectors_must_name_only_the_export() {
    let good = desired_selector("serve");
    assert!(selectors_match(std::slice::from_ref(&good), "ns", "serve"));
    let other_ns = ResourceSelector {
        namespace: Some("elsewhere".into()),
        ..good.clone()
    };
    assert!(!selectors_match(&[other_ns], "ns", "serve"));
    assert!(!selectors_match(
        &[good.clone(), good.clone()],
        "ns",
        "serve"
    ));
    assert!(!selectors_match(&[], "ns", "serve"));
    assert!(!selectors_match(&[good], "ns", "other"));
}

#[test]
fn keys_are_forgotten_only_when_not_asked_for_again() {
    let (keys, store, _triggers) = Keys::new();
    let key = ObjectRef::<CachedService>::new("serve").within("ns");
    let serve = ObjectKey::from(&key);
    keys.request(serve.clone());
    assert!(store.get(&key).is_some());
    let seen = keys.generation(&serve);
    keys.request(serve.clone());
    keys.forget(&serve, seen);
    assert!(store.get(&key).is_some(), "a newer request keeps the key");
    let seen = keys.generation(&serve);
    keys.forget(&serve, seen);
    assert!(store.get(&key).is_none());
    assert_eq!(keys.generation(&serve), None);
}

// ---------------------------------------------------------------------------------------------
// Mappers: which Service keys each watched change re-triggers.
// ---------------------------------------------------------------------------------------------

/// Mappers over no bindings (what every mapper but the Cluster's reads).
fn mappers() -> Mappers {
    Mappers {
        bindings: store(Vec::<ResourceBinding>::new()),
    }
}

fn cluster(name: &str, service_export_api: bool) -> Cluster {
    let mut resources = vec![json!({"name": "serviceimports", "kind": "ServiceImport"})];
    if service_export_api {
        resources.push(json!({"name": "serviceexports", "kind": "ServiceExport"}));
    }
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"syncMode": "Push"},
        "status": {"apiEnablements": [
            {"groupVersion": "v1", "resources": [{"name": "services", "kind": "Service"}]},
            {"groupVersion": "multicluster.x-k8s.io/v1alpha1", "resources": resources},
        ]},
    }))
    .unwrap()
}

#[test]
fn a_cluster_triggers_the_services_placed_on_it_when_it_gains_or_loses_the_export_api() {
    let binding = |name: &str, service: &str, clusters: &[&str]| -> ResourceBinding {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {
                "resource": {"apiVersion": "v1", "kind": "Service", "name": service, "namespace": "ns"},
                "clusters": clusters.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    };
    let deployment: ResourceBinding = serde_json::from_value(json!({
        "metadata": {"name": "web-deployment", "namespace": "ns"},
        "spec": {"resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "clusters": [{"name": "member1"}]},
    }))
    .unwrap();
    let mappers = Mappers {
        bindings: store([
            binding("web-service", "web", &["member1", "member2"]),
            binding("api-service", "api", &["member2"]),
            deployment,
        ]),
    };
    let without = cluster("member1", false);
    let with = cluster("member1", true);
    assert_eq!(
        names(mappers.cluster(&Change::updated(&without, &with))),
        ["ns/web"],
        "gaining the API: only the Services placed on member1"
    );
    assert_eq!(
        names(mappers.cluster(&Change::updated(&with, &without))),
        ["ns/web"]
    );
    assert_eq!(names(mappers.cluster(&Change::created(&with))), ["ns/web"]);
    assert_eq!(names(mappers.cluster(&Change::Deleted(&with))), ["ns/web"]);
    let mut ready = with.clone();
    ready.metadata.resource_version = Some("2".into());
    assert!(
        mappers.cluster(&Change::updated(&with, &ready)).is_empty(),
        "other status updates (every few seconds) trigger nothing"
    );
    let member2 = cluster("member2", true);
    assert_eq!(
        names(mappers.cluster(&Change::created(&member2))),
        ["ns/api", "ns/web"]
    );
}

#[test]
fn a_cluster_serves_exports_once_its_status_lists_the_api() {
    assert!(super::owned::serves_service_exports(&cluster("m", true)));
    assert!(!super::owned::serves_service_exports(&cluster("m", false)));
    let fresh: Cluster =
        serde_json::from_value(json!({"metadata": {"name": "m"}, "spec": {"syncMode": "Push"}}))
            .unwrap();
    assert!(
        !super::owned::serves_service_exports(&fresh),
        "no status yet: not yet"
    );
}

#[test]
fn an_mci_triggers_the_services_it_starts_or_stops_referencing() {
    let all = ["ns/api", "ns/fallback", "ns/serve"];
    let mci: MultiClusterIngress = object(MCI);
    assert_eq!(names(mappers().mci(&Change::created(&mci))), all);
    assert_eq!(names(mappers().mci(&Change::Deleted(&mci))), all);
    let mut default_only = mci.clone();
    default_only.spec.as_mut().unwrap().rules = None;
    assert_eq!(
        names(mappers().mci(&Change::updated(&mci, &default_only))),
        ["ns/api", "ns/serve"]
    );
    let mut annotated = mci.clone();
    annotated.metadata.annotations = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(mappers().mci(&Change::updated(&mci, &annotated)).is_empty());
}

#[test]
fn an_mcs_triggers_its_service_when_load_balancer_comes_or_goes() {
    let lb: MultiClusterService =
        object("metadata: {name: web, namespace: ns}\nspec: {types: [LoadBalancer]}");
    let cross: MultiClusterService =
        object("metadata: {name: web, namespace: ns}\nspec: {types: [CrossCluster]}");
    assert_eq!(names(mappers().mcs(&Change::created(&cross))), ["ns/web"]);
    assert_eq!(names(mappers().mcs(&Change::Deleted(&lb))), ["ns/web"]);
    assert_eq!(
        names(mappers().mcs(&Change::updated(&lb, &cross))),
        ["ns/web"]
    );
    let mut more_ports = lb.clone();
    more_ports.spec.types.push("CrossCluster".into());
    assert!(mappers().mcs(&Change::updated(&lb, &more_ports)).is_none());
}

#[test]
fn a_service_triggers_itself_when_created_deleted_deleting_or_replaced() {
    let svc: CachedService =
        object("metadata: {name: web, namespace: ns, uid: u1}\nspec: {ports: [{port: 80}]}");
    assert_eq!(names(mappers().service(&Change::created(&svc))), ["ns/web"]);
    assert_eq!(names(mappers().service(&Change::Deleted(&svc))), ["ns/web"]);
    let mut respec = svc.clone();
    respec.spec_digest += 1;
    assert!(mappers().service(&Change::updated(&svc, &respec)).is_none());
    let mut replaced = svc.clone();
    replaced.metadata.uid = Some("u2".into());
    assert_eq!(
        names(mappers().service(&Change::updated(&svc, &replaced))),
        ["ns/web"]
    );
    let being_deleted = deleting(svc.clone());
    assert_eq!(
        names(mappers().service(&Change::updated(&svc, &being_deleted))),
        ["ns/web"]
    );
}

#[test]
fn a_binding_triggers_the_service_it_places() {
    let rb: ResourceBinding = object(
        "metadata: {name: web-service, namespace: ns}\nspec:\n  resource: {apiVersion: v1, kind: Service, name: web, namespace: ns}\n  clusters: [{name: member1}]",
    );
    assert_eq!(names(mappers().binding(&Change::created(&rb))), ["ns/web"]);
    assert!(mappers().binding(&Change::updated(&rb, &rb)).is_empty());
}

#[test]
fn exports_and_policies_trigger_their_service_when_owners_spec_or_deletion_change() {
    let export: ServiceExport = object("metadata: {name: web, namespace: ns}");
    assert_eq!(
        names(mappers().service_export(&Change::Deleted(&export))),
        ["ns/web"]
    );
    let mut labelled = export.clone();
    labelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(
        mappers()
            .service_export(&Change::updated(&export, &labelled))
            .is_none()
    );
    let mut owned = export.clone();
    owned.metadata.owner_references = Some(vec![Default::default()]);
    assert_eq!(
        names(mappers().service_export(&Change::updated(&export, &owned))),
        ["ns/web"]
    );

    let policy: PropagationPolicy = object(
        "metadata: {name: propagate-service-web, namespace: ns}\nspec: {resourceSelectors: []}",
    );
    let unrelated: PropagationPolicy =
        object("metadata: {name: mine, namespace: ns}\nspec: {resourceSelectors: []}");
    assert_eq!(
        names(mappers().policy(&Change::created(&policy))),
        ["ns/web"]
    );
    assert!(mappers().policy(&Change::created(&unrelated)).is_none());
    assert!(
        mappers()
            .policy(&Change::updated(&policy, &labelled_policy(&policy)))
            .is_none()
    );
    let mut respec = policy.clone();
    respec.spec.priority = Some(1);
    assert_eq!(
        names(mappers().policy(&Change::updated(&policy, &respec))),
        ["ns/web"]
    );
}

fn labelled_policy(policy: &PropagationPolicy) -> PropagationPolicy {
    let mut labelled = policy.clone();
    labelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
    labelled
}

#[test]
fn at_start_referenced_services_and_our_leftovers_are_reconciled() {
    let mcis = store([object::<MultiClusterIngress>(MCI)]);
    let mcss = store([
        object::<MultiClusterService>(
            "metadata: {name: lb, namespace: ns}\nspec: {types: [LoadBalancer]}",
        ),
        object::<MultiClusterService>(
            "metadata: {name: cross, namespace: ns}\nspec: {types: [CrossCluster]}",
        ),
    ]);
    let exports = store([
        object::<ServiceExport>(
            "metadata: {name: gone, namespace: ns, ownerReferences: [{apiVersion: v1, kind: Service, name: gone, uid: u, controller: true}]}",
        ),
        object::<ServiceExport>("metadata: {name: users, namespace: ns}"),
    ]);
    let policies = store([
        object::<PropagationPolicy>(
            "metadata: {name: propagate-service-old, namespace: ns}\nspec: {resourceSelectors: []}",
        ),
        object::<PropagationPolicy>(
            "metadata: {name: mine, namespace: ns}\nspec: {resourceSelectors: []}",
        ),
    ]);
    assert_eq!(
        names(existing(&mcis, &mcss, &exports, &policies)),
        [
            "ns/api",
            "ns/fallback",
            "ns/gone",
            "ns/lb",
            "ns/old",
            "ns/serve"
        ]
    );
}
