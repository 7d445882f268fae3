//! Well-known names on the wire: finalizers, labels, annotations, taint keys and object names
//! used by Karmada v1.16 and by the Go multicluster cloud provider (wire guide §2–§8).

// ---- Finalizers ------------------------------------------------------------------------------

/// Finalizer the cloud provider puts on a MultiClusterIngress so its load balancer is deleted
/// before the object goes.
pub const MCI_CONTROLLER_FINALIZER: &str = "karmada.io/multi-cluster-ingress-controller";
/// Finalizer the cloud provider puts on a MultiClusterService so its load balancer is deleted
/// before the object goes.
pub const MCS_CONTROLLER_FINALIZER: &str = "karmada.io/multi-cluster-service-controller";

// ---- Cluster taint keys ----------------------------------------------------------------------

/// Taint on a Cluster whose Ready condition is False.
pub const TAINT_CLUSTER_NOT_READY: &str = "cluster.karmada.io/not-ready";
/// Taint on a Cluster whose Ready condition is Unknown.
pub const TAINT_CLUSTER_UNREACHABLE: &str = "cluster.karmada.io/unreachable";

// ---- Labels and annotations ------------------------------------------------------------------

/// EndpointSlice label naming the Service it belongs to (`discoveryv1.LabelServiceName`). On
/// the slices Karmada imports it names the derived Service (`derived-<svc>`).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Binding annotation: name of the PropagationPolicy that produced it.
pub const PROPAGATION_POLICY_NAME: &str = "propagationpolicy.karmada.io/name";
/// Binding annotation: namespace of the PropagationPolicy that produced it.
pub const PROPAGATION_POLICY_NAMESPACE: &str = "propagationpolicy.karmada.io/namespace";
/// Binding annotation: name of the ClusterPropagationPolicy that produced it.
pub const CLUSTER_PROPAGATION_POLICY_NAME: &str = "clusterpropagationpolicy.karmada.io/name";

// ---- Names -----------------------------------------------------------------------------------

/// Prefix of the Service Karmada derives from a ServiceImport (`derived-<svc>`); the cloud
/// provider strips it from `kubernetes.io/service-name` to find the original Service.
pub const DERIVED_SERVICE_PREFIX: &str = "derived-";
/// Prefix of the per-Service PropagationPolicy the cloud provider writes for its ServiceExport
/// (`propagate-service-<svc>`).
pub const SERVICE_EXPORT_POLICY_PREFIX: &str = "propagate-service-";
/// Name of the ClusterPropagationPolicy the cloud provider writes to install the ServiceExport
/// CRD on every member cluster.
pub const SERVICE_EXPORT_CRD_POLICY_NAME: &str = "serviceexportpropagation-policy";
/// Name of the ServiceExport CRD propagated by [`SERVICE_EXPORT_CRD_POLICY_NAME`].
pub const SERVICE_EXPORT_CRD_NAME: &str = "serviceexports.multicluster.x-k8s.io";

/// Name of the PropagationPolicy the cloud provider writes for a Service's ServiceExport.
pub fn service_export_policy_name(service: &str) -> String {
    format!("{SERVICE_EXPORT_POLICY_PREFIX}{service}")
}
