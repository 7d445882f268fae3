//! Sample objects of the shapes the controller writes, shared by the smoke and conformance
//! tests. Each test binary declares it `pub mod common;`, so an item one binary does not use
//! is exported there rather than reported dead.

use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client};
use serde_json::{Value, json};

/// One CRD kind exercised by the tests.
pub struct Sample {
    pub crd: &'static str,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// The object to create (metadata.name is set; namespace is filled in by the test).
    pub object: Value,
    /// A status to write through the status subresource (`None`: the kind has none).
    pub status: Option<Value>,
}

pub const TIME: &str = "2024-01-02T03:04:05Z";

pub fn condition(type_: &str) -> Value {
    json!({
        "type": type_, "status": "True", "reason": "Ready", "message": "all good",
        "lastTransitionTime": TIME, "observedGeneration": 1,
    })
}

/// A representative object of every CRD kind, named `name` (cluster-scoped kinds get the
/// name as is, so callers pass unique names).
pub fn samples(name: &str) -> Vec<Sample> {
    vec![
        Sample {
            crd: "multiclusteringresses.networking.karmada.io",
            api_version: "networking.karmada.io/v1alpha1",
            kind: "MultiClusterIngress",
            namespaced: true,
            object: json!({"metadata": {"name": name}, "spec": {
                "ingressClassName": "fake",
                "rules": [{"host": "demo.example.com", "http": {"paths": [{
                    "path": "/testpath", "pathType": "Prefix",
                    "backend": {"service": {"name": "serve", "port": {"number": 80}}},
                }]}}],
            }}),
            status: Some(json!({
                "loadBalancer": {"ingress": [
                    {"ip": "1.2.3.4"},
                    {"hostname": "lb.example.com",
                     "ports": [{"port": 80, "protocol": "TCP", "error": "karmada.io/pending"}]},
                ]},
                "serviceLocations": [{"name": "serve", "clusters": ["member1", "member2"]}],
                "trafficBlockClusters": ["member3"],
            })),
        },
        Sample {
            crd: "multiclusterservices.networking.karmada.io",
            api_version: "networking.karmada.io/v1alpha1",
            kind: "MultiClusterService",
            namespaced: true,
            object: json!({"metadata": {"name": name}, "spec": {
                "types": ["LoadBalancer", "CrossCluster"],
                "ports": [{"name": "http", "port": 80}],
                "providerClusters": [{"name": "member1"}],
                "consumerClusters": [{"name": "member2"}],
            }}),
            status: Some(json!({
                "loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP",
                    "ports": [{"port": 80, "protocol": "TCP", "error": "Pending"}]}]},
                "conditions": [condition("LoadBalancerApplied")],
            })),
        },
        Sample {
            crd: "resourcebindings.work.karmada.io",
            api_version: "work.karmada.io/v1alpha2",
            kind: "ResourceBinding",
            namespaced: true,
            object: json!({"metadata": {"name": name}, "spec": {
                "resource": {"apiVersion": "v1", "kind": "Service", "name": "serve",
                             "namespace": "default", "resourceVersion": "1", "uid": "abc"},
                "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2"}],
                "requiredBy": [{"name": "parent", "namespace": "default",
                                "clusters": [{"name": "member1"}]}],
            }}),
            status: Some(json!({"conditions": [condition("Scheduled")]})),
        },
        Sample {
            crd: "propagationpolicies.policy.karmada.io",
            api_version: "policy.karmada.io/v1alpha1",
            kind: "PropagationPolicy",
            namespaced: true,
            object: json!({"metadata": {"name": name}, "spec": {
                "resourceSelectors": [{"apiVersion": "multicluster.x-k8s.io/v1alpha1",
                                       "kind": "ServiceExport", "name": "serve"}],
                "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}},
            }}),
            status: None,
        },
        Sample {
            crd: "clusterpropagationpolicies.policy.karmada.io",
            api_version: "policy.karmada.io/v1alpha1",
            kind: "ClusterPropagationPolicy",
            namespaced: false,
            object: cpp(name),
            status: None,
        },
        Sample {
            crd: "serviceexports.multicluster.x-k8s.io",
            api_version: "multicluster.x-k8s.io/v1alpha1",
            kind: "ServiceExport",
            namespaced: true,
            object: json!({"metadata": {"name": name}}),
            status: Some(json!({"conditions": [condition("Valid")]})),
        },
        Sample {
            crd: "serviceimports.multicluster.x-k8s.io",
            api_version: "multicluster.x-k8s.io/v1alpha1",
            kind: "ServiceImport",
            namespaced: true,
            object: json!({"metadata": {"name": name}, "spec": {
                "type": "ClusterSetIP", "ports": [{"port": 80, "protocol": "TCP"}],
            }}),
            status: Some(json!({"clusters": [{"cluster": "member1"}]})),
        },
        Sample {
            crd: "clusters.cluster.karmada.io",
            api_version: "cluster.karmada.io/v1alpha1",
            kind: "Cluster",
            namespaced: false,
            object: json!({"metadata": {"name": name}, "spec": {
                "syncMode": "Push", "provider": "fake", "region": "r1", "zone": "z1",
                "taints": [{"key": "cluster.karmada.io/not-ready", "effect": "NoExecute"}],
            }}),
            status: Some(json!({
                "remedyActions": ["TrafficControl"],
                "conditions": [condition("Ready")],
                "kubernetesVersion": "v1.36.3",
            })),
        },
    ]
}

/// The ClusterPropagationPolicy the serviceexport-propagation controller writes.
pub fn cpp(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {
        "resourceSelectors": [{"apiVersion": "apiextensions.k8s.io/v1",
                               "kind": "CustomResourceDefinition",
                               "name": "serviceexports.multicluster.x-k8s.io"}],
        "placement": {"clusterTolerations": [
            {"key": "cluster.karmada.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
            {"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        ]},
    }})
}

/// An `Api<DynamicObject>` for a kind, found through discovery.
pub async fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: &str,
) -> (Api<DynamicObject>, ApiResource) {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("discovering {api_version} {kind}: {e}"));
    let api = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), namespace, &resource),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    (api, resource)
}

/// A typed-less object with apiVersion/kind set from the sample.
pub fn dynamic_object(api_version: &str, kind: &str, mut value: Value) -> DynamicObject {
    value["apiVersion"] = json!(api_version);
    value["kind"] = json!(kind);
    serde_json::from_value(value).expect("a valid object")
}

/// A random suffix for names of cluster-scoped objects.
pub fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}
