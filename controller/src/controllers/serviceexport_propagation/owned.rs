//! The objects this controller owns: whose they are (the controller ownerReference to the
//! Service) and how the policy should look; pure functions of the objects.

use crate::cache::CachedService;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::constants::service_export_policy_name;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::policy::{
    ClusterAffinity, Placement, PropagationPolicy, PropagationSpec, ResourceSelector,
};
use serde_json::json;

use crate::controllers::references::{SERVICE_API_VERSION, SERVICE_KIND};

const SERVICE_EXPORT_KIND: &str = "ServiceExport";
const SERVICE_EXPORT_API_VERSION: &str = "multicluster.x-k8s.io/v1alpha1";

/// Whether Karmada may place a ServiceExport on `cluster`: its status lists the ServiceExport
/// API (what Karmada's scheduler checks before placing anything).
pub fn serves_service_exports(cluster: &Cluster) -> bool {
    cluster.api_enabled(&ServiceExport::api_version(&()), &ServiceExport::kind(&()))
}

pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether `r` points at a `v1` Service named `service` (any UID).
pub fn is_service_ref(r: &OwnerReference, service: &str) -> bool {
    r.api_version == SERVICE_API_VERSION && r.kind == SERVICE_KIND && r.name == service
}

/// Whether the object is controlled by a Service named `service` (this controller's objects).
pub fn controlled_by_service(meta: &ObjectMeta, service: &str) -> bool {
    controller_ref(meta).is_some_and(|r| is_service_ref(r, service))
}

/// The controller ownerReference to `svc` (Go: `metav1.NewControllerRef`).
pub fn owner_ref(svc: &CachedService) -> OwnerReference {
    OwnerReference {
        api_version: SERVICE_API_VERSION.to_owned(),
        kind: SERVICE_KIND.to_owned(),
        name: svc.name_any(),
        uid: svc.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `meta`'s ownerReferences with `ours` as the one reference to the Service (stale references
/// to an earlier Service of that name dropped).
pub fn with_owner(meta: &ObjectMeta, ours: &OwnerReference) -> Vec<OwnerReference> {
    let mut refs: Vec<OwnerReference> = meta
        .owner_references
        .iter()
        .flatten()
        .filter(|r| !is_service_ref(r, &ours.name))
        .cloned()
        .collect();
    refs.push(ours.clone());
    refs
}

/// Whether `meta` carries exactly our controller reference (same UID).
pub fn owned_by(meta: &ObjectMeta, ours: &OwnerReference) -> bool {
    let refs: Vec<&OwnerReference> = meta
        .owner_references
        .iter()
        .flatten()
        .filter(|r| is_service_ref(r, &ours.name))
        .collect();
    matches!(refs.as_slice(), [r] if r.uid == ours.uid && r.controller == Some(true))
}

pub fn desired_selector(service: &str) -> ResourceSelector {
    ResourceSelector {
        api_version: SERVICE_EXPORT_API_VERSION.to_owned(),
        kind: SERVICE_EXPORT_KIND.to_owned(),
        name: Some(service.to_owned()),
        ..Default::default()
    }
}

/// Whether the policy selects exactly the ServiceExport (the namespace may be unset or, as
/// Karmada's webhook fills it in, the policy's own).
pub fn selectors_match(selectors: &[ResourceSelector], namespace: &str, service: &str) -> bool {
    match selectors {
        [s] => {
            s.api_version == SERVICE_EXPORT_API_VERSION
                && s.kind == SERVICE_EXPORT_KIND
                && s.name.as_deref() == Some(service)
                && s.namespace
                    .as_deref()
                    .is_none_or(|ns| ns.is_empty() || ns == namespace)
                && s.label_selector.is_none()
        }
        _ => false,
    }
}

pub fn cluster_names(pp: &PropagationPolicy) -> &[String] {
    pp.spec
        .placement
        .as_ref()
        .and_then(|p| p.cluster_affinity.as_ref())
        .and_then(|a| a.cluster_names.as_deref())
        .unwrap_or_default()
}

/// The merge patch that puts the policy's owned fields right, or `None` when they are.
pub fn policy_patch(
    pp: &PropagationPolicy,
    svc: &CachedService,
    clusters: &[String],
) -> Option<serde_json::Value> {
    let namespace = svc.namespace().unwrap_or_default();
    let service = svc.name_any();
    let ours = owner_ref(svc);
    let mut metadata = serde_json::Map::new();
    let mut spec = serde_json::Map::new();
    if !owned_by(&pp.metadata, &ours) {
        metadata.insert(
            "ownerReferences".into(),
            json!(with_owner(&pp.metadata, &ours)),
        );
    }
    if !selectors_match(&pp.spec.resource_selectors, &namespace, &service) {
        spec.insert(
            "resourceSelectors".into(),
            json!([desired_selector(&service)]),
        );
    }
    if cluster_names(pp) != clusters {
        spec.insert(
            "placement".into(),
            json!({ "clusterAffinity": { "clusterNames": clusters } }),
        );
    }
    if metadata.is_empty() && spec.is_empty() {
        return None;
    }
    // The resourceVersion makes a concurrent change fail with a conflict (and retry) rather
    // than be clobbered (the ownerReferences list is replaced as a whole).
    metadata.insert("resourceVersion".into(), json!(pp.resource_version()));
    let mut patch = serde_json::Map::new();
    patch.insert("metadata".into(), metadata.into());
    if !spec.is_empty() {
        patch.insert("spec".into(), spec.into());
    }
    Some(patch.into())
}

/// The ServiceExport of `svc` as this controller creates it (no spec; controlled by `svc`).
pub fn desired_export(svc: &CachedService) -> ServiceExport {
    ServiceExport {
        metadata: ObjectMeta {
            name: Some(svc.name_any()),
            namespace: Some(svc.namespace().unwrap_or_default()),
            owner_references: Some(vec![owner_ref(svc)]),
            ..Default::default()
        },
        status: None,
    }
}

/// The PropagationPolicy of `svc` as this controller creates it: the ServiceExport placed on
/// `clusters`, controlled by `svc`.
pub fn desired_policy(svc: &CachedService, clusters: &[String]) -> PropagationPolicy {
    let service = svc.name_any();
    PropagationPolicy {
        metadata: ObjectMeta {
            name: Some(service_export_policy_name(&service)),
            namespace: Some(svc.namespace().unwrap_or_default()),
            owner_references: Some(vec![owner_ref(svc)]),
            ..Default::default()
        },
        spec: PropagationSpec {
            resource_selectors: vec![desired_selector(&service)],
            placement: Some(Placement {
                cluster_affinity: Some(ClusterAffinity {
                    cluster_names: Some(clusters.to_vec()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}
