//! Which MCIs each watched change re-triggers: one function per watched kind.

use kube::runtime::reflector::ObjectRef;
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;

use crate::cache::{Change, Index, SharedCache};
use crate::controllers::mappers::services_of_binding_change;
use crate::controllers::references::{
    mcis_by_service, mcis_referencing, referenced_services, service_locations,
};

/// What the mappers read: the MCI cache's index by Service.
#[derive(Clone)]
pub struct Mappers {
    by_service: Index<MultiClusterIngress>,
}

impl Mappers {
    pub fn new(mcis: &SharedCache<MultiClusterIngress>) -> Self {
        Mappers {
            by_service: mcis_by_service(mcis),
        }
    }

    /// The MCI itself (any class), when created, when the Services it references change, or
    /// when someone else changed its `status.serviceLocations` (drift is put back).
    pub fn mci(
        &self,
        change: &Change<'_, MultiClusterIngress>,
    ) -> Option<ObjectRef<MultiClusterIngress>> {
        let mci = change.applied()?;
        change
            .changed(|old, new| {
                referenced_services(old) != referenced_services(new)
                    || service_locations(old) != service_locations(new)
            })
            .then(|| ObjectRef::from_obj(mci))
    }

    /// The MCIs referencing a Service whose placement the binding change affects.
    pub fn binding(
        &self,
        change: &Change<'_, ResourceBinding>,
    ) -> Vec<ObjectRef<MultiClusterIngress>> {
        let mut requests: Vec<ObjectRef<MultiClusterIngress>> = Vec::new();
        for service in services_of_binding_change(change) {
            for mci in mcis_referencing(&self.by_service, &service) {
                let request = ObjectRef::from_obj(mci.as_ref());
                if !requests.contains(&request) {
                    requests.push(request);
                }
            }
        }
        requests
    }
}
