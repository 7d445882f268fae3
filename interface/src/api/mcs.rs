//! `multicluster.x-k8s.io/v1alpha1` (mcs-api v0.1.0, with the CRDs Karmada ships):
//! ServiceExport and ServiceImport.

use k8s_openapi::api::core::v1::SessionAffinityConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::{Deserialize, Serialize};

use super::karmada_resource;

/// API group of this module.
pub const GROUP: &str = "multicluster.x-k8s.io";
/// API version of this module.
pub const VERSION: &str = "v1alpha1";

karmada_resource! {
    /// Exports the Service of the same name and namespace to the cluster set (shortName
    /// `svcex`). It has no spec.
    pub struct ServiceExport {
        group: "multicluster.x-k8s.io",
        version: "v1alpha1",
        kind: "ServiceExport",
        plural: "serviceexports",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The observed state.
        status: optional ServiceExportStatus = "status",
    }
}

/// Condition type (mcs-api): the export is valid.
pub const SERVICE_EXPORT_VALID: &str = "Valid";
/// Condition type (mcs-api): the export conflicts with another cluster's export.
pub const SERVICE_EXPORT_CONFLICT: &str = "Conflict";

/// The observed state of a [`ServiceExport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceExportStatus {
    /// Karmada's CRD uses the `metav1.Condition` schema (type, status, lastTransitionTime,
    /// reason and message required), a list-map keyed by `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

karmada_resource! {
    /// A service imported from the cluster set (shortName `svcim`).
    pub struct ServiceImport {
        group: "multicluster.x-k8s.io",
        version: "v1alpha1",
        kind: "ServiceImport",
        plural: "serviceimports",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The desired state.
        spec: optional ServiceImportSpec = "spec",
        /// The observed state.
        status: optional ServiceImportStatus = "status",
    }
}

/// `type`: the import has a cluster-set IP.
pub const SERVICE_IMPORT_CLUSTER_SET_IP: &str = "ClusterSetIP";
/// `type`: the import is headless.
pub const SERVICE_IMPORT_HEADLESS: &str = "Headless";

/// The desired state of a [`ServiceImport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    /// The ports (required when `spec` is present).
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// The cluster-set IPs (at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<String>>,
    /// `ClusterSetIP` or `Headless` (required when `spec` is present).
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `ClientIP` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    /// Session affinity settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
}

/// A port of a [`ServiceImport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Port name, unique within the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Application protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// The port number (required).
    pub port: i32,
}

/// The observed state of a [`ServiceImport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportStatus {
    /// The clusters exporting the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<ClusterStatus>>,
}

/// A cluster exporting the service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The cluster name (required).
    pub cluster: String,
}
