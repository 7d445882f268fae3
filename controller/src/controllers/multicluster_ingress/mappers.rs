//! Which MCIs each watched change re-triggers: one function per watched kind.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::networking::MultiClusterIngress;

use super::reconcile::is_default;
use crate::cache::{CachedService, Change, Index, SharedCache};
use crate::controllers::mappers::{service_of_endpoint_slice_change, service_of_service_change};
use crate::controllers::references::{mcis_by_service, mcis_referencing, referenced_secrets};

/// Whether reconcile has work on an MCI: it is of our IngressClass, or its deletion waits for
/// its class (`reconcile::is_handled`).
pub type Handled = Arc<dyn Fn(&MultiClusterIngress) -> bool + Send + Sync>;

/// What the mappers read: the MCI cache and its index by Service, and which MCIs are handled.
#[derive(Clone)]
pub struct Mappers {
    mcis: Store<MultiClusterIngress>,
    by_service: Index<MultiClusterIngress>,
    handled: Handled,
}

type Requests = Vec<ObjectRef<MultiClusterIngress>>;

impl Mappers {
    pub fn new(mcis: &SharedCache<MultiClusterIngress>, handled: Handled) -> Self {
        Mappers {
            mcis: mcis.store().clone(),
            by_service: mcis_by_service(mcis),
            handled,
        }
    }

    /// The MCI itself, when created or its spec, annotations or deletion state changed, if it is
    /// handled. Our finalizer is no sign of ours: deployments serving other classes use the same
    /// name, and only the provider of the MCI's class may delete its balancer (Go filters by
    /// class at enqueue, deletion included). A deletion needs nothing: with the finalizer,
    /// deletion is an update.
    pub fn mci(
        &self,
        change: &Change<'_, MultiClusterIngress>,
    ) -> Option<ObjectRef<MultiClusterIngress>> {
        let mci = change.applied()?;
        (change.spec_annotations_or_deletion_changed(|m| &m.spec) && (self.handled)(mci))
            .then(|| ObjectRef::from_obj(mci))
    }

    /// The handled MCIs that reference the Service.
    pub fn service(&self, change: &Change<'_, CachedService>) -> Requests {
        service_of_service_change(change).map_or_else(Vec::new, |svc| self.referencing(&svc))
    }

    /// The handled MCIs that reference the EndpointSlice's Service.
    pub fn endpoint_slice(
        &self,
        change: &Change<'_, PartialObjectMeta<EndpointSlice>>,
    ) -> Requests {
        service_of_endpoint_slice_change(change).map_or_else(Vec::new, |svc| self.referencing(&svc))
    }

    /// The handled MCIs that reference the Secret for TLS, when it changed in any way.
    pub fn secret(&self, change: &Change<'_, PartialObjectMeta<Secret>>) -> Requests {
        if !change.resource_version_changed() {
            return Vec::new();
        }
        let secret = change.object();
        let namespace = secret.namespace().unwrap_or_default();
        let name = secret.name_any();
        self.handled_where(|mci| {
            mci.namespace().as_deref() == Some(namespace.as_str())
                && referenced_secrets(mci).contains(&name)
        })
    }

    /// The handled MCIs placed on the Cluster, when it gained or lost `TrafficControl`.
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
        self.handled_where(|mci| {
            mci.status
                .iter()
                .flat_map(|s| s.service_locations.iter().flatten())
                .any(|l| l.clusters.iter().flatten().any(|c| *c == cluster))
        })
    }

    /// The handled MCIs whose class the IngressClass decides, when it was created or deleted or
    /// its controller or default annotation changed: those naming it when it appeared, went or
    /// changed controller, and those naming no class when it is or was the default and that or
    /// its controller changed. The store is scanned then, which is fine as classes change rarely;
    /// any other change of a class (labels, a resync) costs nothing. The class cache already
    /// holds the change, so `handled` judges each MCI by the classes as they now are.
    pub fn ingress_class(&self, change: &Change<'_, IngressClass>) -> Requests {
        let controller = |c: &IngressClass| c.spec.as_ref().and_then(|s| s.controller.clone());
        let controller_changed = change.changed(|old, new| controller(old) != controller(new));
        let default_changed = change.changed(|old, new| is_default(old) != is_default(new));
        let was_or_is_default = is_default(change.object()) || change.old().is_some_and(is_default);
        let unnamed = was_or_is_default && (controller_changed || default_changed);
        if !controller_changed && !unnamed {
            return Vec::new();
        }
        let class = change.object().name_any();
        self.handled_where(|mci| {
            match mci
                .spec
                .as_ref()
                .and_then(|s| s.ingress_class_name.as_deref())
            {
                Some(name) => controller_changed && name == class,
                None => unnamed,
            }
        })
    }

    fn referencing(&self, service: &ObjectRef<Service>) -> Requests {
        let namespace = service.namespace.as_deref().unwrap_or_default();
        mcis_referencing(&self.by_service, namespace, &service.name)
            .into_iter()
            .filter(|mci| (self.handled)(mci))
            .map(|mci| ObjectRef::from_obj(mci.as_ref()))
            .collect()
    }

    fn handled_where(&self, wanted: impl Fn(&MultiClusterIngress) -> bool) -> Requests {
        self.mcis
            .state()
            .into_iter()
            .filter(|mci| wanted(mci) && (self.handled)(mci))
            .map(|mci| ObjectRef::from_obj(mci.as_ref()))
            .collect()
    }
}
