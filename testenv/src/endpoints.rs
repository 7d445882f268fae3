//! The EndpointSlice kube-controller-manager's EndpointSlice controller would write for a
//! Service's running pods, for clusters without nodes (the Karmada mode's members run an API
//! server only, so no pod ever runs and nothing writes one).
//!
//! [`write_endpoint_slice`] reads the Service and applies, server-side, the slice its
//! controller would keep for `endpoints`: the labels `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` (with the
//! Service's own labels, as that controller copies them), `addressType: IPv4`, one port per
//! Service port (its name, its numeric `targetPort`, protocol and appProtocol), the Service as
//! controlling owner, and per endpoint its address, conditions, node and zone. Pods do not exist,
//! so endpoints carry no `targetRef`. Writing it again with other endpoints is a scale-up or
//! scale-down as that controller would write it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::error::{Error, Result};

/// The field manager (and `managed-by` label value) of kube-controller-manager's controller.
pub const ENDPOINTSLICE_CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// One pod behind the Service, as the slice lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEndpoint {
    /// The pod's IPv4 address.
    pub address: String,
    /// The node it runs on.
    pub node_name: String,
    /// The node's `topology.kubernetes.io/zone` label, if it has one.
    pub zone: Option<String>,
    /// Ready (and serving), or not yet.
    pub ready: bool,
}

impl PodEndpoint {
    /// A ready pod at `address` on `node_name` (whose node has no zone label).
    pub fn ready(address: &str, node_name: &str) -> Self {
        PodEndpoint {
            address: address.to_owned(),
            node_name: node_name.to_owned(),
            zone: None,
            ready: true,
        }
    }

    /// The pod's node is in `zone`.
    pub fn in_zone(mut self, zone: &str) -> Self {
        self.zone = Some(zone.to_owned());
        self
    }
}

/// The EndpointSlice `name` kube-controller-manager would keep for `service` with `endpoints`.
pub fn endpoint_slice_for(
    service: &Service,
    name: &str,
    endpoints: &[PodEndpoint],
) -> Result<EndpointSlice> {
    let manifest_error = |detail: String| Error::Manifest {
        origin: format!("EndpointSlice {name}"),
        detail,
    };
    let service_name = service.name_any();
    let uid = service
        .uid()
        .ok_or_else(|| manifest_error(format!("Service {service_name} has no uid")))?;
    let spec = service.spec.clone().unwrap_or_default();
    let mut ports = Vec::new();
    for port in spec.ports.unwrap_or_default() {
        // Without a pod, a named targetPort cannot be resolved to a container port.
        let target = match &port.target_port {
            None => port.port,
            Some(IntOrString::Int(number)) => *number,
            Some(IntOrString::String(named)) => {
                return Err(manifest_error(format!(
                    "Service {service_name}'s targetPort {named:?} is named: it needs a pod to resolve"
                )));
            }
        };
        ports.push(EndpointPort {
            name: Some(port.name.unwrap_or_default()),
            port: Some(target),
            protocol: Some(port.protocol.unwrap_or_else(|| "TCP".to_owned())),
            app_protocol: port.app_protocol,
        });
    }
    let mut labels: BTreeMap<String, String> = service.labels().clone();
    labels.insert("kubernetes.io/service-name".into(), service_name.clone());
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        ENDPOINTSLICE_CONTROLLER.into(),
    );
    Ok(EndpointSlice {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: service.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: service_name,
                uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints: Some(
            endpoints
                .iter()
                .map(|e| Endpoint {
                    addresses: vec![e.address.clone()],
                    conditions: Some(EndpointConditions {
                        ready: Some(e.ready),
                        serving: Some(e.ready),
                        terminating: Some(false),
                    }),
                    node_name: Some(e.node_name.clone()),
                    zone: e.zone.clone(),
                    ..Endpoint::default()
                })
                .collect(),
        ),
        ports: Some(ports),
    })
}

/// Reads Service `namespace/service` through `client` (a member cluster's) and applies the
/// EndpointSlice `name` kube-controller-manager would keep for it with `endpoints`.
pub async fn write_endpoint_slice(
    client: &Client,
    namespace: &str,
    service: &str,
    name: &str,
    endpoints: &[PodEndpoint],
) -> Result<EndpointSlice> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let found = services.get(service).await.map_err(Error::kube(format!(
        "reading Service {namespace}/{service}"
    )))?;
    let slice = endpoint_slice_for(&found, name, endpoints)?;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    slices
        .patch(
            name,
            &PatchParams::apply(ENDPOINTSLICE_CONTROLLER).force(),
            &Patch::Apply(&slice),
        )
        .await
        .map_err(Error::kube(format!(
            "applying EndpointSlice {namespace}/{name}"
        )))
}

/// A name as kube-controller-manager's `generateName: <service>-` gives, but stable: the same
/// Service and `seed` (e.g. the cluster's name) always get the same name, so writing the slice
/// again updates it.
pub fn slice_name(service: &str, seed: &str) -> String {
    // The alphabet of apimachinery's rand.String (no vowels, no confusable characters).
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    // FNV-1a: small, stable across runs and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in service.bytes().chain([0]).chain(seed.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let suffix: String = (0..5)
        .map(|i| ALPHABET[((hash >> (i * 8)) % ALPHABET.len() as u64) as usize] as char)
        .collect();
    format!("{service}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slice_kube_controller_manager_writes() {
        let service: Service = serde_yaml::from_str(
            "metadata: {name: serve, namespace: default, uid: u-1, labels: {app: serve}}\n\
             spec: {ports: [{port: 80, targetPort: 8080}, {name: admin, port: 9000, protocol: UDP, appProtocol: x}]}",
        )
        .unwrap();
        let slice = endpoint_slice_for(
            &service,
            "serve-abcde",
            &[PodEndpoint::ready("10.10.0.5", "n1").in_zone("z1")],
        )
        .unwrap();
        let json = serde_json::to_value(&slice).unwrap();
        assert_eq!(
            json["metadata"]["labels"]["kubernetes.io/service-name"],
            "serve"
        );
        assert_eq!(json["metadata"]["labels"]["app"], "serve");
        assert_eq!(json["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(json["addressType"], "IPv4");
        assert_eq!(
            json["ports"],
            serde_json::json!([
                {"name": "", "port": 8080, "protocol": "TCP"},
                {"name": "admin", "port": 9000, "protocol": "UDP", "appProtocol": "x"},
            ])
        );
        assert_eq!(
            json["endpoints"][0],
            serde_json::json!({"addresses": ["10.10.0.5"], "nodeName": "n1", "zone": "z1",
                "conditions": {"ready": true, "serving": true, "terminating": false}})
        );
    }

    #[test]
    fn a_named_target_port_needs_a_pod() {
        let yaml = "metadata: {name: s, uid: u}\nspec: {ports: [{port: 80, targetPort: http}]}";
        let service: Service = serde_yaml::from_str(yaml).unwrap();
        assert!(endpoint_slice_for(&service, "s-x", &[]).is_err());
    }

    #[test]
    fn names_are_stable_and_per_seed() {
        assert_eq!(
            slice_name("serve", "member1"),
            slice_name("serve", "member1")
        );
        assert_ne!(
            slice_name("serve", "member1"),
            slice_name("serve", "member2")
        );
        assert!(slice_name("serve", "member1").starts_with("serve-"));
        assert_eq!(slice_name("serve", "member1").len(), "serve-".len() + 5);
    }
}
