use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{IngressClass, IngressClassSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;

use super::mappers::Mappers;
use super::reconcile::{Class, class_of};
use super::{DEFAULT_CLASS_ANNOTATION, FINALIZER};
use crate::cache::{CachedService, Change};
use crate::controllers::fixtures::{
    cache, cluster, deleting, endpoint_slice, names, object, service_binding,
};

fn class(name: &str, controller: &str, default: bool) -> Arc<IngressClass> {
    let mut meta = ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    };
    if default {
        meta.annotations = Some([(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())].into());
    }
    Arc::new(IngressClass {
        metadata: meta,
        spec: Some(IngressClassSpec {
            controller: Some(controller.into()),
            parameters: None,
        }),
    })
}

fn mci(yaml: &str) -> MultiClusterIngress {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn class_by_name_or_single_default() {
    let named = mci("metadata: {name: a}\nspec: {ingressClassName: other}");
    let unnamed = mci("metadata: {name: a}\nspec: {}");
    let classes = vec![
        class("fake", "karmada.io/fake", true),
        class("other", "example.com/x", false),
    ];
    fn of(mci: &MultiClusterIngress, classes: &[Arc<IngressClass>], controller: &str) -> Class {
        class_of(mci, classes, controller).unwrap()
    }
    assert_eq!(of(&named, &classes, "karmada.io/fake"), Class::Theirs);
    assert_eq!(of(&named, &classes, "example.com/x"), Class::Ours);
    assert_eq!(of(&unnamed, &classes, "karmada.io/fake"), Class::Ours);
    assert_eq!(
        of(&unnamed, &classes[1..], "example.com/x"),
        Class::Unresolved(
            "no IngressClass is marked default and this MultiClusterIngress names none".into()
        )
    );
    assert_eq!(
        of(&named, &classes[..1], "karmada.io/fake"),
        Class::Unresolved("IngressClass other not found".into())
    );
    let two_defaults = vec![
        class("a", "karmada.io/fake", true),
        class("b", "karmada.io/fake", true),
    ];
    let err = class_of(&unnamed, &two_defaults, "karmada.io/fake").unwrap_err();
    assert!(
        err.to_string()
            .contains("2 IngressClasses are marked default"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mappers: which MCIs each watched change re-triggers.
// ---------------------------------------------------------------------------------------------

/// MCIs `ns/web` (ours, Service `web`, Secret `web-tls`, placed on member1), `ns/theirs` (class
/// `other`, same references), `ns/api` (ours, Service `api`, on member2) and `elsewhere/web`;
/// the binding of `ns/api` is scheduled on member2 and member3 (its locations are not written
/// yet), `ns/web` has none.
fn mappers() -> Mappers {
    let yaml = |namespace: &str, name: &str, class: &str, service: &str, cluster: &str| {
        format!(
            r#"
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  ingressClassName: {class}
  tls: [{{secretName: {service}-tls}}]
  rules:
  - http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}
status:
  serviceLocations: [{{name: {service}, clusters: [{cluster}]}}]
"#
        )
    };
    let mcis = cache([
        mci(&yaml("ns", "web", "fake", "web", "member1")),
        mci(&yaml("ns", "theirs", "other", "web", "member1")),
        mci(&yaml("ns", "api", "fake", "api", "member2")),
        mci(&yaml("elsewhere", "web", "fake", "web", "member1")),
    ]);
    let ours = |mci: &MultiClusterIngress| {
        mci.spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            == Some("fake")
    };
    let bindings = cache([service_binding("ns", "api", &["member2", "member3"], &[])]);
    Mappers::new(&mcis, &bindings, Arc::new(ours))
}

#[test]
fn an_mci_triggers_itself_when_ours_and_its_spec_changed() {
    let m = mappers();
    let ours = mci(
        "metadata: {name: a, namespace: ns, resourceVersion: '1'}\nspec: {ingressClassName: fake}",
    );
    let theirs = mci("metadata: {name: b, namespace: ns}\nspec: {ingressClassName: other}");
    let finalized = mci(&format!(
        "metadata: {{name: c, namespace: ns, finalizers: [{FINALIZER}]}}\nspec: {{ingressClassName: other}}"
    ));
    assert_eq!(names(m.mci(&Change::created(&ours))), ["ns/a"]);
    assert!(m.mci(&Change::created(&theirs)).is_none());
    // Our finalizer name is shared by every class's deployment: it does not make an MCI ours.
    assert!(m.mci(&Change::created(&finalized)).is_none());
    assert!(
        m.mci(&Change::updated(&finalized, &deleting(finalized.clone())))
            .is_none()
    );
    // Deletion needs nothing: with the finalizer, it was an update.
    assert!(m.mci(&Change::Deleted(&ours)).is_none());

    let mut status_only = ours.clone();
    status_only.metadata.resource_version = Some("2".into());
    status_only.status = Some(Default::default());
    let update = |new| Change::updated(&ours, new);
    assert!(m.mci(&update(&status_only)).is_none());
    let mut respec = ours.clone();
    respec.spec.as_mut().unwrap().default_backend = Some(Default::default());
    assert_eq!(names(m.mci(&update(&respec))), ["ns/a"]);
    let being_deleted = deleting(ours.clone());
    assert_eq!(names(m.mci(&update(&being_deleted))), ["ns/a"]);
}

#[test]
fn a_service_or_its_endpoint_slices_trigger_our_mcis_that_reference_it() {
    let m = mappers();
    let web: CachedService = object("metadata: {name: web, namespace: ns}");
    let created = Change::created(&web);
    assert_eq!(names(m.service(&created)), ["ns/web"]);
    let unchanged = Change::updated(&web, &web);
    assert!(m.service(&unchanged).is_empty());

    let slice = endpoint_slice("ns", "x", "derived-web");
    let slice_gone = Change::Deleted(&slice);
    assert_eq!(names(m.endpoint_slice(&slice_gone)), ["ns/web"]);
}

#[test]
fn a_secret_triggers_our_mcis_that_use_it_for_tls() {
    let m = mappers();
    let secret: PartialObjectMeta<Secret> = object(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: api-tls, namespace: ns, resourceVersion: '3'}",
    );
    let created = Change::created(&secret);
    assert_eq!(names(m.secret(&created)), ["ns/api"]);
    let resync = Change::updated(&secret, &secret);
    assert!(m.secret(&resync).is_empty());
}

#[test]
fn a_cluster_triggers_our_mcis_placed_on_it_when_traffic_control_or_readiness_change() {
    let m = mappers();
    let plain: Cluster = object("metadata: {name: member1}\nspec: {syncMode: Push}");
    let blocked: Cluster = object(
        "metadata: {name: member1}\nspec: {syncMode: Push}\nstatus: {remedyActions: [TrafficControl]}",
    );
    let flipped = Change::updated(&plain, &blocked);
    assert_eq!(names(m.cluster(&flipped)), ["elsewhere/web", "ns/web"]);
    // A cluster appearing (or going) changes the readiness the backend views show.
    let created = Change::created(&blocked);
    assert_eq!(names(m.cluster(&created)), ["elsewhere/web", "ns/web"]);
    let same = Change::updated(&blocked, &blocked);
    assert!(m.cluster(&same).is_empty());
    let (ready, lost) = (
        cluster("member2", true, false),
        cluster("member2", false, false),
    );
    assert_eq!(
        names(m.cluster(&Change::updated(&ready, &lost))),
        ["ns/api"]
    );
    let mut relabelled = ready.clone();
    relabelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
    assert!(m.cluster(&Change::updated(&ready, &relabelled)).is_empty());
    let elsewhere = cluster("member9", false, false);
    assert!(m.cluster(&Change::Deleted(&elsewhere)).is_empty());
    // A cluster in a view through the Service's binding, before the locations say so.
    let scheduled = cluster("member3", true, false);
    assert_eq!(names(m.cluster(&Change::created(&scheduled))), ["ns/api"]);
}

#[test]
fn a_services_placement_or_member_balancers_trigger_our_mcis() {
    let m = mappers();
    // The view's clusters come from the bindings: the MCI's own status is no trigger.
    let ours =
        mci("metadata: {name: a, namespace: ns}\nspec: {ingressClassName: fake}\nstatus: {}");
    let mut located = ours.clone();
    located.status.as_mut().unwrap().service_locations = Some(vec![Default::default()]);
    assert!(m.mci(&Change::updated(&ours, &located)).is_none());

    let web = service_binding("ns", "web", &["member1"], &[]);
    assert!(m.binding(&Change::updated(&web, &web)).is_empty());
    assert_eq!(names(m.binding(&Change::created(&web))), ["ns/web"]);
    let moved = service_binding("ns", "web", &["member2"], &[]);
    assert_eq!(names(m.binding(&Change::updated(&web, &moved))), ["ns/web"]);
    let balancer = service_binding("ns", "web", &["member1"], &[("member1", "10.1.0.1")]);
    assert_eq!(
        names(m.binding(&Change::updated(&web, &balancer))),
        ["ns/web"]
    );
    assert_eq!(names(m.binding(&Change::Deleted(&balancer))), ["ns/web"]);
}

/// MCIs `ns/named` (class `fake`), `ns/other` (class `other`), `ns/unnamed` (no class) and
/// `ns/unhandled` (class `fake`, but not handled: reconcile would have nothing to do).
fn class_mappers() -> Mappers {
    let mcis = cache([
        mci("metadata: {name: named, namespace: ns}\nspec: {ingressClassName: fake}"),
        mci("metadata: {name: other, namespace: ns}\nspec: {ingressClassName: other}"),
        mci("metadata: {name: unnamed, namespace: ns}\nspec: {}"),
        mci("metadata: {name: unhandled, namespace: ns}\nspec: {ingressClassName: fake}"),
    ]);
    Mappers::new(
        &mcis,
        &cache(Vec::<ResourceBinding>::new()),
        Arc::new(|mci: &MultiClusterIngress| mci.metadata.name.as_deref() != Some("unhandled")),
    )
}

#[test]
fn an_ingress_class_appearing_or_going_triggers_the_mcis_it_decides() {
    let m = class_mappers();
    let fake = class("fake", "karmada.io/fake", false);
    let default = class("fake", "karmada.io/fake", true);
    assert_eq!(
        names(m.ingress_class(&Change::created(&fake))),
        ["ns/named"]
    );
    assert_eq!(
        names(m.ingress_class(&Change::Deleted(&fake))),
        ["ns/named"]
    );
    let both = ["ns/named", "ns/unnamed"];
    assert_eq!(names(m.ingress_class(&Change::created(&default))), both);
    assert_eq!(names(m.ingress_class(&Change::Deleted(&default))), both);
    let other = class("other", "example.com/x", false);
    assert_eq!(
        names(m.ingress_class(&Change::Deleted(&other))),
        ["ns/other"]
    );
}

#[test]
fn an_ingress_class_triggers_when_its_controller_or_default_annotation_changes() {
    let m = class_mappers();
    let fake = class("fake", "karmada.io/fake", false);
    let moved = class("fake", "example.com/x", false);
    let default = class("fake", "karmada.io/fake", true);
    let moved_default = class("fake", "example.com/x", true);
    let update = |old, new| names(m.ingress_class(&Change::updated(old, new)));
    // Another controller: the MCIs naming it, and those naming none if it is or was the default.
    assert_eq!(update(&fake, &moved), ["ns/named"]);
    assert_eq!(update(&default, &moved_default), ["ns/named", "ns/unnamed"]);
    // Marked or unmarked default: only the MCIs naming no class depend on that.
    assert_eq!(update(&fake, &default), ["ns/unnamed"]);
    assert_eq!(update(&default, &fake), ["ns/unnamed"]);
    // Labels, or a resync: nothing that decides a class.
    let mut labelled = (*default).clone();
    labelled.metadata.labels = Some([("team".to_owned(), "a".to_owned())].into());
    assert!(update(&default, &labelled).is_empty());
    assert!(update(&default, &default).is_empty());
}
