//! `work.karmada.io/v1alpha2` (the storage version): ResourceBinding and ClusterResourceBinding.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{NodeSelector, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

use super::ResourceList;
use super::karmada_resource;
use super::policy::{FailoverBehavior, Placement, SuspendClusters};

/// API group of this module.
pub const GROUP: &str = "work.karmada.io";
/// API version of this module.
pub const VERSION: &str = "v1alpha2";

karmada_resource! {
    /// Binds a namespaced resource template to the clusters it is scheduled to (shortName `rb`).
    /// Created by Karmada in the template's namespace, named [`binding_name`]`(kind, name)`.
    pub struct ResourceBinding {
        group: "work.karmada.io",
        version: "v1alpha2",
        kind: "ResourceBinding",
        plural: "resourcebindings",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The desired state (required by the CRD).
        spec: required ResourceBindingSpec = "spec",
        /// The observed state.
        status: optional ResourceBindingStatus = "status",
    }
}

karmada_resource! {
    /// Binds a cluster-scoped resource template to the clusters it is scheduled to (shortName
    /// `crb`). Same spec and status as [`ResourceBinding`].
    pub struct ClusterResourceBinding {
        group: "work.karmada.io",
        version: "v1alpha2",
        kind: "ClusterResourceBinding",
        plural: "clusterresourcebindings",
        scope: ClusterResourceScope,
    }
    fields {
        /// The desired state (required by the CRD).
        spec: required ResourceBindingSpec = "spec",
        /// The observed state.
        status: optional ResourceBindingStatus = "status",
    }
}

/// Karmada's `names.GenerateBindingName(kind, name)`: `lower(name' + "-" + kind)` where `name'` is
/// `name` with every `:` replaced by `.`. Name first, then kind; no hash.
///
/// ```
/// use mcp_interface::api::work::binding_name;
/// assert_eq!(binding_name("Service", "web"), "web-service");
/// assert_eq!(binding_name("Role", "system:controller:tom"), "system.controller.tom-role");
/// ```
pub fn binding_name(kind: &str, name: &str) -> String {
    format!("{}-{kind}", name.replace(':', ".")).to_lowercase()
}

impl ResourceBinding {
    /// The clusters the bound resource is placed on: the union of `spec.clusters[].name` and
    /// `spec.requiredBy[].clusters[].name`, sorted (what the Go provider reads as a Service's
    /// placement).
    pub fn scheduled_clusters(&self) -> BTreeSet<String> {
        self.spec.scheduled_clusters()
    }
}

impl ClusterResourceBinding {
    /// See [`ResourceBinding::scheduled_clusters`].
    pub fn scheduled_clusters(&self) -> BTreeSet<String> {
        self.spec.scheduled_clusters()
    }
}

/// The desired state of a binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingSpec {
    /// The bound resource template (required).
    pub resource: ObjectReference,
    /// Whether the resource's dependencies are propagated too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    /// What one replica needs, for replica scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ReplicaRequirements>,
    /// Total replicas of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Components of a multi-component workload, with their own replicas and requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    /// The scheduling result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<TargetCluster>>,
    /// The placement copied from the matched policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Pending evictions from clusters being failed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_eviction_tasks: Option<Vec<GracefulEvictionTask>>,
    /// Bindings that depend on this one (their clusters also receive this resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<Vec<BindingSnapshot>>,
    /// The scheduler to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Failover behaviour copied from the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,
    /// `Abort` (CRD default) or `Overwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<String>,
    /// Reschedule when this is later than `status.lastScheduledTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_triggered_at: Option<Time>,
    /// Suspends scheduling or dispatching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// Keep the resources in member clusters when the template is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// Scheduling priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
}

impl ResourceBindingSpec {
    /// The union of `clusters[].name` and `requiredBy[].clusters[].name`, sorted.
    pub fn scheduled_clusters(&self) -> BTreeSet<String> {
        let direct = self.clusters.iter().flatten();
        let required = self
            .required_by
            .iter()
            .flatten()
            .flat_map(|snapshot| snapshot.clusters.iter().flatten());
        direct.chain(required).map(|c| c.name.clone()).collect()
    }
}

/// A reference to the bound resource template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// API version of the referent (required).
    pub api_version: String,
    /// Kind of the referent (required).
    pub kind: String,
    /// Namespace of the referent; empty for cluster-scoped resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the referent (required).
    pub name: String,
    /// UID of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// resourceVersion of the referent when it was bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// What one replica needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReplicaRequirements {
    /// Node constraints of a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    /// Resources one replica requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_request: Option<ResourceList>,
    /// Namespace of the workload (for quota checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// PriorityClass of the workload's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// What one replica of a component needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentReplicaRequirements {
    /// Node constraints of a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    /// Resources one replica requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_request: Option<ResourceList>,
    /// PriorityClass of the component's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// Node constraints of a replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeClaim {
    /// Required node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_node_affinity: Option<NodeSelector>,
    /// Node labels a replica needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Node taints a replica tolerates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
}

/// One component of a multi-component workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Component name (required, at most 32 characters).
    pub name: String,
    /// Replicas of the component (required).
    pub replicas: i32,
    /// What one replica of the component needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ComponentReplicaRequirements>,
}

/// A cluster the resource is scheduled to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TargetCluster {
    /// The cluster name (required).
    pub name: String,
    /// Replicas assigned to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// The scheduling result of a binding that depends on this one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BindingSnapshot {
    /// Namespace of the dependent binding; empty for a ClusterResourceBinding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the dependent binding (required).
    pub name: String,
    /// Its scheduling result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<TargetCluster>>,
}

/// A pending eviction of the resource from a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct GracefulEvictionTask {
    /// The cluster being evicted from (required).
    pub from_cluster: String,
    /// `Immediately`, `Gracefully` or `Never` (or the deprecated `Directly`/`Graciously`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<String>,
    /// Replicas evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Why, in CamelCase (required).
    pub reason: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The controller that started the eviction (required).
    pub producer: String,
    /// Seconds to wait before forcing the eviction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Keep the resource until it is healthy elsewhere, without a deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_deletion: Option<bool>,
    /// State preserved for the new cluster, as labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_label_state: Option<BTreeMap<String, String>>,
    /// The clusters before failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters_before_failover: Option<Vec<String>>,
    /// When the task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
}

/// Suspends scheduling or dispatching of a binding (Go inlines the policy Suspension and adds
/// `scheduling`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    /// Suspend dispatching to all clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching: Option<bool>,
    /// Suspend dispatching to these clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching_on_clusters: Option<SuspendClusters>,
    /// Suspend scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<bool>,
}

/// Scheduling priority of a binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    /// The priority (CRD default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

/// Condition type: the binding has been scheduled.
pub const CONDITION_SCHEDULED: &str = "Scheduled";
/// Condition type: the resource has been applied to every scheduled cluster.
pub const CONDITION_FULLY_APPLIED: &str = "FullyApplied";

/// The observed state of a binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingStatus {
    /// The generation the scheduler last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_observed_generation: Option<i64>,
    /// The affinity group the scheduler last used (Go `SchedulerObservedAffinityName`; the JSON
    /// key is `schedulerObservingAffinityName`).
    #[serde(
        default,
        rename = "schedulerObservingAffinityName",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduler_observed_affinity_name: Option<String>,
    /// When the binding was last scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_time: Option<Time>,
    /// `Scheduled`, `FullyApplied`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The resource's status in each member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated_status: Option<Vec<AggregatedStatusItem>>,
}

/// `health` values.
pub const RESOURCE_HEALTHY: &str = "Healthy";
/// `health` values.
pub const RESOURCE_UNHEALTHY: &str = "Unhealthy";
/// `health` values.
pub const RESOURCE_UNKNOWN: &str = "Unknown";

/// The resource's status in one member cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AggregatedStatusItem {
    /// The member cluster (required).
    pub cluster_name: String,
    /// The resource's status as the member cluster reports it (a RawExtension, kept verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(extend("x-kubernetes-preserve-unknown-fields" = true))
    )]
    pub status: Option<serde_json::Value>,
    /// Whether the resource was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    /// Why applying failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_message: Option<String>,
    /// `Healthy`, `Unhealthy` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}
