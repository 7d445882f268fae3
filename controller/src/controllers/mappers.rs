//! Watch mappings several controllers share: which Service a Service, EndpointSlice or
//! ResourceBinding change is about, and which Cluster changes matter to a backend view. Each
//! controller's own `mappers.rs` turns that Service or Cluster into its own objects.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::constants::{
    CLUSTER_PROPAGATION_POLICY_NAME, PROPAGATION_POLICY_NAME, PROPAGATION_POLICY_NAMESPACE,
};
use mcp_interface::api::work::ResourceBinding;
use mcp_interface::backends::BalancerAddress;

use crate::cache::{CachedEndpointSlice, CachedService, Change, object_ref};
use crate::controllers::backends::balancer_addresses;
use crate::controllers::references::bound_key;
use crate::key::ObjectKey;

/// The annotations Karmada's resource detector writes on every resource template a policy
/// claims (the policy's name and namespace). They say nothing about a load balancer.
const KARMADA_CLAIM_ANNOTATIONS: [&str; 3] = [
    PROPAGATION_POLICY_NAME,
    PROPAGATION_POLICY_NAMESPACE,
    CLUSTER_PROPAGATION_POLICY_NAME,
];

/// A Service's annotations without Karmada's claim annotations.
fn service_annotations(svc: &CachedService) -> Vec<(&String, &String)> {
    svc.metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(key, _)| !KARMADA_CLAIM_ANNOTATIONS.contains(&key.as_str()))
        .collect()
}

/// The Service, for the Service changes the Go controllers react to: created or deleted, or
/// changed in spec, annotations or deletion state. Unlike Go, Karmada's claim annotations do
/// not count: Karmada's detector writes them on every Service a PropagationPolicy selects, so on
/// real Karmada Go calls the cloud's `update` once more for every MCI backend, for nothing.
pub fn service_of_service_change(change: &Change<'_, CachedService>) -> Option<ObjectRef<Service>> {
    (change.changed(|old, new| old.spec_digest != new.spec_digest)
        || change.changed(|old, new| service_annotations(old) != service_annotations(new))
        || change.deletion_changed())
    .then(|| object_ref(&change.object().metadata))
}

/// The Service of an EndpointSlice that changed in any way (label `kubernetes.io/service-name`,
/// `derived-` stripped: Karmada's derived Services are named after the Service they import).
pub fn service_of_endpoint_slice_change(
    change: &Change<'_, CachedEndpointSlice>,
) -> Option<ObjectRef<Service>> {
    if !change.resource_version_changed() {
        return None;
    }
    let slice = change.object();
    let service = slice.service()?;
    Some(ObjectRef::new(service).within(slice.metadata.namespace.as_deref().unwrap_or_default()))
}

/// The Services whose placement a ResourceBinding change affects: those the binding is for,
/// before and after, when the binding appeared, went, or its clusters changed.
pub fn services_of_binding_change(change: &Change<'_, ResourceBinding>) -> BTreeSet<ObjectKey> {
    match change {
        Change::Applied {
            old: Some(old),
            new,
        } if bound_key(old) == bound_key(new)
            && old.scheduled_clusters() == new.scheduled_clusters() =>
        {
            BTreeSet::new()
        }
        Change::Applied { old, new } => old
            .and_then(bound_key)
            .into_iter()
            .chain(bound_key(new))
            .collect(),
        Change::Deleted(rb) => bound_key(rb).into_iter().collect(),
    }
}

/// The member Services' load-balancer addresses a binding aggregates, by cluster.
fn balancers(rb: Option<&ResourceBinding>) -> BTreeMap<&str, Vec<BalancerAddress>> {
    rb.iter()
        .flat_map(|rb| {
            let items = rb
                .status
                .iter()
                .flat_map(|s| s.aggregated_status.iter().flatten());
            items.map(|item| {
                (
                    item.cluster_name.as_str(),
                    balancer_addresses(rb, &item.cluster_name),
                )
            })
        })
        .filter(|(_, addresses)| !addresses.is_empty())
        .collect()
}

/// The Services whose member load-balancer addresses (the binding's
/// `status.aggregatedStatus[].status.loadBalancer`, shown in the backend view) a
/// ResourceBinding change changed. Any other status change of a binding (conditions, health,
/// the rest of the member status) is none.
pub fn services_of_binding_balancer_change(
    change: &Change<'_, ResourceBinding>,
) -> BTreeSet<ObjectKey> {
    let before = match change {
        Change::Applied { old, .. } => *old,
        Change::Deleted(rb) => Some(*rb),
    };
    if balancers(before) == balancers(change.applied()) {
        return BTreeSet::new();
    }
    change
        .old()
        .and_then(bound_key)
        .into_iter()
        .chain(bound_key(change.object()))
        .collect()
}

/// Whether a Cluster change changes the backend views it is in: created or deleted, became
/// Ready or stopped being Ready, or gained or lost the `TrafficControl` remedy action. Every
/// other status change (heartbeats, resource summaries) is none.
pub fn cluster_view_changed(change: &Change<'_, Cluster>) -> bool {
    change.changed(|old, new| {
        old.is_ready() != new.is_ready()
            || old.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
                != new.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> CachedService {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn slice(labels: &str, resource_version: &str) -> CachedEndpointSlice {
        serde_yaml::from_str(&format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: s1, namespace: ns, resourceVersion: '{resource_version}', labels: {labels}}}"
        ))
        .unwrap()
    }

    fn binding(name: &str, service: &str, clusters: &[&str]) -> ResourceBinding {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {
                "resource": {"apiVersion": "v1", "kind": "Service", "name": service, "namespace": "ns"},
                "clusters": clusters.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    fn key(namespace: &str, name: &str) -> ObjectRef<Service> {
        ObjectRef::new(name).within(namespace)
    }

    #[test]
    fn service_changes_follow_the_go_predicate() {
        let old = service(
            "metadata: {name: web, namespace: ns, resourceVersion: '1'}\nspec: {ports: [{port: 80}]}",
        );
        let created = Change::created(&old);
        assert_eq!(service_of_service_change(&created), Some(key("ns", "web")));
        assert_eq!(
            service_of_service_change(&Change::Deleted(&old)),
            Some(key("ns", "web"))
        );
        // A status or resourceVersion change is not one.
        let status_only = service(
            "metadata: {name: web, namespace: ns, resourceVersion: '2'}\nspec: {ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}",
        );
        let update = Change::updated(&old, &status_only);
        assert_eq!(service_of_service_change(&update), None);
        // A spec change is one.
        let port = service(
            "metadata: {name: web, namespace: ns, resourceVersion: '2'}\nspec: {ports: [{port: 81}]}",
        );
        let update = Change::updated(&old, &port);
        assert_eq!(service_of_service_change(&update), Some(key("ns", "web")));
        let mut annotated = old.clone();
        annotated.metadata.annotations = Some([("a".to_owned(), "b".to_owned())].into());
        let update = Change::updated(&old, &annotated);
        assert_eq!(service_of_service_change(&update), Some(key("ns", "web")));
        // Karmada's detector claiming the Service for a policy (what real Karmada v1.16 writes)
        // is not a change either, on its own; with another annotation it is.
        let mut claimed = annotated.clone();
        claimed.metadata.labels = Some(
            [(
                "propagationpolicy.karmada.io/permanent-id".to_owned(),
                "0a232f51".to_owned(),
            )]
            .into(),
        );
        let annotations = claimed.metadata.annotations.get_or_insert_default();
        annotations.insert(
            "propagationpolicy.karmada.io/name".to_owned(),
            "mcs-workload".to_owned(),
        );
        annotations.insert(
            "propagationpolicy.karmada.io/namespace".to_owned(),
            "ns".to_owned(),
        );
        assert_eq!(
            service_of_service_change(&Change::updated(&annotated, &claimed)),
            None
        );
        let mut claimed_and_annotated = claimed.clone();
        claimed_and_annotated
            .metadata
            .annotations
            .get_or_insert_default()
            .insert("lb.example.com/class".to_owned(), "internal".to_owned());
        assert_eq!(
            service_of_service_change(&Change::updated(&claimed, &claimed_and_annotated)),
            Some(key("ns", "web"))
        );
        let mut deleting = old.clone();
        deleting.metadata.deletion_timestamp =
            Some(serde_json::from_value(serde_json::json!("2026-01-01T00:00:00Z")).unwrap());
        let update = Change::updated(&old, &deleting);
        assert_eq!(service_of_service_change(&update), Some(key("ns", "web")));
    }

    #[test]
    fn endpoint_slices_map_to_their_service_without_the_derived_prefix() {
        let own = slice("{kubernetes.io/service-name: web}", "1");
        let created = Change::created(&own);
        assert_eq!(
            service_of_endpoint_slice_change(&created),
            Some(key("ns", "web"))
        );
        let derived = slice("{kubernetes.io/service-name: derived-web}", "1");
        assert_eq!(
            service_of_endpoint_slice_change(&Change::Deleted(&derived)),
            Some(key("ns", "web"))
        );
        let unlabelled = slice("{}", "1");
        let created = Change::created(&unlabelled);
        assert_eq!(service_of_endpoint_slice_change(&created), None);
        // The same resourceVersion again (a relist) is no change.
        let again = Change::updated(&own, &own);
        assert_eq!(service_of_endpoint_slice_change(&again), None);
        let newer = slice("{kubernetes.io/service-name: web}", "2");
        let update = Change::updated(&own, &newer);
        assert_eq!(
            service_of_endpoint_slice_change(&update),
            Some(key("ns", "web"))
        );
    }

    #[test]
    fn binding_changes_name_the_services_whose_placement_moved() {
        let web = binding("web-service", "web", &["member1"]);
        let pair = ObjectKey::namespaced;
        let created = Change::created(&web);
        assert_eq!(
            services_of_binding_change(&created),
            [pair("ns", "web")].into()
        );
        assert_eq!(
            services_of_binding_change(&Change::Deleted(&web)),
            [pair("ns", "web")].into()
        );
        let same = Change::updated(&web, &web);
        assert!(services_of_binding_change(&same).is_empty());
        let moved = binding("web-service", "web", &["member2"]);
        let update = Change::updated(&web, &moved);
        assert_eq!(
            services_of_binding_change(&update),
            [pair("ns", "web")].into()
        );
        let rebound = binding("web-service", "api", &["member1"]);
        let update = Change::updated(&web, &rebound);
        assert_eq!(
            services_of_binding_change(&update),
            [pair("ns", "api"), pair("ns", "web")].into()
        );
    }
}
