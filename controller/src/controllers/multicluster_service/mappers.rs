//! Which MCSs each watched change re-triggers: one function per watched kind.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::networking::MultiClusterService;
use mcp_interface::api::work::ResourceBinding;

use super::is_ours;
use crate::cache::{CachedEndpointSlice, CachedService, Change, Index, SharedCache};
use crate::controllers::mappers::{
    cluster_view_changed, service_of_endpoint_slice_change, service_of_service_change,
    services_of_binding_balancer_change, services_of_binding_change,
};
use crate::controllers::references::{bound_key, service_bindings_by_cluster};

/// What the mappers read: the MCS cache, and the Service bindings by cluster.
#[derive(Clone)]
pub struct Mappers {
    mcss: Store<MultiClusterService>,
    bindings_by_cluster: Index<ResourceBinding>,
}

type Request = Option<ObjectRef<MultiClusterService>>;
type Requests = Vec<ObjectRef<MultiClusterService>>;

impl Mappers {
    pub fn new(mcss: Store<MultiClusterService>, bindings: &SharedCache<ResourceBinding>) -> Self {
        Mappers {
            mcss,
            bindings_by_cluster: service_bindings_by_cluster(bindings),
        }
    }

    /// The MCS itself when it is ours (before or after) and was created or changed in spec,
    /// annotations or deletion state (the Go MCS update predicate). A deletion needs nothing:
    /// with the finalizer, deletion is an update.
    pub fn mcs(&self, change: &Change<'_, MultiClusterService>) -> Request {
        let mcs = change.applied()?;
        let ours = is_ours(mcs) || change.old().is_some_and(is_ours);
        (ours && change.spec_annotations_or_deletion_changed(|m| &m.spec))
            .then(|| ObjectRef::from_obj(mcs))
    }

    /// The MCS named like the Service, if it is ours.
    pub fn service(&self, change: &Change<'_, CachedService>) -> Request {
        self.named_like(service_of_service_change(change)?)
    }

    /// The MCS named like the EndpointSlice's Service, if it is ours.
    pub fn endpoint_slice(&self, change: &Change<'_, CachedEndpointSlice>) -> Request {
        self.named_like(service_of_endpoint_slice_change(change)?)
    }

    /// The MCSs (ours) named like the Services whose placement or member load-balancer
    /// addresses the binding change changed.
    pub fn binding(&self, change: &Change<'_, ResourceBinding>) -> Requests {
        let mut services = services_of_binding_change(change);
        services.extend(services_of_binding_balancer_change(change));
        services
            .into_iter()
            .filter_map(|service| self.named_like(service.to_ref()))
            .collect()
    }

    /// The MCSs (ours) whose Service is placed on the Cluster, when it appeared or went, became
    /// Ready or not, or gained or lost `TrafficControl`: found through the bindings scheduled
    /// on the cluster, never a scan of all MCSs.
    pub fn cluster(&self, change: &Change<'_, Cluster>) -> Requests {
        if !cluster_view_changed(change) {
            return Vec::new();
        }
        let mut requests = Requests::new();
        let mut seen = HashSet::new();
        for rb in self.bindings_by_cluster.get(&change.object().name_any()) {
            let Some(service) = bound_key(&rb) else {
                continue;
            };
            if let Some(mcs) = self.named_like(service.to_ref())
                && seen.insert(mcs.clone())
            {
                requests.push(mcs);
            }
        }
        requests
    }

    fn named_like(&self, service: ObjectRef<Service>) -> Request {
        let key =
            ObjectRef::new(&service.name).within(service.namespace.as_deref().unwrap_or_default());
        let mcs = self.mcss.get(&key)?;
        is_ours(&mcs).then(|| ObjectRef::from_obj(mcs.as_ref()))
    }
}
