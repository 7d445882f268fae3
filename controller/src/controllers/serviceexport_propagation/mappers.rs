//! Which Service keys each watched change re-triggers: one function per watched kind. The key
//! is the Service's `namespace/name` whether the Service exists or not.

use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::constants::SERVICE_EXPORT_POLICY_PREFIX;
use mcp_interface::api::mcs::ServiceExport;
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::PropagationPolicy;
use mcp_interface::api::work::ResourceBinding;

use super::owned::{controlled_by_service, serves_service_exports};
use crate::cache::{CachedService, Change};
use crate::controllers::mappers::services_of_binding_change;
use crate::controllers::references::{bound_key, referenced_services};
use crate::key::ObjectKey;

/// What the mappers read besides the change: the bindings, to find the Services placed on a
/// Cluster.
#[derive(Clone)]
pub struct Mappers {
    pub bindings: Store<ResourceBinding>,
}

type Requests = Vec<ObjectRef<Service>>;

fn key(namespace: &str, name: &str) -> ObjectRef<Service> {
    ObjectRef::new(name).within(namespace)
}

/// The key named like `obj` in its namespace.
fn same_name<K: ResourceExt>(obj: &K) -> ObjectRef<Service> {
    key(&obj.namespace().unwrap_or_default(), &obj.name_any())
}

impl Mappers {
    /// The Services an MCI starts or stops referencing (all of them when it is created or
    /// deleted), whatever its IngressClass.
    pub fn mci(&self, change: &Change<'_, MultiClusterIngress>) -> Requests {
        Self::mci_services(change)
    }

    fn mci_services(change: &Change<'_, MultiClusterIngress>) -> Requests {
        let services = match change {
            Change::Applied { old, new } => {
                let now = referenced_services(new);
                let before = old.map(referenced_services).unwrap_or_default();
                now.symmetric_difference(&before).cloned().collect()
            }
            Change::Deleted(mci) => referenced_services(mci),
        };
        let namespace = change.object().namespace().unwrap_or_default();
        services.iter().map(|svc| key(&namespace, svc)).collect()
    }

    /// The Service named like an MCS created, deleted, or gaining or losing `LoadBalancer`.
    pub fn mcs(&self, change: &Change<'_, MultiClusterService>) -> Option<ObjectRef<Service>> {
        change
            .changed(|old, new| old.spec.has_load_balancer() != new.spec.has_load_balancer())
            .then(|| same_name(change.object()))
    }

    /// The Service itself, created, deleted, starting deletion or replaced (new UID).
    pub fn service(&self, change: &Change<'_, CachedService>) -> Option<ObjectRef<Service>> {
        (change.uid_changed() || change.deletion_changed()).then(|| same_name(change.object()))
    }

    /// The Services whose placement a ResourceBinding change affects.
    pub fn binding(&self, change: &Change<'_, ResourceBinding>) -> Requests {
        services_of_binding_change(change)
            .iter()
            .map(ObjectKey::to_ref)
            .collect()
    }

    /// The Service named like a ServiceExport created, deleted, or changed in ownerReferences or
    /// deletion state (a deleted or edited export is put back).
    pub fn service_export(&self, change: &Change<'_, ServiceExport>) -> Option<ObjectRef<Service>> {
        (change.owner_references_changed() || change.deletion_changed())
            .then(|| same_name(change.object()))
    }

    /// The Services placed on a Cluster that starts or stops serving the ServiceExport API
    /// (`status.apiEnablements`), is created or is deleted: their policies list only such
    /// clusters.
    pub fn cluster(&self, change: &Change<'_, Cluster>) -> Requests {
        if !change.changed(|old, new| serves_service_exports(old) != serves_service_exports(new)) {
            return Vec::new();
        }
        let name = change.object().name_any();
        self.bindings
            .state_filter(|rb| rb.scheduled_clusters().contains(&name))
            .iter()
            .filter_map(|rb| bound_key(rb))
            .map(|service| service.to_ref())
            .collect()
    }

    /// The Service of a `propagate-service-<svc>` policy created, deleted, or changed in spec,
    /// ownerReferences or deletion state.
    pub fn policy(&self, change: &Change<'_, PropagationPolicy>) -> Option<ObjectRef<Service>> {
        Self::policy_service(change)
    }

    fn policy_service(change: &Change<'_, PropagationPolicy>) -> Option<ObjectRef<Service>> {
        let policy = change.object();
        let name = policy.name_any();
        let service = name.strip_prefix(SERVICE_EXPORT_POLICY_PREFIX)?;
        (change.changed(|old, new| old.spec != new.spec)
            || change.owner_references_changed()
            || change.deletion_changed())
        .then(|| key(&policy.namespace().unwrap_or_default(), service))
    }
}

/// At start: every Service an MCI or a load-balanced MCS references, and every Service whose
/// ServiceExport or policy this controller may have to delete.
pub fn existing(
    mcis: &Store<MultiClusterIngress>,
    mcss: &Store<MultiClusterService>,
    exports: &Store<ServiceExport>,
    policies: &Store<PropagationPolicy>,
) -> Requests {
    let mut keys: Requests = Vec::new();
    for mci in mcis.state() {
        let created = Change::created(mci.as_ref());
        keys.extend(Mappers::mci_services(&created));
    }
    let load_balanced = mcss.state_filter(|mcs| mcs.spec.has_load_balancer());
    keys.extend(load_balanced.iter().map(|mcs| same_name(mcs.as_ref())));
    let controlled = exports.state_filter(|se| controlled_by_service(&se.metadata, &se.name_any()));
    keys.extend(controlled.iter().map(|se| same_name(se.as_ref())));
    for policy in policies.state() {
        let created = Change::created(policy.as_ref());
        keys.extend(Mappers::policy_service(&created));
    }
    keys
}
