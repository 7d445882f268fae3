//! The five controllers of the Go original, in one table ([`CONTROLLERS`]) from which everything
//! else is derived: the `--controllers` names, the caches to start, the provider capabilities to
//! check, and what runs while this replica leads.
//!
//! Each controller is a folder: `mod.rs` says what it does and wires its watches (`run`),
//! `reconcile.rs` makes the world match one object, `mappers.rs` has one named function per
//! watched kind (which objects a change re-triggers), `tests.rs` the unit tests (a reconcile's
//! against `testing.rs`'s mocked API server and in-memory provider). What several controllers
//! share lives beside them: [`runtime`] (the kube-runtime controller with spans), [`tracker`]
//! (a request's backoff, admission and metrics), [`balancer`] (the reconcile MCI and MCS share),
//! [`calls`] (a provider call, its failure also a Warning Event), [`trigger`] (from cache changes
//! to reconcile requests), [`mappers`] (the shared watch mappings), [`references`] (what
//! refers to what) and [`backends`] (the backend view a provider is given, and its digest).
//! The API writes ([`crate::writes`]) and Events ([`crate::events`]) are the crate's, shared
//! with the caches.

mod admission;
pub mod backends;
pub mod balancer;
pub mod calls;
pub mod crd_installation;
#[cfg(test)]
mod fixtures;
pub mod mappers;
pub mod mci_service_locations;
pub mod multicluster_ingress;
pub mod multicluster_service;
pub mod references;
pub mod runtime;
pub mod serviceexport_propagation;
#[cfg(test)]
pub mod testing;
pub mod tracker;
pub mod trigger;
pub mod workqueue;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_loader::Provider;

use crate::context::{CacheKind, Context};
use crate::settings::ControllerSelection;

pub use runtime::Shutdown;

/// One controller: its `--controllers` name, the caches it reads or is triggered by (only those
/// are watched, so the RBAC needs no more than the enabled controllers use), the provider
/// capability it needs, and its run function.
pub struct Controller {
    pub name: &'static str,
    /// The Go original's name for it in controller-runtime's metrics (`controller` and workqueue
    /// `name` labels): its `controller.New` name, or for builder-made controllers the primary
    /// kind in lower case.
    pub go_name: &'static str,
    pub caches: &'static [CacheKind],
    pub needs: Option<Capability>,
    /// Runs until the shutdown signal resolves (then finishes its in-flight reconciles) or the
    /// future is dropped (leadership lost: stop at once). Given its own row, for its names.
    pub run: fn(&'static Controller, Arc<Context>, Shutdown) -> BoxFuture<'static, ()>,
}

/// Every controller, in the order they start (the Go original's registry).
pub const CONTROLLERS: [Controller; 5] = [
    Controller {
        name: multicluster_ingress::NAME,
        go_name: "multiclusteringress-controller",
        caches: multicluster_ingress::CACHES,
        needs: Some(Capability::MultiClusterIngress),
        run: multicluster_ingress::run,
    },
    Controller {
        name: multicluster_service::NAME,
        go_name: "multiclusterservice-controller",
        caches: multicluster_service::CACHES,
        needs: Some(Capability::MultiClusterService),
        run: multicluster_service::run,
    },
    Controller {
        name: crd_installation::NAME,
        go_name: "cluster",
        caches: crd_installation::CACHES,
        needs: None,
        run: crd_installation::run,
    },
    Controller {
        name: serviceexport_propagation::NAME,
        go_name: "serviceexport-propagation-controller",
        caches: serviceexport_propagation::CACHES,
        needs: None,
        run: serviceexport_propagation::run,
    },
    Controller {
        name: mci_service_locations::NAME,
        go_name: "multiclusteringress",
        caches: mci_service_locations::CACHES,
        needs: None,
        run: mci_service_locations::run,
    },
];

/// What a controller may need from the provider library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    MultiClusterIngress,
    MultiClusterService,
}

impl Capability {
    pub fn is_supported_by(self, provider: &Provider) -> bool {
        match self {
            Capability::MultiClusterIngress => provider.supports_multicluster_ingress(),
            Capability::MultiClusterService => provider.supports_multicluster_service(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Capability::MultiClusterIngress => "MultiClusterIngress load balancers",
            Capability::MultiClusterService => "MultiClusterService load balancers",
        }
    }
}

/// Every controller's `--controllers` name.
pub fn names() -> Vec<&'static str> {
    CONTROLLERS.iter().map(|c| c.name).collect()
}

/// The controllers `selection` enables, in table order.
pub fn enabled(selection: &ControllerSelection) -> impl Iterator<Item = &'static Controller> + '_ {
    CONTROLLERS.iter().filter(|c| selection.is_enabled(c.name))
}

/// The caches the enabled controllers need.
pub fn cache_kinds(selection: &ControllerSelection) -> BTreeSet<CacheKind> {
    enabled(selection)
        .flat_map(|c| c.caches.iter().copied())
        .collect()
}

/// Refuses a selection that needs a capability the provider lacks.
pub fn check_capabilities(
    selection: &ControllerSelection,
    provider: &Provider,
) -> Result<(), String> {
    let lacking: Vec<(&str, Capability)> = enabled(selection)
        .filter_map(|c| Some((c.name, c.needs?)))
        .filter(|(_, needs)| !needs.is_supported_by(provider))
        .collect();
    let Some((first, _)) = lacking.first() else {
        return Ok(());
    };
    let missing: Vec<String> = lacking
        .iter()
        .map(|(name, needs)| format!("controller {name} needs {}", needs.describe()))
        .collect();
    Err(format!(
        "cloud provider {:?} does not support what the enabled controllers need: {}. Disable them with --controllers (for example --controllers=*,-{first}) or use a provider that supports them.",
        provider.name(),
        missing.join("; "),
    ))
}

/// Starts the enabled controllers; each runs until `shutdown` resolves (then finishes its
/// in-flight reconciles) or the returned futures are dropped (leadership lost: stop at once).
pub fn start_enabled(
    ctx: &Arc<Context>,
    shutdown: &Shutdown,
) -> Vec<(&'static str, BoxFuture<'static, ()>)> {
    enabled(&ctx.settings.controllers)
        .map(|c| (c.name, (c.run)(c, ctx.clone(), shutdown.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_derives_names_and_caches() {
        assert_eq!(
            names(),
            [
                "multiclusteringress",
                "multiclusterservice",
                "crd-installation",
                "serviceexport-propagation",
                "mci-service-locations"
            ]
        );
        let only_crds = ControllerSelection::parse(&["crd-installation".into()], &names()).unwrap();
        assert_eq!(
            cache_kinds(&only_crds).into_iter().collect::<Vec<_>>(),
            [CacheKind::Clusters, CacheKind::ClusterPropagationPolicies]
        );
        let all_but_mci =
            ControllerSelection::parse(&["*".into(), "-multiclusteringress".into()], &names())
                .unwrap();
        assert_eq!(
            enabled(&all_but_mci).map(|c| c.name).collect::<Vec<_>>(),
            names()[1..]
        );
        assert!(!cache_kinds(&all_but_mci).contains(&CacheKind::Secrets));
        assert!(ControllerSelection::parse(&["nonsense".into()], &names()).is_err());
    }
}
