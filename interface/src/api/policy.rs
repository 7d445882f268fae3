//! `policy.karmada.io/v1alpha1`: PropagationPolicy and ClusterPropagationPolicy.
//!
//! Neither has a status. The server mutates what you send: CRD defaults fill
//! `conflictResolution: Abort`, `preemption: Never`, `priority: 0` and
//! `schedulerName: default-scheduler`, and the webhook fills `resourceSelectors[].namespace`, so
//! compare only the fields you own.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use super::karmada_resource;

/// API group of this module.
pub const GROUP: &str = "policy.karmada.io";
/// API version of this module.
pub const VERSION: &str = "v1alpha1";

karmada_resource! {
    /// Propagates the selected resources of its namespace to member clusters (shortName `pp`).
    pub struct PropagationPolicy {
        group: "policy.karmada.io",
        version: "v1alpha1",
        kind: "PropagationPolicy",
        plural: "propagationpolicies",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The propagation rules (required by the CRD).
        spec: required PropagationSpec = "spec",
    }
}

karmada_resource! {
    /// Propagates the selected resources of any namespace, or cluster-scoped resources, to member
    /// clusters (shortName `cpp`).
    pub struct ClusterPropagationPolicy {
        group: "policy.karmada.io",
        version: "v1alpha1",
        kind: "ClusterPropagationPolicy",
        plural: "clusterpropagationpolicies",
        scope: ClusterResourceScope,
    }
    fields {
        /// The propagation rules (required by the CRD).
        spec: required PropagationSpec = "spec",
    }
}

/// `spec.conflictResolution`: stop when the resource already exists in a member cluster.
pub const CONFLICT_RESOLUTION_ABORT: &str = "Abort";
/// `spec.conflictResolution`: take over a resource that already exists in a member cluster.
pub const CONFLICT_RESOLUTION_OVERWRITE: &str = "Overwrite";
/// `spec.preemption`: the policy may take over resources claimed by lower-priority policies.
pub const PREEMPT_ALWAYS: &str = "Always";
/// `spec.preemption` default.
pub const PREEMPT_NEVER: &str = "Never";
/// `spec.activationPreference`: changes to the policy apply only when the resource changes.
pub const ACTIVATION_PREFERENCE_LAZY: &str = "Lazy";
/// `spec.schedulerName` default.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// The propagation rules shared by [`PropagationPolicy`] and [`ClusterPropagationPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PropagationSpec {
    /// The resources this policy propagates (required).
    #[serde(default)]
    pub resource_selectors: Vec<ResourceSelector>,
    /// Deprecated: use `propagateDeps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association: Option<bool>,
    /// Also propagate the resources the selected ones depend on (ConfigMaps, Secrets, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    /// Where the resources go. Go always sends it (as `{}` when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Policy priority; higher wins when several policies match (CRD default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `Always` or `Never` (CRD default `Never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption: Option<String>,
    /// OverridePolicies that must exist before the resources propagate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependent_overrides: Option<Vec<String>>,
    /// The scheduler to use (CRD default `default-scheduler`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// How to fail over when a cluster or application fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,
    /// `Abort` (CRD default) or `Overwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<String>,
    /// `Lazy`, or unset for immediate activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_preference: Option<String>,
    /// Suspends dispatching of the selected resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// Keep the resources in member clusters when the template is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// Scheduling priority of the bindings this policy produces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
}

/// Selects resource templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelector {
    /// API version of the target resources (required).
    pub api_version: String,
    /// Kind of the target resources (required).
    pub kind: String,
    /// Namespace of the target resources; the webhook fills in the policy's namespace for a PP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the target resource; empty selects by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Label query; ignored when `name` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// Where resources are propagated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The candidate clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinity: Option<ClusterAffinity>,
    /// Ordered affinity groups, tried one after another (exclusive with `clusterAffinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinities: Option<Vec<ClusterAffinityTerm>>,
    /// Taints of member clusters to tolerate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_tolerations: Option<Vec<Toleration>>,
    /// How to spread over cluster groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_constraints: Option<Vec<SpreadConstraint>>,
    /// How replicas are assigned to clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling: Option<ReplicaSchedulingStrategy>,
}

/// A set of clusters, by label, field, name and exclusion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinity {
    /// Clusters whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Clusters whose fields (`provider`, `region`, `zone`) match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selector: Option<FieldSelector>,
    /// Clusters by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_names: Option<Vec<String>>,
    /// Clusters to leave out (Go: `ExcludeClusters`, JSON `exclude`).
    #[serde(default, rename = "exclude", skip_serializing_if = "Option::is_none")]
    pub exclude_clusters: Option<Vec<String>>,
}

/// A named [`ClusterAffinity`] in `placement.clusterAffinities`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinityTerm {
    /// The group's name (required, at most 32 characters).
    pub affinity_name: String,
    /// The group's clusters (inlined in Go).
    #[serde(flatten)]
    pub cluster_affinity: ClusterAffinity,
}

/// Selects clusters by their fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldSelector {
    /// Requirements on `provider`, `region` or `zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<Vec<NodeSelectorRequirement>>,
}

/// `spreadByField` values.
pub const SPREAD_BY_FIELD_CLUSTER: &str = "cluster";
/// `spreadByField` values.
pub const SPREAD_BY_FIELD_REGION: &str = "region";
/// `spreadByField` values.
pub const SPREAD_BY_FIELD_ZONE: &str = "zone";
/// `spreadByField` values.
pub const SPREAD_BY_FIELD_PROVIDER: &str = "provider";

/// How to spread resources over groups of clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    /// `cluster`, `region`, `zone` or `provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_field: Option<String>,
    /// A cluster label to group by (exclusive with `spreadByField`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_label: Option<String>,
    /// At most this many groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups: Option<i32>,
    /// At least this many groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_groups: Option<i32>,
}

/// `replicaSchedulingType`: every cluster gets all replicas.
pub const REPLICA_SCHEDULING_TYPE_DUPLICATED: &str = "Duplicated";
/// `replicaSchedulingType` (CRD default): replicas are divided between clusters.
pub const REPLICA_SCHEDULING_TYPE_DIVIDED: &str = "Divided";
/// `replicaDivisionPreference`: as few clusters as possible.
pub const REPLICA_DIVISION_PREFERENCE_AGGREGATED: &str = "Aggregated";
/// `replicaDivisionPreference`: by weight.
pub const REPLICA_DIVISION_PREFERENCE_WEIGHTED: &str = "Weighted";
/// `weightPreference.dynamicWeight`: weight by available replicas.
pub const DYNAMIC_WEIGHT_BY_AVAILABLE_REPLICAS: &str = "AvailableReplicas";

/// How replicas are assigned to clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSchedulingStrategy {
    /// `Duplicated` or `Divided` (CRD default `Divided`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling_type: Option<String>,
    /// `Aggregated` or `Weighted` (for `Divided`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_division_preference: Option<String>,
    /// Weights (for `Weighted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_preference: Option<ClusterPreferences>,
}

/// Weights of clusters for divided replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterPreferences {
    /// Fixed weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_weight_list: Option<Vec<StaticClusterWeight>>,
    /// `AvailableReplicas`; overrides `staticWeightList` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_weight: Option<String>,
}

/// A fixed weight for a set of clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StaticClusterWeight {
    /// The clusters (required).
    pub target_cluster: ClusterAffinity,
    /// Their weight, at least 1 (required).
    pub weight: i64,
}

/// `purgeMode` values.
pub const PURGE_MODE_IMMEDIATELY: &str = "Immediately";
/// `purgeMode` values (deprecated spelling of `Immediately`).
pub const PURGE_MODE_DIRECTLY: &str = "Directly";
/// `purgeMode` values (CRD default).
pub const PURGE_MODE_GRACEFULLY: &str = "Gracefully";
/// `purgeMode` values (deprecated spelling of `Gracefully`).
pub const PURGE_MODE_GRACIOUSLY: &str = "Graciously";
/// `purgeMode` values.
pub const PURGE_MODE_NEVER: &str = "Never";

/// How to fail over.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailoverBehavior {
    /// When the application is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationFailoverBehavior>,
    /// When the cluster fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterFailoverBehavior>,
}

/// Application failover.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFailoverBehavior {
    /// When to fail over (required).
    pub decision_conditions: DecisionConditions,
    /// How to remove the application from the failed cluster (CRD default `Gracefully`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<String>,
    /// Seconds to wait before removing it from the failed cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// State to carry to the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// When application failover starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DecisionConditions {
    /// Seconds the application may stay unhealthy (CRD default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i32>,
}

/// Cluster failover.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterFailoverBehavior {
    /// `Directly` or `Gracefully` (CRD default `Gracefully`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<String>,
    /// State to carry to the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// State carried over on failover.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatePreservation {
    /// What to carry (required).
    #[serde(default)]
    pub rules: Vec<StatePreservationRule>,
}

/// Carries one value of the old status as a label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatePreservationRule {
    /// Label name (required).
    pub alias_label_name: String,
    /// JSONPath into the status (required; Go `JSONPath`).
    pub json_path: String,
}

/// Suspends dispatching.
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
}

/// Clusters whose dispatching is suspended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SuspendClusters {
    /// The clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_names: Option<Vec<String>>,
}

/// `priorityClassSource`: the only value the CRD allows.
pub const PRIORITY_CLASS_SOURCE_KUBE: &str = "KubePriorityClass";

/// Where the scheduling priority of the produced bindings comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    /// `KubePriorityClass` (required).
    pub priority_class_source: String,
    /// The PriorityClass name (required).
    pub priority_class_name: String,
}
