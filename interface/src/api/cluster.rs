//! `cluster.karmada.io/v1alpha1`: Cluster, a member cluster. Served by
//! karmada-aggregated-apiserver (not a CRD); cluster-scoped, no shortNames.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::{Deserialize, Serialize};

use super::ResourceList;
use super::karmada_resource;

/// API group of this module.
pub const GROUP: &str = "cluster.karmada.io";
/// API version of this module.
pub const VERSION: &str = "v1alpha1";

karmada_resource! {
    /// A member cluster joined to Karmada.
    pub struct Cluster {
        group: "cluster.karmada.io",
        version: "v1alpha1",
        kind: "Cluster",
        plural: "clusters",
        scope: ClusterResourceScope,
    }
    fields {
        /// The desired state (required).
        spec: required ClusterSpec = "spec",
        /// The observed state.
        status: optional ClusterStatus = "status",
    }
}

/// The remedy action that asks for a cluster's traffic to be blocked
/// (`remedy.karmada.io/v1alpha1` `TrafficControl`). The cloud provider lists such clusters in
/// MultiClusterIngress `status.trafficBlockClusters`.
pub const REMEDY_ACTION_TRAFFIC_CONTROL: &str = "TrafficControl";

impl Cluster {
    /// Whether `status.remedyActions` contains `action` (for example
    /// [`REMEDY_ACTION_TRAFFIC_CONTROL`]).
    pub fn has_remedy_action(&self, action: &str) -> bool {
        self.status
            .as_ref()
            .and_then(|status| status.remedy_actions.as_ref())
            .is_some_and(|actions| actions.iter().any(|a| a == action))
    }

    /// The status condition of the given type, if any.
    pub fn condition(&self, condition_type: &str) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == condition_type)
    }

    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.condition(CONDITION_READY)
            .is_some_and(|c| c.status == "True")
    }

    /// Whether `status.apiEnablements` lists `kind` under `group_version` (`v1` for the core
    /// group): Karmada's `Cluster.APIEnablement` check. Karmada's scheduler places a resource
    /// only on clusters whose status lists its API.
    pub fn api_enabled(&self, group_version: &str, kind: &str) -> bool {
        self.status
            .as_ref()
            .and_then(|status| status.api_enablements.as_ref())
            .is_some_and(|enablements| {
                enablements
                    .iter()
                    .filter(|e| e.group_version == group_version)
                    .flat_map(|e| e.resources.iter().flatten())
                    .any(|r| r.kind == kind)
            })
    }
}

/// `syncMode`: Karmada pushes resources to the member cluster.
pub const SYNC_MODE_PUSH: &str = "Push";
/// `syncMode`: an agent in the member cluster pulls resources.
pub const SYNC_MODE_PULL: &str = "Pull";

/// Condition type: the cluster is healthy and reachable.
pub const CONDITION_READY: &str = "Ready";
/// Condition type: every API of the cluster was discovered.
pub const CONDITION_COMPLETE_API_ENABLEMENTS: &str = "CompleteAPIEnablements";

/// The desired state of a [`Cluster`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Unique id of the cluster (Go `ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Push` or `Pull` (required).
    pub sync_mode: String,
    /// The member cluster's API endpoint, `https://host:port` (Go `APIEndpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// Secret with the credentials to reach the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalSecretReference>,
    /// Secret with the impersonator's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator_secret_ref: Option<LocalSecretReference>,
    /// Skip TLS verification of the API endpoint (JSON `insecureSkipTLSVerification`).
    #[serde(
        default,
        rename = "insecureSkipTLSVerification",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_skip_tls_verification: Option<bool>,
    /// Proxy to reach the cluster through (`http`, `https` or `socks5`; JSON `proxyURL`).
    #[serde(default, rename = "proxyURL", skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Headers sent to the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_header: Option<BTreeMap<String, String>>,
    /// Cloud provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Deprecated: the server moves it into `zones`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// Taints of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Resource models for replica estimation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_models: Option<Vec<ResourceModel>>,
}

/// A Secret in a named namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    /// Namespace of the Secret (required).
    pub namespace: String,
    /// Name of the Secret (required).
    pub name: String,
}

/// One grade of node resource model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceModel {
    /// The grade, from 0 (Go `uint`).
    pub grade: u64,
    /// The resource ranges of the grade (required).
    #[serde(default)]
    pub ranges: Vec<ResourceModelRange>,
}

/// The range `[min, max)` of one resource in a model grade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceModelRange {
    /// The resource name (`cpu`, `memory`, ...).
    pub name: String,
    /// Lower bound, inclusive.
    pub min: Quantity,
    /// Upper bound, exclusive.
    pub max: Quantity,
}

/// The observed state of a [`Cluster`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The member cluster's Kubernetes version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// The APIs the member cluster serves (Go `APIEnablements`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_enablements: Option<Vec<ApiEnablement>>,
    /// `Ready`, `CompleteAPIEnablements`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Node counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_summary: Option<NodeSummary>,
    /// Resource totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_summary: Option<ResourceSummary>,
    /// Remedy actions in force for the cluster (e.g. `TrafficControl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy_actions: Option<Vec<String>>,
}

/// The resources served under one group version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiEnablement {
    /// `group/version`, or `version` for the core group (required).
    pub group_version: String,
    /// The resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ApiResource>>,
}

/// One served resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiResource {
    /// Plural resource name (required).
    pub name: String,
    /// Kind (required).
    pub kind: String,
}

/// Node counts of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// All nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_num: Option<i32>,
    /// Ready nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_num: Option<i32>,
}

/// Resource totals of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    /// What the nodes can hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<ResourceList>,
    /// What pending pods request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocating: Option<ResourceList>,
    /// What running pods request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<ResourceList>,
    /// Node counts per resource model grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable_modelings: Option<Vec<AllocatableModeling>>,
}

/// How many nodes fall into one resource model grade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AllocatableModeling {
    /// The grade (Go `uint`).
    pub grade: u64,
    /// The node count (Go `int`).
    pub count: i64,
}
