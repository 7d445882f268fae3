//! `networking.karmada.io/v1alpha1`: MultiClusterIngress and MultiClusterService.

use k8s_openapi::api::core::v1::ServiceStatus;
use k8s_openapi::api::networking::v1::{IngressLoadBalancerStatus, IngressSpec};
use serde::{Deserialize, Serialize};

use super::karmada_resource;

/// API group of this module.
pub const GROUP: &str = "networking.karmada.io";
/// API version of this module.
pub const VERSION: &str = "v1alpha1";

karmada_resource! {
    /// A collection of rules that allow inbound connections to reach the endpoints defined by a
    /// backend, across member clusters (shortName `mci`, namespaced, status subresource).
    pub struct MultiClusterIngress {
        group: "networking.karmada.io",
        version: "v1alpha1",
        kind: "MultiClusterIngress",
        plural: "multiclusteringresses",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The desired state: exactly a `networking.k8s.io/v1` IngressSpec.
        spec: optional IngressSpec = "spec",
        /// The observed state.
        status: optional MultiClusterIngressStatus = "status",
    }
}

/// The observed state of a [`MultiClusterIngress`]. Go inlines `networking/v1.IngressStatus`, so
/// `loadBalancer` sits directly in the status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MultiClusterIngressStatus {
    /// The load balancer the provider made for this ingress. Each `ports[]` entry must carry
    /// `error` (the CRD requires it) or the status update is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<IngressLoadBalancerStatus>,
    /// Clusters whose traffic is blocked (their Cluster has the `TrafficControl` remedy action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_block_clusters: Option<Vec<String>>,
    /// Where each backend service is placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_locations: Option<Vec<ServiceLocation>>,
}

/// The clusters a backend service of an ingress is placed on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceLocation {
    /// Name of the referenced service (in the ingress's namespace).
    pub name: String,
    /// Clusters the service is propagated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<String>>,
}

karmada_resource! {
    /// Exposes a service across clusters, as a load balancer or for cross-cluster discovery
    /// (shortName `mcs`, namespaced, status subresource). The status is a core/v1 ServiceStatus:
    /// Karmada writes `conditions`, the cloud provider writes `loadBalancer`.
    pub struct MultiClusterService {
        group: "networking.karmada.io",
        version: "v1alpha1",
        kind: "MultiClusterService",
        plural: "multiclusterservices",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The desired state (required by the CRD).
        spec: required MultiClusterServiceSpec = "spec",
        /// The observed state.
        status: optional ServiceStatus = "status",
    }
}

/// How a service is exposed: [`EXPOSURE_TYPE_LOAD_BALANCER`] or [`EXPOSURE_TYPE_CROSS_CLUSTER`].
/// A plain string: the CRD does not restrict the values (the webhook does), and an unknown value
/// must round-trip.
pub type ExposureType = String;

/// Exposes the service through a cloud load balancer (the cloud provider acts on these).
pub const EXPOSURE_TYPE_LOAD_BALANCER: &str = "LoadBalancer";
/// Exposes the service to other member clusters (service discovery).
pub const EXPOSURE_TYPE_CROSS_CLUSTER: &str = "CrossCluster";

/// The desired state of a [`MultiClusterService`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MultiClusterServiceSpec {
    /// How the service is exposed (required; Go never omits it).
    #[serde(default)]
    pub types: Vec<ExposureType>,
    /// The ports to expose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ExposurePort>>,
    /// Deprecated: use `providerClusters` / `consumerClusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<ExposureRange>,
    /// Deprecated: use `providerClusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_provision_clusters: Option<Vec<String>>,
    /// Deprecated: use `consumerClusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_consumption_clusters: Option<Vec<String>>,
    /// Clusters that provide the service backends; empty means all clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_clusters: Option<Vec<ClusterSelector>>,
    /// Clusters that consume the service; empty means all clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_clusters: Option<Vec<ClusterSelector>>,
}

impl MultiClusterServiceSpec {
    /// Whether `types` contains `LoadBalancer` (Go: `util.MCSContainLoadBalanceType`); the cloud
    /// provider acts only on such services.
    pub fn has_load_balancer(&self) -> bool {
        self.has_type(EXPOSURE_TYPE_LOAD_BALANCER)
    }

    /// Whether `types` contains `CrossCluster`.
    pub fn has_cross_cluster(&self) -> bool {
        self.has_type(EXPOSURE_TYPE_CROSS_CLUSTER)
    }

    /// Whether `types` contains the given exposure type.
    pub fn has_type(&self, exposure_type: &str) -> bool {
        self.types.iter().any(|t| t == exposure_type)
    }
}

/// A port to expose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExposurePort {
    /// Optional port name (a DNS-1123 label, unique within the service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port number (required).
    pub port: i32,
}

/// Deprecated cluster range of a [`MultiClusterService`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExposureRange {
    /// Names of the clusters the service is exposed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_names: Option<Vec<String>>,
}

/// Selects one member cluster by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterSelector {
    /// The cluster name (required).
    pub name: String,
}
