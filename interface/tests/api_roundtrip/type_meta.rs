//! What the types promise beyond their fields: type meta written first and checked on read,
//! k8s-openapi's `Resource` constants and `Metadata` on the wire, and (feature `schema`) JSON
//! schemas that describe the wire format.

use std::collections::BTreeSet;

use k8s_openapi::{ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::{ServiceExport, ServiceImport};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::{ClusterResourceBinding, ResourceBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{data_dir, documents, examples_dir, yaml_files};

#[test]
fn serialization_writes_api_version_and_kind_first() {
    let mci = MultiClusterIngress::default();
    let text = serde_json::to_string(&mci).unwrap();
    assert_eq!(
        text,
        r#"{"apiVersion":"networking.karmada.io/v1alpha1","kind":"MultiClusterIngress","metadata":{}}"#
    );
    let export = ServiceExport::default();
    assert_eq!(
        serde_json::to_value(&export).unwrap(),
        json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport", "metadata": {}})
    );
}

#[test]
fn deserialization_checks_type_meta_and_required_spec() {
    let wrong_kind = json!({"apiVersion": "networking.karmada.io/v1alpha1", "kind": "Ingress"});
    let err = serde_json::from_value::<MultiClusterIngress>(wrong_kind).unwrap_err();
    assert!(err.to_string().contains("MultiClusterIngress"), "{err}");

    let wrong_version = json!({"apiVersion": "work.karmada.io/v1alpha1", "kind": "ResourceBinding",
        "spec": {"resource": {"apiVersion": "v1", "kind": "Service", "name": "web"}}});
    assert!(serde_json::from_value::<ResourceBinding>(wrong_version).is_err());

    let no_spec = json!({"apiVersion": "networking.karmada.io/v1alpha1",
        "kind": "MultiClusterService", "metadata": {"name": "foo"}});
    let err = serde_json::from_value::<MultiClusterService>(no_spec).unwrap_err();
    assert!(err.to_string().contains("spec"), "{err}");

    // Type meta may be absent (as in some list items) and unknown fields are ignored.
    let lenient = json!({"metadata": {"name": "x"}, "spec": {}, "futureField": {"a": 1},
        "status": {"futureStatus": true}});
    let mci: MultiClusterIngress = serde_json::from_value(lenient).unwrap();
    assert_eq!(mci.metadata.name.as_deref(), Some("x"));
}

#[test]
fn resource_trait_constants() {
    fn namespaced<T: Resource<Scope = NamespaceResourceScope> + ListableResource>()
    -> [&'static str; 6] {
        [
            T::API_VERSION,
            T::GROUP,
            T::VERSION,
            T::KIND,
            T::URL_PATH_SEGMENT,
            T::LIST_KIND,
        ]
    }
    fn cluster_scoped<T: Resource<Scope = ClusterResourceScope> + ListableResource>()
    -> [&'static str; 6] {
        [
            T::API_VERSION,
            T::GROUP,
            T::VERSION,
            T::KIND,
            T::URL_PATH_SEGMENT,
            T::LIST_KIND,
        ]
    }
    assert_eq!(
        namespaced::<MultiClusterIngress>(),
        [
            "networking.karmada.io/v1alpha1",
            "networking.karmada.io",
            "v1alpha1",
            "MultiClusterIngress",
            "multiclusteringresses",
            "MultiClusterIngressList"
        ]
    );
    assert_eq!(
        namespaced::<MultiClusterService>(),
        [
            "networking.karmada.io/v1alpha1",
            "networking.karmada.io",
            "v1alpha1",
            "MultiClusterService",
            "multiclusterservices",
            "MultiClusterServiceList"
        ]
    );
    assert_eq!(
        namespaced::<ResourceBinding>(),
        [
            "work.karmada.io/v1alpha2",
            "work.karmada.io",
            "v1alpha2",
            "ResourceBinding",
            "resourcebindings",
            "ResourceBindingList"
        ]
    );
    assert_eq!(
        cluster_scoped::<ClusterResourceBinding>(),
        [
            "work.karmada.io/v1alpha2",
            "work.karmada.io",
            "v1alpha2",
            "ClusterResourceBinding",
            "clusterresourcebindings",
            "ClusterResourceBindingList"
        ]
    );
    assert_eq!(
        namespaced::<PropagationPolicy>(),
        [
            "policy.karmada.io/v1alpha1",
            "policy.karmada.io",
            "v1alpha1",
            "PropagationPolicy",
            "propagationpolicies",
            "PropagationPolicyList"
        ]
    );
    assert_eq!(
        cluster_scoped::<ClusterPropagationPolicy>(),
        [
            "policy.karmada.io/v1alpha1",
            "policy.karmada.io",
            "v1alpha1",
            "ClusterPropagationPolicy",
            "clusterpropagationpolicies",
            "ClusterPropagationPolicyList"
        ]
    );
    assert_eq!(
        cluster_scoped::<Cluster>(),
        [
            "cluster.karmada.io/v1alpha1",
            "cluster.karmada.io",
            "v1alpha1",
            "Cluster",
            "clusters",
            "ClusterList"
        ]
    );
    assert_eq!(
        namespaced::<ServiceExport>(),
        [
            "multicluster.x-k8s.io/v1alpha1",
            "multicluster.x-k8s.io",
            "v1alpha1",
            "ServiceExport",
            "serviceexports",
            "ServiceExportList"
        ]
    );
    assert_eq!(
        namespaced::<ServiceImport>(),
        [
            "multicluster.x-k8s.io/v1alpha1",
            "multicluster.x-k8s.io",
            "v1alpha1",
            "ServiceImport",
            "serviceimports",
            "ServiceImportList"
        ]
    );
}

/// `Metadata` reads and writes the very `metadata` the wire carries: what `metadata()` gives of
/// a published object is its YAML's `metadata`, and a change through `metadata_mut()` is, once
/// encoded, the only change to the object's JSON.
fn metadata_on_the_wire<T>(doc: &serde_yaml::Value, origin: &str)
where
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>
        + Serialize
        + DeserializeOwned,
{
    let published: Value = serde_json::to_value(doc).expect("YAML document as JSON");
    let mut typed: T = serde_yaml::from_value(doc.clone()).expect("YAML -> typed");
    let read = serde_json::to_value(typed.metadata()).expect("ObjectMeta -> JSON");
    assert_eq!(read, published["metadata"], "{origin}: metadata() differs");
    assert!(
        read["name"].is_string(),
        "{origin}: a published object has a name"
    );

    typed.metadata_mut().name = Some("renamed".into());
    typed
        .metadata_mut()
        .labels
        .get_or_insert_with(Default::default)
        .insert("round-trip".into(), "yes".into());
    let mut expected = published.clone();
    expected["metadata"]["name"] = json!("renamed");
    expected["metadata"]["labels"]["round-trip"] = json!("yes");
    let encoded = serde_json::to_value(&typed).expect("typed -> JSON");
    assert_eq!(encoded, expected, "{origin}: metadata_mut() changed more");
    let decoded: T = serde_json::from_str(&encoded.to_string()).expect("JSON text -> typed");
    assert_eq!(
        decoded.metadata().name.as_deref(),
        Some("renamed"),
        "{origin}"
    );
}

#[test]
fn metadata_trait_is_the_encoded_metadata() {
    let mut kinds = BTreeSet::new();
    for file in yaml_files(&data_dir())
        .into_iter()
        .chain(yaml_files(&examples_dir()))
    {
        for (i, doc) in documents(&file).iter().enumerate() {
            let origin = format!("{} #{i}", file.display());
            let kind = doc.get("kind").and_then(serde_yaml::Value::as_str);
            match kind.unwrap_or_default() {
                "MultiClusterIngress" => metadata_on_the_wire::<MultiClusterIngress>(doc, &origin),
                "MultiClusterService" => metadata_on_the_wire::<MultiClusterService>(doc, &origin),
                "ResourceBinding" => metadata_on_the_wire::<ResourceBinding>(doc, &origin),
                "ClusterResourceBinding" => {
                    metadata_on_the_wire::<ClusterResourceBinding>(doc, &origin)
                }
                "PropagationPolicy" => metadata_on_the_wire::<PropagationPolicy>(doc, &origin),
                "ClusterPropagationPolicy" => {
                    metadata_on_the_wire::<ClusterPropagationPolicy>(doc, &origin)
                }
                "Cluster" => metadata_on_the_wire::<Cluster>(doc, &origin),
                "ServiceExport" => metadata_on_the_wire::<ServiceExport>(doc, &origin),
                "ServiceImport" => metadata_on_the_wire::<ServiceImport>(doc, &origin),
                _ => continue,
            }
            kinds.insert(kind.unwrap_or_default().to_owned());
        }
    }
    assert_eq!(kinds.len(), 9, "every Karmada kind is checked: {kinds:?}");
}

#[cfg(feature = "schema")]
#[test]
fn json_schemas_describe_the_wire_format() {
    let mci = serde_json::to_value(schemars::schema_for!(MultiClusterIngress)).unwrap();
    for key in ["apiVersion", "kind", "metadata", "spec", "status"] {
        assert!(
            mci["properties"].get(key).is_some(),
            "MCI schema lacks {key}: {mci}"
        );
    }
    let mcs = serde_json::to_value(schemars::schema_for!(MultiClusterService)).unwrap();
    assert_eq!(mcs["required"], json!(["spec"]));

    let rb = serde_json::to_value(schemars::schema_for!(ResourceBinding)).unwrap();
    let text = rb.to_string();
    assert!(text.contains("schedulerObservingAffinityName"));
    assert!(text.contains("x-kubernetes-preserve-unknown-fields"));
    let pp = serde_json::to_value(schemars::schema_for!(PropagationPolicy)).unwrap();
    let text = pp.to_string();
    assert!(text.contains("\"exclude\"") && text.contains("affinityName"));
    let cluster = serde_json::to_value(schemars::schema_for!(Cluster))
        .unwrap()
        .to_string();
    assert!(cluster.contains("insecureSkipTLSVerification") && cluster.contains("proxyURL"));
}
