//! [`CachedEndpointSlice`]: an EndpointSlice as the shared cache keeps it.
//!
//! The controllers map a slice to its Service (label `kubernetes.io/service-name`) and the
//! backend view reads the endpoints Karmada collected into the control plane, with the member
//! cluster they came from (annotation `work.karmada.io/namespace: karmada-es-<cluster>`). The
//! cache keeps only that: of the metadata the name, namespace, UID, resourceVersion, deletion
//! state, that label and that annotation (Karmada's slices carry several more labels and
//! annotations, and owner references); of the slice its ports and, per endpoint, the fields the
//! view shows. Hints, target references and the address type are not read.

use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcp_interface::api::constants::{DERIVED_SERVICE_PREFIX, LABEL_SERVICE_NAME};
use mcp_interface::backends::EndpointPort;
use serde::{Deserialize, Deserializer};

/// The annotation Karmada writes on the EndpointSlices it collects into the control plane: the
/// execution namespace of the member cluster the slice came from.
pub const WORK_NAMESPACE_ANNOTATION: &str = "work.karmada.io/namespace";
/// The prefix of a member cluster's execution namespace (`karmada-es-<cluster>`).
pub const EXECUTION_SPACE_PREFIX: &str = "karmada-es-";

/// What the cache keeps of an EndpointSlice (see the module doc). Lists and watches are those
/// of `discovery.k8s.io/v1` `endpointslices`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedEndpointSlice {
    pub metadata: ObjectMeta,
    /// `ports`: the ports every endpoint of the slice serves.
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<SliceEndpoint>,
}

/// One endpoint of a slice, its conditions defaulted as Kubernetes reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SliceEndpoint {
    pub addresses: Vec<String>,
    /// `conditions.ready`, `true` when unset.
    pub ready: bool,
    /// `conditions.serving`, `ready` when unset.
    pub serving: bool,
    /// `conditions.terminating`, `false` when unset.
    pub terminating: bool,
    pub zone: Option<String>,
    pub node_name: Option<String>,
}

impl CachedEndpointSlice {
    /// The Service the slice belongs to: its `kubernetes.io/service-name` label, `derived-`
    /// stripped (Karmada's derived Services are named after the Service they import).
    pub fn service(&self) -> Option<&str> {
        let service = self.metadata.labels.as_ref()?.get(LABEL_SERVICE_NAME)?;
        Some(
            service
                .strip_prefix(DERIVED_SERVICE_PREFIX)
                .unwrap_or(service),
        )
    }

    /// The member cluster Karmada collected the slice from: a slice of a derived Service
    /// (`derived-<svc>`) annotated `work.karmada.io/namespace: karmada-es-<cluster>`.
    pub fn collected_from(&self) -> Option<&str> {
        let label = self.metadata.labels.as_ref()?.get(LABEL_SERVICE_NAME)?;
        if !label.starts_with(DERIVED_SERVICE_PREFIX) {
            return None;
        }
        self.metadata
            .annotations
            .as_ref()?
            .get(WORK_NAMESPACE_ANNOTATION)?
            .strip_prefix(EXECUTION_SPACE_PREFIX)
            .filter(|cluster| !cluster.is_empty())
    }
}

/// Only the label and the annotation the controllers read.
fn keep_only(map: &mut Option<BTreeMap<String, String>>, key: &str) {
    *map = map
        .take()
        .and_then(|mut m| m.remove_entry(key))
        .map(|entry| [entry].into());
}

fn lean_metadata(metadata: ObjectMeta) -> ObjectMeta {
    let mut labels = metadata.labels;
    let mut annotations = metadata.annotations;
    keep_only(&mut labels, LABEL_SERVICE_NAME);
    keep_only(&mut annotations, WORK_NAMESPACE_ANNOTATION);
    ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resource_version: metadata.resource_version,
        deletion_timestamp: metadata.deletion_timestamp,
        labels,
        annotations,
        ..ObjectMeta::default()
    }
}

/// The fields of an EndpointSlice the cache reads; serde skips the others unread.
#[derive(Deserialize)]
struct SliceWire {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    endpoints: Option<Vec<WireEndpoint>>,
    #[serde(default)]
    ports: Option<Vec<WirePort>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEndpoint {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    conditions: Option<WireConditions>,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    node_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireConditions {
    ready: Option<bool>,
    serving: Option<bool>,
    terminating: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePort {
    name: Option<String>,
    port: Option<i32>,
    protocol: Option<String>,
    app_protocol: Option<String>,
}

impl From<SliceWire> for CachedEndpointSlice {
    fn from(wire: SliceWire) -> Self {
        let endpoints = wire
            .endpoints
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let conditions = e.conditions.unwrap_or_default();
                let ready = conditions.ready.unwrap_or(true);
                SliceEndpoint {
                    addresses: e.addresses,
                    ready,
                    serving: conditions.serving.unwrap_or(ready),
                    terminating: conditions.terminating.unwrap_or(false),
                    zone: e.zone,
                    node_name: e.node_name,
                }
            })
            .collect();
        let ports = wire
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| EndpointPort {
                name: p.name.filter(|n| !n.is_empty()),
                // An unset port means "all ports" (Kubernetes); the view says 0.
                port: p.port.unwrap_or_default(),
                protocol: p.protocol.unwrap_or_else(|| "TCP".to_owned()),
                app_protocol: p.app_protocol,
            })
            .collect();
        CachedEndpointSlice {
            metadata: lean_metadata(wire.metadata),
            ports,
            endpoints,
        }
    }
}

impl<'de> Deserialize<'de> for CachedEndpointSlice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SliceWire::deserialize(deserializer).map(CachedEndpointSlice::from)
    }
}

lean_resource!(CachedEndpointSlice => EndpointSlice);

#[cfg(test)]
mod tests {
    use kube::Resource;

    use super::*;

    /// The slice as the cache decodes it from the API server's JSON.
    fn cached(json: serde_json::Value) -> CachedEndpointSlice {
        CachedEndpointSlice::deserialize(json).expect("a decodable slice")
    }

    #[test]
    fn a_collected_slice_keeps_what_the_view_reads() {
        let slice = cached(serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "name": "imported-member1-serve-abc", "namespace": "ns", "uid": "u",
                "resourceVersion": "7",
                "labels": {"kubernetes.io/service-name": "derived-serve",
                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.karmada.io"},
                "annotations": {"work.karmada.io/namespace": "karmada-es-member1",
                                "work.karmada.io/name": "serve-abc"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "x", "uid": "o"}],
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.2"], "zone": "z1", "nodeName": "n1",
                 "hints": {"forZones": [{"name": "z1"}]}, "targetRef": {"kind": "Pod", "name": "p"}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.4"],
                 "conditions": {"ready": false, "serving": true, "terminating": true}},
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        }));
        assert_eq!(slice.service(), Some("serve"));
        assert_eq!(slice.collected_from(), Some("member1"));
        assert_eq!(slice.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(slice.metadata.labels.as_ref().unwrap().len(), 1);
        assert_eq!(slice.metadata.annotations.as_ref().unwrap().len(), 1);
        assert!(slice.metadata.owner_references.is_none());
        let conditions: Vec<(bool, bool, bool)> = slice
            .endpoints
            .iter()
            .map(|e| (e.ready, e.serving, e.terminating))
            .collect();
        // Unset: ready; serving follows ready; terminating false.
        assert_eq!(
            conditions,
            [
                (true, true, false),
                (false, false, false),
                (false, true, true)
            ]
        );
        assert_eq!(slice.endpoints[0].zone.as_deref(), Some("z1"));
        assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("n1"));
        assert_eq!(slice.ports[0].name.as_deref(), Some("http"));
        assert_eq!(slice.ports[1].protocol, "UDP");
        assert_eq!(slice.ports[1].name, None);
        // Lists and watches are those of EndpointSlices.
        let api_version = <CachedEndpointSlice as Resource>::api_version(&());
        assert_eq!(api_version, "discovery.k8s.io/v1");
        assert_eq!(
            <CachedEndpointSlice as Resource>::plural(&()),
            "endpointslices"
        );
    }

    #[test]
    fn only_a_derived_services_annotated_slice_names_its_cluster() {
        let slice = |label: &str, annotation: Option<&str>| {
            let mut metadata = serde_json::json!({"name": "s", "namespace": "ns",
                "labels": {"kubernetes.io/service-name": label}});
            if let Some(a) = annotation {
                metadata["annotations"] = serde_json::json!({"work.karmada.io/namespace": a});
            }
            cached(serde_json::json!({"metadata": metadata}))
        };
        assert_eq!(slice("serve", Some("karmada-es-m1")).collected_from(), None);
        assert_eq!(
            slice("serve", Some("karmada-es-m1")).service(),
            Some("serve")
        );
        assert_eq!(slice("derived-serve", None).collected_from(), None);
        assert_eq!(slice("derived-serve", Some("other")).collected_from(), None);
        assert_eq!(
            slice("derived-serve", Some("karmada-es-m1")).collected_from(),
            Some("m1")
        );
    }
}
