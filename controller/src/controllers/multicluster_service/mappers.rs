//! Which MCSs each watched change re-triggers: one function per watched kind.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::networking::MultiClusterService;

use super::is_ours;
use crate::cache::{CachedService, Change};
use crate::controllers::mappers::{service_of_endpoint_slice_change, service_of_service_change};

/// What the mappers read: the MCS cache.
#[derive(Clone)]
pub struct Mappers {
    mcss: Store<MultiClusterService>,
}

type Request = Option<ObjectRef<MultiClusterService>>;

impl Mappers {
    pub fn new(mcss: Store<MultiClusterService>) -> Self {
        Mappers { mcss }
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
    pub fn endpoint_slice(&self, change: &Change<'_, PartialObjectMeta<EndpointSlice>>) -> Request {
        self.named_like(service_of_endpoint_slice_change(change)?)
    }

    fn named_like(&self, service: ObjectRef<Service>) -> Request {
        let key =
            ObjectRef::new(&service.name).within(service.namespace.as_deref().unwrap_or_default());
        let mcs = self.mcss.get(&key)?;
        is_ours(&mcs).then(|| ObjectRef::from_obj(mcs.as_ref()))
    }
}
