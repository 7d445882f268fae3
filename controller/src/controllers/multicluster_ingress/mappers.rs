//! Which MCIs each watched change re-triggers: one function per watched kind.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::networking::MultiClusterIngress;

use crate::cache::{CachedService, Change, Index, SharedCache};
use crate::controllers::mappers::{service_of_endpoint_slice_change, service_of_service_change};
use crate::controllers::references::{mcis_by_service, mcis_referencing, referenced_secrets};

/// Whether an MCI is of our IngressClass.
pub type Ours = Arc<dyn Fn(&MultiClusterIngress) -> bool + Send + Sync>;

/// What the mappers read: the MCI cache and its index by Service, and which MCIs are ours.
#[derive(Clone)]
pub struct Mappers {
    mcis: Store<MultiClusterIngress>,
    by_service: Index<MultiClusterIngress>,
    ours: Ours,
}

type Requests = Vec<ObjectRef<MultiClusterIngress>>;

impl Mappers {
    pub fn new(mcis: &SharedCache<MultiClusterIngress>, ours: Ours) -> Self {
        Mappers {
            mcis: mcis.store().clone(),
            by_service: mcis_by_service(mcis),
            ours,
        }
    }

    /// The MCI itself, when created or its spec, annotations or deletion state changed, if it is
    /// ours. Our finalizer is no sign of ours: deployments serving other classes use the same
    /// name, and only the provider of the MCI's class may delete its balancer (Go filters by
    /// class at enqueue, deletion included). A deletion needs nothing: with the finalizer,
    /// deletion is an update.
    pub fn mci(
        &self,
        change: &Change<'_, MultiClusterIngress>,
    ) -> Option<ObjectRef<MultiClusterIngress>> {
        let mci = change.applied()?;
        (change.spec_annotations_or_deletion_changed(|m| &m.spec) && (self.ours)(mci))
            .then(|| ObjectRef::from_obj(mci))
    }

    /// Our MCIs that reference the Service.
    pub fn service(&self, change: &Change<'_, CachedService>) -> Requests {
        service_of_service_change(change).map_or_else(Vec::new, |svc| self.referencing(&svc))
    }

    /// Our MCIs that reference the EndpointSlice's Service.
    pub fn endpoint_slice(
        &self,
        change: &Change<'_, PartialObjectMeta<EndpointSlice>>,
    ) -> Requests {
        service_of_endpoint_slice_change(change).map_or_else(Vec::new, |svc| self.referencing(&svc))
    }

    /// Our MCIs that reference the Secret for TLS, when it changed in any way.
    pub fn secret(&self, change: &Change<'_, PartialObjectMeta<Secret>>) -> Requests {
        if !change.resource_version_changed() {
            return Vec::new();
        }
        let secret = change.object();
        let namespace = secret.namespace().unwrap_or_default();
        let name = secret.name_any();
        self.ours_where(|mci| {
            mci.namespace().as_deref() == Some(namespace.as_str())
                && referenced_secrets(mci).contains(&name)
        })
    }

    /// Our MCIs placed on the Cluster, when it gained or lost `TrafficControl`.
    pub fn cluster(&self, change: &Change<'_, Cluster>) -> Requests {
        let (Some(old), Some(new)) = (change.old(), change.applied()) else {
            return Vec::new();
        };
        if old.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
            == new.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
        {
            return Vec::new();
        }
        let cluster = new.name_any();
        self.ours_where(|mci| {
            mci.status
                .iter()
                .flat_map(|s| s.service_locations.iter().flatten())
                .any(|l| l.clusters.iter().flatten().any(|c| *c == cluster))
        })
    }

    fn referencing(&self, service: &ObjectRef<Service>) -> Requests {
        let namespace = service.namespace.as_deref().unwrap_or_default();
        mcis_referencing(&self.by_service, namespace, &service.name)
            .into_iter()
            .filter(|mci| (self.ours)(mci))
            .map(|mci| ObjectRef::from_obj(mci.as_ref()))
            .collect()
    }

    fn ours_where(&self, wanted: impl Fn(&MultiClusterIngress) -> bool) -> Requests {
        self.mcis
            .state()
            .into_iter()
            .filter(|mci| wanted(mci) && (self.ours)(mci))
            .map(|mci| ObjectRef::from_obj(mci.as_ref()))
            .collect()
    }
}
