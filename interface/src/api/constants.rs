//! Well-known names on the wire: finalizers, labels, annotations, taint keys and object names
//! used by Karmada v1.16 and by the Go multicluster cloud provider (wire guide §2–§8).

// ---- Finalizers ------------------------------------------------------------------------------

/// Finalizer the cloud provider puts on a MultiClusterIngress so its load balancer is deleted
/// before the object goes.
pub const MCI_CONTROLLER_FINALIZER: &str = "karmada.io/multi-cluster-ingress-controller";
/// Finalizer the cloud provider puts on a MultiClusterService so its load balancer is deleted
/// before the object goes.
pub const MCS_CONTROLLER_FINALIZER: &str = "karmada.io/multi-cluster-service-controller";
/// Karmada's finalizer on ResourceBindings.
pub const BINDING_CONTROLLER_FINALIZER: &str = "karmada.io/binding-controller";
/// Karmada's finalizer on ClusterResourceBindings.
pub const CLUSTER_RESOURCE_BINDING_CONTROLLER_FINALIZER: &str =
    "karmada.io/cluster-resource-binding-controller";
/// Karmada's finalizer on PropagationPolicies (added by the webhook on create).
pub const PROPAGATION_POLICY_CONTROLLER_FINALIZER: &str =
    "karmada.io/propagation-policy-controller";
/// Karmada's finalizer on ClusterPropagationPolicies (added by the webhook on create).
pub const CLUSTER_PROPAGATION_POLICY_CONTROLLER_FINALIZER: &str =
    "karmada.io/cluster-propagation-policy-controller";
/// Karmada's finalizer on Clusters.
pub const CLUSTER_CONTROLLER_FINALIZER: &str = "karmada.io/cluster-controller";

// ---- Cluster taint keys ----------------------------------------------------------------------

/// Taint on a Cluster whose Ready condition is False.
pub const TAINT_CLUSTER_NOT_READY: &str = "cluster.karmada.io/not-ready";
/// Taint on a Cluster whose Ready condition is Unknown.
pub const TAINT_CLUSTER_UNREACHABLE: &str = "cluster.karmada.io/unreachable";
/// Taint on a Cluster that is cordoned.
pub const TAINT_CLUSTER_UNSCHEDULABLE: &str = "cluster.karmada.io/unschedulable";

// ---- Labels and annotations ------------------------------------------------------------------

/// EndpointSlice label naming the Service it belongs to (`discoveryv1.LabelServiceName`). On
/// the slices Karmada imports it names the derived Service (`derived-<svc>`).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// EndpointSlice label naming the controller that manages it.
pub const LABEL_ENDPOINT_SLICE_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// `endpointslice.kubernetes.io/managed-by` value on slices Karmada imports for
/// ServiceExport/ServiceImport.
pub const ENDPOINT_SLICE_CONTROLLER_NAME: &str = "endpointslice-controller.karmada.io";
/// `endpointslice.kubernetes.io/managed-by` value on slices the MCS dispatch controller writes.
pub const ENDPOINT_SLICE_DISPATCH_CONTROLLER_NAME: &str =
    "endpointslice-dispatch-controller.karmada.io";
/// Label on Work objects (not on EndpointSlices): `ServiceExport`, `MultiClusterService`, or both
/// joined by `.`.
pub const LABEL_ENDPOINT_SLICE_WORK_MANAGED_BY: &str = "endpointslice.karmada.io/managed-by";
/// Work label/annotation: namespace of the EndpointSlice it carries.
pub const ENDPOINT_SLICE_NAMESPACE: &str = "endpointslice.karmada.io/namespace";
/// Work label/annotation: name of the EndpointSlice it carries.
pub const ENDPOINT_SLICE_NAME: &str = "endpointslice.karmada.io/name";
/// Work annotation of the MCS dispatch controller: the cluster that provides the endpoints.
pub const ENDPOINT_SLICE_PROVISION_CLUSTER: &str = "endpointslice.karmada.io/provision-cluster";
/// Annotation on imported EndpointSlices: the execution namespace of their Work.
pub const WORK_NAMESPACE: &str = "work.karmada.io/namespace";
/// Annotation on imported EndpointSlices: the name of their Work.
pub const WORK_NAME: &str = "work.karmada.io/name";
/// Label on imported EndpointSlices and Works.
pub const WORK_PERMANENT_ID: &str = "work.karmada.io/permanent-id";

/// Label the MCS mutating webhook adds to every MultiClusterService.
pub const MULTI_CLUSTER_SERVICE_PERMANENT_ID: &str = "multiclusterservice.karmada.io/permanent-id";
/// Annotation (Service template, ResourceBinding) / label (Work): the owning MCS's name.
pub const MULTI_CLUSTER_SERVICE_NAME: &str = "multiclusterservice.karmada.io/name";
/// Annotation (Service template, ResourceBinding) / label (Work): the owning MCS's namespace.
pub const MULTI_CLUSTER_SERVICE_NAMESPACE: &str = "multiclusterservice.karmada.io/namespace";

/// Label Karmada puts on ResourceBindings.
pub const RESOURCE_BINDING_PERMANENT_ID: &str = "resourcebinding.karmada.io/permanent-id";
/// Label Karmada puts on ClusterResourceBindings.
pub const CLUSTER_RESOURCE_BINDING_PERMANENT_ID: &str =
    "clusterresourcebinding.karmada.io/permanent-id";
/// Label the webhook adds to PropagationPolicies.
pub const PROPAGATION_POLICY_PERMANENT_ID: &str = "propagationpolicy.karmada.io/permanent-id";
/// Label the webhook adds to ClusterPropagationPolicies.
pub const CLUSTER_PROPAGATION_POLICY_PERMANENT_ID: &str =
    "clusterpropagationpolicy.karmada.io/permanent-id";
/// Binding annotation: name of the PropagationPolicy that produced it.
pub const PROPAGATION_POLICY_NAME: &str = "propagationpolicy.karmada.io/name";
/// Binding annotation: namespace of the PropagationPolicy that produced it.
pub const PROPAGATION_POLICY_NAMESPACE: &str = "propagationpolicy.karmada.io/namespace";
/// Binding annotation: name of the ClusterPropagationPolicy that produced it.
pub const CLUSTER_PROPAGATION_POLICY_NAME: &str = "clusterpropagationpolicy.karmada.io/name";
/// Binding annotation: the placement applied, as JSON.
pub const POLICY_APPLIED_PLACEMENT: &str = "policy.karmada.io/applied-placement";

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
/// Prefix of a member cluster's execution namespace (`karmada-es-<cluster>`).
pub const EXECUTION_SPACE_PREFIX: &str = "karmada-es-";

/// Karmada's `GenerateDerivedServiceName`: `derived-<svc>`.
pub fn derived_service_name(service: &str) -> String {
    format!("{DERIVED_SERVICE_PREFIX}{service}")
}

/// Karmada's `GenerateExecutionSpaceName`: `karmada-es-<cluster>`.
pub fn execution_space_name(cluster: &str) -> String {
    format!("{EXECUTION_SPACE_PREFIX}{cluster}")
}

/// Name of the PropagationPolicy the cloud provider writes for a Service's ServiceExport.
pub fn service_export_policy_name(service: &str) -> String {
    format!("{SERVICE_EXPORT_POLICY_PREFIX}{service}")
}
