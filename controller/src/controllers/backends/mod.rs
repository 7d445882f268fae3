//! The backend view of interface 1.2 (`mcp_interface::backends`): what stands behind a
//! MultiClusterIngress or MultiClusterService, resolved from the caches of the Karmada control
//! plane when a provider is called, and its digest.
//!
//! The API a reconcile uses:
//! - [`resolve_mci`] / [`resolve_mcs`] (or [`HasBackends::resolve`] for either kind) give the
//!   [`Resolved`] view: the [`Backends`] and the [`Problem`]s found building it, which the
//!   caller records as Warning Events on the object (they are also in the view, where the
//!   provider sees them). Problems never fail the call; only a failed API request does (reading
//!   a TLS Secret: then the reconcile is retried).
//! - [`digest`] (or [`HasBackends::digest`]) of what a provider is given: the object's spec,
//!   labels and annotations and the view as encoded for the call ([`EncodedView`]: encoded
//!   once, hashed and sent), TLS material included. Equal inputs give equal
//!   digests; a status-only change of the object does not change it, a TLS rotation does.
//!
//! What the view holds, and where it comes from:
//! - **Services**: for an MCI each Service a rule path or the default backend names
//!   (`references::referenced_services`), with every port the MCI uses, by number or by name,
//!   resolved against the Service's ports (`ports.rs`); for an MCS its Service, with the ports
//!   its `spec.ports` selects by number, or all the Service's ports.
//! - **Clusters**: the clusters of the Service's ResourceBinding, for an MCI what its
//!   `status.serviceLocations` says of that Service once written, for an MCS what its locations
//!   would say (an MCI's view does not wait for its status to be written). Each with the
//!   Cluster's `Ready` condition; `trafficBlocked` when the Cluster carries the
//!   `TrafficControl` remedy action (as [`traffic_block_clusters`], what the MCI controller
//!   writes into `status.trafficBlockClusters`); the member Service's load-balancer
//!   addresses from the binding's `status.aggregatedStatus[]`; and the endpoints of the
//!   EndpointSlices Karmada collected from that cluster (`clusters.rs`).
//! - **TLS** (an MCI's `spec.tls`): `tls.crt` and `tls.key` of each Secret, read with a GET when
//!   the view is built, never cached, logged or put in an Event (`tls.rs`).
//!
//! Every input of the view re-triggers the object's controller: see the mappers of
//! `multicluster_ingress` and `multicluster_service`.

mod clusters;
mod digest;
mod ports;
#[cfg(test)]
mod tests;
mod tls;

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use mcp_interface::api::cluster::{Cluster, REMEDY_ACTION_TRAFFIC_CONTROL};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::backends::{BackendService, Backends};
use mcp_loader::EncodedView;

use crate::context::{Caches, Context};
use crate::controllers::references::{located_clusters, referenced_secrets, service_binding};
use crate::error::Result;
pub use clusters::balancer_addresses;
pub use digest::{Digest, digest};

/// A resolved backend view and what was wrong with the object's backends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub backends: Backends,
    pub problems: Vec<Problem>,
}

/// Something wrong with an object's backends, for a Warning Event on the object: `reason` is
/// the Event's reason, `message` names objects and fields, never TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reason: &'static str,
    pub message: String,
}

/// A Service the object names does not exist in the Karmada control plane.
pub const SERVICE_NOT_FOUND: &str = "BackendServiceNotFound";
/// A port the object names is not a port of the Service.
pub const PORT_NOT_FOUND: &str = "BackendPortNotFound";
/// A TLS Secret is missing, lacks `tls.crt`/`tls.key`, or they are not PEM text.
pub const INVALID_TLS_SECRET: &str = "InvalidTLSSecret";

/// The kinds with a backend view.
pub trait HasBackends {
    /// The object's backend view, from the caches (and, for TLS, a GET of each Secret).
    fn resolve(&self, ctx: &Context) -> impl Future<Output = Result<Resolved>> + Send;
    /// The digest of what a provider is given about the object, its view as encoded for the
    /// call (see [`digest`]).
    fn digest(&self, view: &EncodedView) -> Digest;
}

impl HasBackends for MultiClusterIngress {
    fn resolve(&self, ctx: &Context) -> impl Future<Output = Result<Resolved>> + Send {
        resolve_mci(ctx, self)
    }
    fn digest(&self, view: &EncodedView) -> Digest {
        digest(&self.metadata, &self.spec, view)
    }
}

impl HasBackends for MultiClusterService {
    async fn resolve(&self, ctx: &Context) -> Result<Resolved> {
        Ok(resolve_mcs(&ctx.caches, self))
    }
    fn digest(&self, view: &EncodedView) -> Digest {
        digest(&self.metadata, &self.spec, view)
    }
}

/// The backend view of an MCI: its Secrets read from the API server, the rest from the caches.
pub async fn resolve_mci(ctx: &Context, mci: &MultiClusterIngress) -> Result<Resolved> {
    let namespace = mci.namespace().unwrap_or_default();
    let secrets = tls::read_secrets(&ctx.client, &namespace, &referenced_secrets(mci)).await?;
    Ok(mci_view(&ctx.caches, mci, &secrets))
}

/// The backend view of an MCI, given its TLS Secrets as read (`None`: not found), by name.
pub fn mci_view(
    caches: &Caches,
    mci: &MultiClusterIngress,
    secrets: &BTreeMap<String, Option<Secret>>,
) -> Resolved {
    let namespace = mci.namespace().unwrap_or_default();
    let mut problems = Vec::new();
    let services = ports::mci_ports(mci)
        .into_iter()
        .map(|(name, wanted)| {
            let (service, mut found) = located_service(caches, &namespace, &name, |svc| {
                ports::resolve_mci_ports(&namespace, &name, svc, &wanted)
            });
            problems.append(&mut found);
            service
        })
        .collect();
    let tls = tls::tls_view(&namespace, mci, secrets, &mut problems);
    Resolved {
        backends: Backends {
            resolved: true,
            services,
            tls,
        },
        problems,
    }
}

/// The backend view of an MCS: its Service, from the caches. An MCS has no TLS; its clusters
/// carrying the `TrafficControl` remedy action are marked blocked as an MCI's are.
pub fn resolve_mcs(caches: &Caches, mcs: &MultiClusterService) -> Resolved {
    let namespace = mcs.namespace().unwrap_or_default();
    let name = mcs.name_any();
    let (service, problems) = located_service(caches, &namespace, &name, |svc| {
        ports::resolve_mcs_ports(&namespace, &name, svc, mcs)
    });
    Resolved {
        backends: Backends {
            resolved: true,
            services: vec![service],
            tls: Vec::new(),
        },
        problems,
    }
}

/// One Service of the view, its ports as `ports` resolves them against the cached Service, in
/// the clusters of its binding (what an MCI's `status.serviceLocations` says or is about to say
/// of it: a new MCI's first `ensure` already sees them, and the status write that follows
/// changes nothing).
fn located_service(
    caches: &Caches,
    namespace: &str,
    name: &str,
    ports: impl FnOnce(Option<&crate::cache::CachedService>) -> ports::Ports,
) -> (BackendService, Vec<Problem>) {
    let cached = caches.services().get(namespace, name);
    let (ports, mut problems) = ports(cached.as_deref());
    let clusters = if cached.is_some() {
        service_binding(caches.bindings(), namespace, name)
            .map(|rb| clusters::clusters_view(caches, namespace, name, &rb))
            .unwrap_or_default()
    } else {
        problems.push(Problem {
            reason: SERVICE_NOT_FOUND,
            message: format!("Service {namespace}/{name} not found"),
        });
        Vec::new()
    };
    let service = BackendService {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        found: cached.is_some(),
        ports,
        clusters,
    };
    (service, problems)
}

/// The sorted clusters of the MCI's service locations that carry `TrafficControl`: what the
/// MCI controller writes into `status.trafficBlockClusters` (the view marks the same clusters
/// blocked, per Service, see `clusters::clusters_view`).
pub fn traffic_block_clusters(mci: &MultiClusterIngress, clusters: &Store<Cluster>) -> Vec<String> {
    blocked_among(located_clusters(mci).into_iter(), clusters)
}

/// Those of `names` whose Cluster carries `TrafficControl`, sorted.
fn blocked_among<'a>(
    names: impl Iterator<Item = &'a str>,
    clusters: &Store<Cluster>,
) -> Vec<String> {
    let mut blocked: Vec<String> = names
        .filter(|name| {
            clusters
                .get(&ObjectRef::new(name))
                .is_some_and(|c| c.has_remedy_action(REMEDY_ACTION_TRAFFIC_CONTROL))
        })
        .map(str::to_owned)
        .collect();
    blocked.sort();
    blocked.dedup();
    blocked
}
