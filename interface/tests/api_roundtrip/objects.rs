//! Each Karmada kind from a realistic object (`tests/data/`): it round-trips, and its fields
//! read back as Karmada writes them.

use std::collections::BTreeSet;

use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::mcs::{ServiceExport, ServiceImport};
use mcp_interface::api::networking::{
    EXPOSURE_TYPE_CROSS_CLUSTER, EXPOSURE_TYPE_LOAD_BALANCER, MultiClusterIngress,
    MultiClusterService,
};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::{ClusterResourceBinding, ResourceBinding, binding_name};
use serde_json::json;

use crate::{data, round_trip};

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
