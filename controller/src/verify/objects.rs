//! The objects `verify` hands to the provider: MultiClusterIngresses and MultiClusterServices of
//! the shapes met in practice, with the metadata the controller sends (uid, generation, labels,
//! annotations, finalizers), and the changed version of each that `update` receives.
//!
//! Names and uids are derived from the namespace and the shape only, so a later
//! `verify --cleanup` reaches what an interrupted run left behind.

use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One object of the suite.
#[derive(Clone, Debug)]
pub struct Shape<O> {
    /// What the shape exercises, e.g. `tls` (also the end of the object's name).
    pub shape: &'static str,
    pub object: O,
}

/// The prefix of every object name `verify` uses.
pub const NAME_PREFIX: &str = "mcp-verify-";

/// A stable uid for `kind namespace/name`, shaped like a Kubernetes uid (a UUID).
fn uid(kind: &str, namespace: &str, name: &str) -> String {
    // FNV-1a, twice with different offsets: stable across releases and platforms.
    let hash = |offset: u64| {
        format!("{kind} {namespace}/{name}")
            .bytes()
            .fold(offset, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x84222325_cbf29ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn metadata(kind: &str, namespace: &str, shape: &str, extra_annotations: Value) -> Value {
    let name = format!("{NAME_PREFIX}{shape}");
    let mut annotations = json!({"verify.multicluster-provider.karmada.io/shape": shape});
    if let (Some(all), Some(extra)) = (annotations.as_object_mut(), extra_annotations.as_object()) {
        all.extend(extra.clone());
    }
    json!({
        "name": name,
        "namespace": namespace,
        "uid": uid(kind, namespace, &name),
        "generation": 1,
        "resourceVersion": "1001",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {"app.kubernetes.io/part-of": "multicluster-provider-verify"},
        "annotations": annotations,
    })
}

fn decode<O: DeserializeOwned>(value: Value) -> serde_json::Result<O> {
    // The values below are fixed; the unit test proves they decode.
    serde_json::from_value(value)
}

fn backend(service: &str, port: Value) -> Value {
    json!({"service": {"name": service, "port": port}})
}

/// The MultiClusterIngresses of the suite (with their finalizer, as the controller sends them).
pub fn ingresses(namespace: &str) -> serde_json::Result<Vec<Shape<MultiClusterIngress>>> {
    let mci = |shape: &'static str, annotations: Value, spec: Value| {
        let mut metadata = metadata("MultiClusterIngress", namespace, shape, annotations);
        metadata["finalizers"] = json!(["karmada.io/multi-cluster-ingress-controller"]);
        Ok(Shape {
            shape,
            object: decode(json!({
                "apiVersion": "networking.karmada.io/v1alpha1",
                "kind": "MultiClusterIngress",
                "metadata": metadata,
                "spec": spec,
            }))?,
        })
    };
    [
        mci(
            "minimal",
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/"}),
            json!({"rules": [{"http": {"paths": [
                {"path": "/testpath", "pathType": "Prefix", "backend": backend("serve", json!({"number": 80}))}
            ]}}]}),
        ),
        mci(
            "tls",
            json!({}),
            json!({
                "ingressClassName": "verify",
                "tls": [{"hosts": ["shop.example.com", "www.shop.example.com"], "secretName": "shop-tls"}],
                "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend("shop", json!({"number": 443}))}
                ]}}],
            }),
        ),
        mci(
            "default-backend",
            json!({}),
            json!({"defaultBackend": backend("fallback", json!({"number": 8080}))}),
        ),
        mci(
            "several-rules",
            json!({}),
            json!({
                "defaultBackend": backend("fallback", json!({"number": 80})),
                "rules": [
                    {"host": "api.example.com", "http": {"paths": [
                        {"path": "/v1", "pathType": "Prefix", "backend": backend("api-v1", json!({"number": 8080}))},
                        {"path": "/v2/health", "pathType": "Exact", "backend": backend("api-v2", json!({"number": 8081}))},
                    ]}},
                    {"host": "*.static.example.com", "http": {"paths": [
                        {"path": "/assets", "pathType": "ImplementationSpecific", "backend": backend("static", json!({"number": 80}))},
                    ]}},
                    {"http": {"paths": [
                        {"path": "/", "pathType": "Prefix", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}}},
                    ]}},
                ],
            }),
        ),
        mci(
            "named-ports",
            json!({}),
            json!({"rules": [{"host": "named.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend("web", json!({"name": "http"}))},
                {"path": "/grpc", "pathType": "Prefix", "backend": backend("grpc", json!({"name": "grpc-api"}))},
            ]}}]}),
        ),
    ]
    .into_iter()
    .collect()
}

/// The MultiClusterServices of the suite (all of type LoadBalancer: the only ones the controller
/// hands to a provider).
pub fn services(namespace: &str) -> serde_json::Result<Vec<Shape<MultiClusterService>>> {
    let mcs = |shape: &'static str, spec: Value| {
        let mut metadata = metadata("MultiClusterService", namespace, shape, json!({}));
        metadata["finalizers"] = json!(["karmada.io/multi-cluster-service-controller"]);
        Ok(Shape {
            shape,
            object: decode(json!({
                "apiVersion": "networking.karmada.io/v1alpha1",
                "kind": "MultiClusterService",
                "metadata": metadata,
                "spec": spec,
                // Karmada's own controller writes conditions; the provider sees them.
                "status": {"conditions": [{
                    "type": "ServiceAppliedSucceed", "status": "True", "reason": "ServiceAppliedSucceed",
                    "message": "Service is propagated to target clusters.",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }]},
            }))?,
        })
    };
    [
        mcs(
            "single-port",
            json!({"types": ["LoadBalancer"], "ports": [{"port": 80}]}),
        ),
        mcs(
            "named-ports",
            json!({"types": ["LoadBalancer"], "ports": [
                {"name": "http", "port": 80}, {"name": "https", "port": 443}, {"name": "metrics", "port": 9090},
            ]}),
        ),
        mcs(
            "cluster-selection",
            json!({
                "types": ["LoadBalancer", "CrossCluster"],
                "ports": [{"name": "grpc", "port": 50051}],
                "providerClusters": [{"name": "member1"}, {"name": "member2"}],
                "consumerClusters": [{"name": "member3"}],
            }),
        ),
        mcs(
            "deprecated-range",
            json!({
                "types": ["LoadBalancer"],
                "ports": [{"port": 8443}],
                "range": {"clusterNames": ["member1"]},
                "serviceProvisionClusters": ["member1"],
                "serviceConsumptionClusters": ["member2"],
            }),
        ),
    ]
    .into_iter()
    .collect()
}

/// `object` as the controller sends it after the user changed it: a new generation and
/// resourceVersion, an extra annotation, and `spec` changed by `change`.
fn changed<O: serde::Serialize + DeserializeOwned>(
    object: &O,
    change: impl FnOnce(&mut Value),
) -> serde_json::Result<O> {
    let mut value = serde_json::to_value(object)?;
    value["metadata"]["generation"] = json!(2);
    value["metadata"]["resourceVersion"] = json!("1002");
    value["metadata"]["annotations"]["verify.multicluster-provider.karmada.io/changed"] =
        json!("true");
    change(&mut value["spec"]);
    decode(value)
}

/// The ingress with one more rule (a new host and backend).
pub fn changed_ingress(mci: &MultiClusterIngress) -> serde_json::Result<MultiClusterIngress> {
    changed(mci, |spec| {
        let rule = json!({"host": "changed.example.com", "http": {"paths": [
            {"path": "/changed", "pathType": "Prefix", "backend": backend("changed", json!({"number": 8088}))}
        ]}});
        match spec["rules"].as_array_mut() {
            Some(rules) => rules.push(rule),
            None => spec["rules"] = json!([rule]),
        }
    })
}

/// The service with one more port.
pub fn changed_service(mcs: &MultiClusterService) -> serde_json::Result<MultiClusterService> {
    changed(mcs, |spec| {
        let port = json!({"name": "changed", "port": 8088});
        match spec["ports"].as_array_mut() {
            Some(ports) => ports.push(port),
            None => spec["ports"] = json!([port]),
        }
    })
}

/// A copy of `shape` under another name (for the parallel check), with its own uid.
pub fn renamed<O: serde::Serialize + DeserializeOwned>(
    object: &O,
    suffix: &str,
) -> serde_json::Result<O> {
    let mut value = serde_json::to_value(object)?;
    let namespace = value["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = format!(
        "{}-{suffix}",
        value["metadata"]["name"].as_str().unwrap_or_default()
    );
    let kind = value["kind"].as_str().unwrap_or_default().to_owned();
    value["metadata"]["uid"] = json!(uid(&kind, &namespace, &name));
    value["metadata"]["name"] = json!(name);
    decode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_decodes_and_has_a_unique_name_and_uid() {
        let mut seen = std::collections::HashSet::new();
        let ingresses = ingresses("ns").unwrap();
        let services = services("ns").unwrap();
        let metas = ingresses
            .iter()
            .map(|s| &s.object.metadata)
            .chain(services.iter().map(|s| &s.object.metadata));
        for meta in metas {
            let name = meta.name.clone().unwrap();
            assert!(name.starts_with(NAME_PREFIX), "{name}");
            assert!(
                seen.insert(meta.uid.clone().unwrap()),
                "uid of {name} repeats"
            );
        }
        assert!(services.iter().all(|s| s.object.spec.has_load_balancer()));
        // Stable: a later --cleanup run must reach the same objects.
        assert_eq!(uid("K", "ns", "a"), uid("K", "ns", "a"));
        assert_ne!(uid("K", "ns", "a"), uid("K", "ns2", "a"));
        assert_eq!(uid("K", "ns", "a").len(), 36);
    }

    #[test]
    fn changed_objects_differ_in_spec_and_keep_their_identity() {
        for shape in ingresses("ns").unwrap() {
            let changed = changed_ingress(&shape.object).unwrap();
            assert_ne!(changed.spec, shape.object.spec, "{}", shape.shape);
            assert_eq!(changed.metadata.uid, shape.object.metadata.uid);
            assert_eq!(changed.metadata.generation, Some(2));
        }
        for shape in services("ns").unwrap() {
            let changed = changed_service(&shape.object).unwrap();
            assert_ne!(changed.spec, shape.object.spec, "{}", shape.shape);
            assert_eq!(changed.metadata.name, shape.object.metadata.name);
        }
        let copy = renamed(&ingresses("ns").unwrap()[0].object, "p1").unwrap();
        assert_eq!(copy.metadata.name.as_deref(), Some("mcp-verify-minimal-p1"));
        assert_ne!(
            copy.metadata.uid,
            ingresses("ns").unwrap()[0].object.metadata.uid
        );
    }
}
