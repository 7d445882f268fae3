//! Which MCIs each watched change re-triggers: one function per watched kind.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::IngressClass;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::networking::MultiClusterIngress;
use mcp_interface::api::work::ResourceBinding;

use super::reconcile::is_default;
use crate::cache::{CachedEndpointSlice, CachedService, Change, Index, SharedCache};
use crate::controllers::mappers::{
    cluster_view_changed, service_of_endpoint_slice_change, service_of_service_change,
    services_of_binding_balancer_change, services_of_binding_change,
};
use crate::controllers::references::{
    bound_key, mcis_by_cluster, mcis_by_secret, mcis_by_service, mcis_referencing,
    service_bindings_by_cluster,
};
use crate::key::ObjectKey;

/// Whether reconcile has work on an MCI: it is of our IngressClass, or its deletion waits for
/// its class (`reconcile::is_handled`).
pub type Handled = Arc<dyn Fn(&MultiClusterIngress) -> bool + Send + Sync>;

/// What the mappers read: the MCI cache and its indexes by Service, TLS Secret and located
/// cluster, the index of Services' bindings by cluster, and which MCIs are handled.
#[derive(Clone)]
pub struct Mappers {
    mcis: Store<MultiClusterIngress>,
    by_service: Index<MultiClusterIngress>,
    by_secret: Index<MultiClusterIngress>,
    by_cluster: Index<MultiClusterIngress>,
    bindings_by_cluster: Index<ResourceBinding>,
    handled: Handled,
    /// Whether the provider takes the backend view: then changes of what is in the view (a
    /// Service's placement and member balancers in its binding, a Cluster's readiness)
    /// reconcile the MCI too.
    view: bool,
}

type Requests = Vec<ObjectRef<MultiClusterIngress>>;

impl Mappers {
    pub fn new(
        mcis: &SharedCache<MultiClusterIngress>,
        bindings: &SharedCache<ResourceBinding>,
        handled: Handled,
    ) -> Self {
        Mappers {
            mcis: mcis.store().clone(),
            by_service: mcis_by_service(mcis),
            by_secret: mcis_by_secret(mcis),
            by_cluster: mcis_by_cluster(mcis),
            bindings_by_cluster: service_bindings_by_cluster(bindings),
            handled,
            view: true,
        }
    }

    /// The mappers for a provider without the backend view (interface 1.0 and 1.1): only what
    /// reconciled an MCI before the view existed does (its spec, annotations or deletion, its
    /// Services and their EndpointSlices, a TLS Secret, a Cluster's TrafficControl remedy).
    pub fn without_view(mut self) -> Self {
        self.view = false;
        self
    }

    /// The MCI itself, when created or its spec, annotations or deletion state changed, if it
    /// is handled (its status is no input: the view's clusters come from the bindings, see
    /// [`Mappers::binding`]). Our finalizer is no sign of ours: deployments serving other
    /// classes use the same name, and only the provider of the MCI's class may delete its
    /// balancer (Go filters by class at enqueue, deletion included). A deletion needs nothing: with the finalizer,
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
    pub fn endpoint_slice(&self, change: &Change<'_, CachedEndpointSlice>) -> Requests {
        service_of_endpoint_slice_change(change).map_or_else(Vec::new, |svc| self.referencing(&svc))
    }

    /// The handled MCIs that reference the Secret for TLS, when it changed in any way.
    pub fn secret(&self, change: &Change<'_, PartialObjectMeta<Secret>>) -> Requests {
        if !change.resource_version_changed() {
            return Vec::new();
        }
        let secret = ObjectKey::of(change.object());
        self.handled(self.by_secret.get(&secret.to_string()))
    }

    /// The handled MCIs whose backends are located on the Cluster (`status.serviceLocations`,
    /// whose `TrafficControl` clusters the MCI's `status.trafficBlockClusters` lists), when it
    /// gained or lost `TrafficControl`; with the backend view, also when it appeared or went or
    /// became Ready or not, and then those referencing a Service whose binding is scheduled on
    /// it as well (the view's clusters, maybe not in the status yet).
    pub fn cluster(&self, change: &Change<'_, Cluster>) -> Requests {
        let changed = if self.view {
            cluster_view_changed(change)
        } else {
            change.changed(|old, new| {
                old.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
                    != new.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL)
            })
        };
        if !changed {
            return Vec::new();
        }
        let name = change.object().name_any();
        let mut requests = self.handled(self.by_cluster.get(&name));
        if self.view {
            let services = self.bindings_by_cluster.get(&name);
            self.extend_referencing(
                &mut requests,
                services.iter().filter_map(|rb| bound_key(rb)),
            );
        }
        requests
    }

    /// The handled MCIs that reference a Service whose placement (the clusters of its view) or
    /// member load-balancer addresses the binding change changed.
    pub fn binding(&self, change: &Change<'_, ResourceBinding>) -> Requests {
        let mut services = services_of_binding_change(change);
        services.extend(services_of_binding_balancer_change(change));
        let mut requests = Requests::new();
        self.extend_referencing(&mut requests, services);
        requests
    }

    /// Adds to `requests` the handled MCIs referencing each Service, once.
    fn extend_referencing(
        &self,
        requests: &mut Requests,
        services: impl IntoIterator<Item = ObjectKey>,
    ) {
        let mut seen: HashSet<ObjectRef<MultiClusterIngress>> = requests.iter().cloned().collect();
        for service in services {
            for mci in self.handled(mcis_referencing(&self.by_service, &service)) {
                if seen.insert(mci.clone()) {
                    requests.push(mci);
                }
            }
        }
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
        self.handled(mcis_referencing(
            &self.by_service,
            &ObjectKey::from(service),
        ))
    }

    fn handled(&self, mcis: Vec<Arc<MultiClusterIngress>>) -> Requests {
        mcis.into_iter()
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
