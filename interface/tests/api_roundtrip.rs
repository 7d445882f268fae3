//! Wire compatibility of the Karmada API types: realistic objects (the project's `examples/` and
//! `tests/data/`) must survive YAML -> typed -> JSON unchanged, so a field that is dropped,
//! renamed or mis-cased fails here.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use k8s_openapi::{ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource};
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::mcs::{ServiceExport, ServiceImport};
use mcp_interface::api::networking::{
    EXPOSURE_TYPE_CROSS_CLUSTER, EXPOSURE_TYPE_LOAD_BALANCER, MultiClusterIngress,
    MultiClusterService,
};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::{ClusterResourceBinding, ResourceBinding, binding_name};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::{Value, json};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// The YAML documents of a file (empty documents skipped).
fn documents(path: &Path) -> Vec<serde_yaml::Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

/// YAML -> typed -> JSON must equal YAML -> JSON exactly; typed -> JSON -> typed must be
/// lossless too.
fn round_trip<T>(doc: &serde_yaml::Value, origin: &str) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let expected: Value = serde_json::to_value(doc).expect("YAML document as JSON");
    let typed: T = serde_yaml::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{origin}: YAML -> {}: {e}", std::any::type_name::<T>()));
    let actual = serde_json::to_value(&typed).expect("typed -> JSON");
    if actual != expected {
        let mut differences = Vec::new();
        diff("", &expected, &actual, &mut differences);
        panic!(
            "{origin}: round trip changed the object:\n  {}",
            differences.join("\n  ")
        );
    }
    let again: T = serde_json::from_value(actual).expect("JSON -> typed");
    assert_eq!(
        again, typed,
        "{origin}: typed -> JSON -> typed changed the object"
    );
    let from_text: T =
        serde_json::from_str(&serde_json::to_string(&typed).unwrap()).expect("JSON text -> typed");
    assert_eq!(from_text, typed, "{origin}: typed -> JSON text -> typed");
    typed
}

/// Collects the JSON paths where `after` differs from `before`.
fn diff(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, value) in b {
                match a.get(key) {
                    Some(other) => diff(&format!("{path}.{key}"), value, other, out),
                    None => out.push(format!("{path}.{key}: dropped (was {value})")),
                }
            }
            for (key, value) in a {
                if !b.contains_key(key) {
                    out.push(format!("{path}.{key}: added ({value})"));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (x, y)) in b.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if before != after => out.push(format!("{path}: {before} became {after}")),
        _ => {}
    }
}

/// Round-trips one document with the type its `kind` names.
fn round_trip_document(doc: &serde_yaml::Value, origin: &str) {
    let kind = doc
        .get("kind")
        .and_then(serde_yaml::Value::as_str)
        .unwrap_or_else(|| panic!("{origin}: document without kind"));
    match kind {
        "MultiClusterIngress" => drop(round_trip::<MultiClusterIngress>(doc, origin)),
        "MultiClusterService" => drop(round_trip::<MultiClusterService>(doc, origin)),
        "ResourceBinding" => drop(round_trip::<ResourceBinding>(doc, origin)),
        "ClusterResourceBinding" => drop(round_trip::<ClusterResourceBinding>(doc, origin)),
        "PropagationPolicy" => drop(round_trip::<PropagationPolicy>(doc, origin)),
        "ClusterPropagationPolicy" => drop(round_trip::<ClusterPropagationPolicy>(doc, origin)),
        "Cluster" => drop(round_trip::<Cluster>(doc, origin)),
        "ServiceExport" => drop(round_trip::<ServiceExport>(doc, origin)),
        "ServiceImport" => drop(round_trip::<ServiceImport>(doc, origin)),
        // Kubernetes kinds in the examples: k8s-openapi's types, for completeness.
        "Deployment" => drop(round_trip::<k8s_openapi::api::apps::v1::Deployment>(
            doc, origin,
        )),
        "Service" => drop(round_trip::<k8s_openapi::api::core::v1::Service>(
            doc, origin,
        )),
        "IngressClass" => {
            drop(round_trip::<k8s_openapi::api::networking::v1::IngressClass>(doc, origin))
        }
        other => panic!("{origin}: no round-trip type for kind {other}; add it here"),
    }
}

/// Round-trips the single document of `tests/data/<name>` as `T`.
fn data<T>(name: &str) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let path = data_dir().join(name);
    let docs = documents(&path);
    assert_eq!(docs.len(), 1, "{name}: expected one document");
    round_trip(&docs[0], name)
}

#[test]
fn every_example_round_trips() {
    let files = yaml_files(&examples_dir());
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    for expected in ["application.yaml", "ingressclass-fake.yaml", "mci.yaml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing"
        );
    }
    for file in files {
        for (i, doc) in documents(&file).iter().enumerate() {
            round_trip_document(doc, &format!("{} #{i}", file.display()));
        }
    }
}

#[test]
fn every_data_file_round_trips() {
    let files = yaml_files(&data_dir());
    assert!(files.len() >= 15, "tests/data lost files: {files:?}");
    for file in files {
        for (i, doc) in documents(&file).iter().enumerate() {
            round_trip_document(doc, &format!("{} #{i}", file.display()));
        }
    }
}

#[test]
fn mci_with_tls_three_rules_and_default_backend() {
    let mci: MultiClusterIngress = data("mci-tls-three-rules.yaml");
    let spec = mci.spec.as_ref().expect("spec");
    assert_eq!(spec.ingress_class_name.as_deref(), Some("fake"));
    assert_eq!(spec.tls.as_ref().map(Vec::len), Some(2));
    assert_eq!(spec.rules.as_ref().map(Vec::len), Some(3));
    assert!(spec.default_backend.is_some());
    assert!(mci.status.is_none());
    assert_eq!(
        mci.metadata.finalizers.as_deref(),
        Some(&["karmada.io/multi-cluster-ingress-controller".to_owned()][..])
    );
}

#[test]
fn mci_full_status() {
    let mci: MultiClusterIngress = data("mci-full-status.yaml");
    let status = mci.status.expect("status");
    let ingress = status.load_balancer.unwrap().ingress.unwrap();
    let ports = ingress[0].ports.as_ref().unwrap();
    assert_eq!(ports[1].error.as_deref(), Some("CertificateNotReady"));
    assert_eq!(
        ingress[1].hostname.as_deref(),
        Some("demo-lb.fake.example.com")
    );
    assert_eq!(
        status.traffic_block_clusters,
        Some(vec!["member2".to_owned()])
    );
    let locations = status.service_locations.unwrap();
    assert_eq!(locations[0].name, "web");
    assert_eq!(
        locations[0].clusters,
        Some(vec!["member1".to_owned(), "member2".to_owned()])
    );
    assert_eq!(locations[1].clusters, None);
}

#[test]
fn mcs_load_balancer_with_status_and_conditions() {
    let mcs: MultiClusterService = data("mcs-loadbalancer-status.yaml");
    assert!(mcs.spec.has_load_balancer());
    assert!(!mcs.spec.has_cross_cluster());
    let ports = mcs.spec.ports.as_ref().unwrap();
    assert_eq!(ports[0].name.as_deref(), Some("http"));
    assert_eq!(ports[1].port, 443);
    let status = mcs.status.unwrap();
    let ingress = status.load_balancer.unwrap().ingress.unwrap();
    assert_eq!(ingress[0].ip_mode.as_deref(), Some("VIP"));
    assert_eq!(status.conditions.unwrap()[0].type_, "ServiceApplied");
}

#[test]
fn mcs_cross_cluster_with_deprecated_fields() {
    let mcs: MultiClusterService = data("mcs-crosscluster.yaml");
    assert!(mcs.spec.has_cross_cluster());
    assert!(!mcs.spec.has_load_balancer());
    let names = |v: &Option<Vec<mcp_interface::api::networking::ClusterSelector>>| -> Vec<String> {
        v.iter().flatten().map(|c| c.name.clone()).collect()
    };
    assert_eq!(names(&mcs.spec.provider_clusters), ["member1"]);
    assert_eq!(names(&mcs.spec.consumer_clusters), ["member2", "member3"]);
    assert_eq!(
        mcs.spec.range.unwrap().cluster_names,
        Some(vec!["member2".to_owned()])
    );
    assert_eq!(
        mcs.spec.service_provision_clusters,
        Some(vec!["member1".to_owned()])
    );
    assert_eq!(
        mcs.spec.service_consumption_clusters,
        Some(vec!["member2".to_owned()])
    );
}

#[test]
fn mcs_unknown_exposure_type_round_trips() {
    let doc: serde_yaml::Value = serde_yaml::from_str(
        "apiVersion: networking.karmada.io/v1alpha1\n\
         kind: MultiClusterService\n\
         metadata: {name: foo, namespace: default}\n\
         spec:\n  types: [LoadBalancer, GlobalAnycast]\n",
    )
    .unwrap();
    let mcs: MultiClusterService = round_trip(&doc, "inline");
    assert_eq!(
        mcs.spec.types,
        [EXPOSURE_TYPE_LOAD_BALANCER, "GlobalAnycast"]
    );
    assert!(mcs.spec.has_load_balancer());
    assert!(!mcs.spec.has_type(EXPOSURE_TYPE_CROSS_CLUSTER));
}

#[test]
fn go_style_empty_structs_round_trip() {
    // Go never omits non-pointer structs: `range: {}`, `placement: {}`, `status: {}`,
    // `loadBalancer: {}`.
    let mcs = json!({
        "apiVersion": "networking.karmada.io/v1alpha1",
        "kind": "MultiClusterService",
        "metadata": {"name": "foo", "namespace": "default"},
        "spec": {"types": ["LoadBalancer"], "range": {}},
        "status": {"loadBalancer": {}}
    });
    let typed: MultiClusterService = serde_json::from_value(mcs.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), mcs);

    let mci = json!({
        "apiVersion": "networking.karmada.io/v1alpha1",
        "kind": "MultiClusterIngress",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {},
        "status": {"loadBalancer": {}}
    });
    let typed: MultiClusterIngress = serde_json::from_value(mci.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), mci);

    let pp = json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}], "placement": {}}
    });
    let typed: PropagationPolicy = serde_json::from_value(pp.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), pp);
}

#[test]
fn resource_binding_for_a_service() {
    let rb: ResourceBinding = data("rb-service.yaml");
    assert_eq!(rb.spec.resource.kind, "Service");
    assert_eq!(
        rb.metadata.name.as_deref(),
        Some(binding_name(&rb.spec.resource.kind, &rb.spec.resource.name).as_str())
    );
    assert_eq!(
        rb.scheduled_clusters(),
        BTreeSet::from([
            "member1".to_owned(),
            "member2".to_owned(),
            "member3".to_owned()
        ])
    );
    let status = rb.status.unwrap();
    let aggregated = status.aggregated_status.unwrap();
    assert_eq!(aggregated[0].status, Some(json!({"loadBalancer": {}})));
    assert_eq!(aggregated[1].health.as_deref(), Some("Unknown"));
    assert_eq!(status.scheduler_observed_generation, Some(3));
}

#[test]
fn resource_binding_full_spec() {
    let rb: ResourceBinding = data("rb-deployment.yaml");
    let spec = &rb.spec;
    assert_eq!(spec.replicas, Some(3));
    let placement = spec.placement.as_ref().unwrap();
    let affinities = placement.cluster_affinities.as_ref().unwrap();
    assert_eq!(affinities[0].affinity_name, "primary");
    assert_eq!(
        affinities[0].cluster_affinity.exclude_clusters,
        Some(vec!["member4".to_owned()])
    );
    let eviction = &spec.graceful_eviction_tasks.as_ref().unwrap()[0];
    assert_eq!(eviction.from_cluster, "member2");
    assert_eq!(
        eviction.producer,
        "resource-binding-graceful-eviction-controller"
    );
    assert_eq!(spec.suspension.as_ref().unwrap().scheduling, Some(false));
    assert_eq!(
        spec.schedule_priority.as_ref().unwrap().priority,
        Some(1000)
    );
    let status = rb.status.as_ref().unwrap();
    assert_eq!(
        status.scheduler_observed_affinity_name.as_deref(),
        Some("primary")
    );
    assert_eq!(
        rb.scheduled_clusters().into_iter().collect::<Vec<_>>(),
        ["member1", "member3"]
    );
}

#[test]
fn resource_binding_components_and_empty_status() {
    let rb: ResourceBinding = data("rb-components.yaml");
    let components = rb.spec.components.as_ref().unwrap();
    assert_eq!(components[1].name, "taskmanager");
    assert_eq!(components[1].replicas, 4);
    assert_eq!(rb.status, Some(Default::default()));
}

#[test]
fn cluster_resource_binding() {
    let crb: ClusterResourceBinding = data("crb-clusterrole.yaml");
    assert_eq!(crb.metadata.namespace, None);
    assert_eq!(
        crb.metadata.name.as_deref(),
        Some(binding_name("ClusterRole", "system:controller:tom").as_str())
    );
    assert_eq!(crb.scheduled_clusters().len(), 2);
}

#[test]
fn propagation_policies_with_server_defaults() {
    let pp: PropagationPolicy = data("pp-full.yaml");
    assert_eq!(pp.spec.conflict_resolution.as_deref(), Some("Abort"));
    assert_eq!(pp.spec.preemption.as_deref(), Some("Never"));
    assert_eq!(pp.spec.priority, Some(0));
    assert_eq!(pp.spec.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pp.spec.resource_selectors.len(), 2);

    let export: PropagationPolicy = data("pp-service-export.yaml");
    let affinity = export.spec.placement.unwrap().cluster_affinity.unwrap();
    assert_eq!(affinity.cluster_names.map(|c| c.len()), Some(3));

    let cpp: ClusterPropagationPolicy = data("cpp-serviceexport-crd.yaml");
    assert_eq!(
        cpp.metadata.name.as_deref(),
        Some("serviceexportpropagation-policy")
    );
    let tolerations = cpp.spec.placement.unwrap().cluster_tolerations.unwrap();
    assert_eq!(
        tolerations[1].key.as_deref(),
        Some("cluster.karmada.io/unreachable")
    );

    let cpp: ClusterPropagationPolicy = data("cpp-full.yaml");
    let affinity = cpp.spec.placement.unwrap().cluster_affinity.unwrap();
    assert_eq!(affinity.exclude_clusters, Some(vec!["member3".to_owned()]));
    assert!(affinity.field_selector.is_some());
}

#[test]
fn clusters() {
    let member1: Cluster = data("cluster-push.yaml");
    assert!(member1.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL));
    assert!(!member1.is_ready());
    assert_eq!(
        member1.spec.proxy_url.as_deref(),
        Some("socks5://proxy.example.com:1080")
    );
    assert_eq!(
        member1.spec.api_endpoint.as_deref(),
        Some("https://172.18.0.3:6443")
    );
    assert_eq!(member1.spec.insecure_skip_tls_verification, Some(false));
    assert_eq!(member1.spec.taints.as_ref().map(Vec::len), Some(3));
    let summary = member1
        .status
        .as_ref()
        .unwrap()
        .resource_summary
        .as_ref()
        .unwrap();
    assert_eq!(summary.allocated.as_ref().unwrap()["cpu"].0, "3500m");

    let member3: Cluster = data("cluster-pull.yaml");
    assert!(!member3.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL));
    assert!(member3.is_ready());
    assert_eq!(member3.spec.sync_mode, "Pull");
}

#[test]
fn service_export_and_import() {
    let export: ServiceExport = data("serviceexport.yaml");
    let conditions = export.status.unwrap().conditions.unwrap();
    assert_eq!(conditions[0].type_, "Valid");
    assert_eq!(conditions[1].message, "");

    let import: ServiceImport = data("serviceimport.yaml");
    let spec = import.spec.unwrap();
    assert_eq!(spec.type_, "ClusterSetIP");
    assert_eq!(spec.ports[0].app_protocol.as_deref(), Some("http"));
    assert_eq!(import.status.unwrap().clusters.unwrap().len(), 2);
}

#[test]
fn binding_names_follow_karmada() {
    assert_eq!(binding_name("Service", "web"), "web-service");
    assert_eq!(
        binding_name("Role", "system:controller:tom"),
        "system.controller.tom-role"
    );
    assert_eq!(binding_name("Pods", "Pod"), "pod-pods");
}

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
