//! The vendor SDK: implement these traits in plain safe Rust and export the provider with
//! [`export_provider!`](crate::export_provider).
//!
//! ```ignore
//! use mcp_interface::prelude::*;
//!
//! struct MyCloud { /* API client */ }
//!
//! impl Provider for MyCloud {
//!     fn multicluster_ingress(&self) -> Option<&dyn MultiClusterIngressLoadBalancer> {
//!         Some(self)
//!     }
//! }
//!
//! impl MultiClusterIngressLoadBalancer for MyCloud { /* get, ensure, update, ensure_deleted */ }
//!
//! fn new_provider(cloud_config: Option<&[u8]>) -> Result<MyCloud, ProviderError> { /* parse */ }
//!
//! mcp_interface::export_provider!(name: "mycloud", factory: new_provider);
//! ```
//!
//! For async cloud SDKs, implement the `async` traits of [`sdk_async`](crate::sdk_async) instead
//! (feature `async`) and export with `export_async_provider!`.
//!
//! Each method is called on a host thread that may block (the host runs calls on call
//! threads with a timeout), possibly from many threads at once: providers are `Send + Sync`.
//! A panic is caught at the boundary and reported to the host as an error of kind
//! [`ErrorKind::Panicked`](crate::ErrorKind::Panicked); build with `panic = "unwind"` (the default).
//! `tracing` events are forwarded to the host's log.

use k8s_openapi::api::{core::v1::LoadBalancerStatus, networking::v1::IngressLoadBalancerStatus};

use crate::api::networking::{MultiClusterIngress, MultiClusterService};
use crate::backends::Backends;
use crate::error::ProviderError;

/// A provider instance, created by the factory given to `export_provider!`.
///
/// Each capability is optional: return `None` (the default) when the provider does not offer
/// it, and the host reports the capability as not supported instead of calling it.
pub trait Provider: Send + Sync + 'static {
    /// The MultiClusterIngress load balancer, if this provider offers one.
    fn multicluster_ingress(&self) -> Option<&dyn MultiClusterIngressLoadBalancer> {
        None
    }

    /// The MultiClusterService load balancer, if this provider offers one.
    fn multicluster_service(&self) -> Option<&dyn MultiClusterServiceLoadBalancer> {
        None
    }

    /// The controller's bound on one call (`--provider-call-timeout`), told after the factory
    /// and whenever it changes. A call still running then has failed for the controller (it
    /// retries the object later), so a provider may bound its own cloud requests by it. The
    /// default ignores it; [`AsyncProvider`](crate::sdk_async::AsyncProvider)s get it for free:
    /// the SDK cancels their call's future then.
    fn set_call_timeout(&self, timeout: std::time::Duration) {
        let _ = timeout;
    }

    /// Interface 1.2: the MultiClusterIngress load balancer that gets the backend view with
    /// every call. When it is `Some`, it is used instead of [`Provider::multicluster_ingress`].
    fn multicluster_ingress_balancer(&self) -> Option<&dyn MultiClusterIngressBalancer> {
        None
    }

    /// Interface 1.2: the MultiClusterService load balancer that gets the backend view with
    /// every call. When it is `Some`, it is used instead of [`Provider::multicluster_service`].
    fn multicluster_service_balancer(&self) -> Option<&dyn MultiClusterServiceBalancer> {
        None
    }

    /// Whether this provider cannot work without the backend view (only asked of a provider
    /// that offers a `*_balancer`). `true` (the default): a controller older than interface
    /// 1.2, which cannot give the view, refuses the provider at start-up with a sentence saying
    /// so. `false`: in such a controller the provider is called with
    /// [`Backends::unresolved`] and works from the object alone.
    fn backends_required(&self) -> bool {
        true
    }
}

/// What `ensure` and `update` of an interface 1.2 balancer return: the balancer's status, and
/// whether it is still being provisioned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress<S> {
    /// The status so far (what the object's status shows meanwhile).
    pub status: S,
    /// `Some(delay)`: the cloud is still provisioning the balancer; the controller calls
    /// `update` again after `delay` (bounded by its `--rate-limiter-max-delay`) instead of
    /// holding a call until the cloud finishes. `None`: done.
    pub check_after: Option<std::time::Duration>,
}

impl<S> Progress<S> {
    /// The balancer is in place with `status`.
    pub fn done(status: S) -> Self {
        Progress {
            status,
            check_after: None,
        }
    }

    /// The balancer is being provisioned; check back after `delay`.
    pub fn in_progress(status: S, check_after: std::time::Duration) -> Self {
        Progress {
            status,
            check_after: Some(check_after),
        }
    }
}

impl<S> From<S> for Progress<S> {
    fn from(status: S) -> Self {
        Progress::done(status)
    }
}

/// Cloud load balancers for MultiClusterIngress objects.
pub trait MultiClusterIngressLoadBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError>;

    /// Creates the balancer and returns its status.
    fn ensure(&self, mci: &MultiClusterIngress)
    -> Result<IngressLoadBalancerStatus, ProviderError>;

    /// Brings an existing balancer in line with the object and returns its status.
    fn update(&self, mci: &MultiClusterIngress)
    -> Result<IngressLoadBalancerStatus, ProviderError>;

    /// Deletes the balancer; succeeds when it is already gone.
    fn ensure_deleted(&self, mci: &MultiClusterIngress) -> Result<(), ProviderError>;
}

/// Cloud load balancers for MultiClusterService objects of type `LoadBalancer`.
pub trait MultiClusterServiceLoadBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(&self, mcs: &MultiClusterService) -> Result<Option<LoadBalancerStatus>, ProviderError>;

    /// Creates the balancer and returns its status.
    fn ensure(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError>;

    /// Brings an existing balancer in line with the object and returns its status.
    fn update(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError>;

    /// Deletes the balancer; succeeds when it is already gone.
    fn ensure_deleted(&self, mcs: &MultiClusterService) -> Result<(), ProviderError>;
}

/// Interface 1.2's MultiClusterIngress load balancer: the methods of
/// [`MultiClusterIngressLoadBalancer`], each also given the [`Backends`] behind the MCI (the
/// Services it routes to, their member clusters and endpoints, its TLS certificates), and
/// `ensure`/`update` may report a balancer still being provisioned ([`Progress`]).
///
/// The view is resolved by the controller when the call is made; see `docs/vendors.md`, "What
/// your provider sees". Offer it with [`Provider::multicluster_ingress_balancer`].
pub trait MultiClusterIngressBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError>;

    /// Creates the balancer and returns its status (`status.into()` when it is done).
    fn ensure(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<Progress<IngressLoadBalancerStatus>, ProviderError>;

    /// Brings an existing balancer in line with the object and its backends. The controller
    /// calls it when the object or its view changed since the last successful call.
    fn update(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<Progress<IngressLoadBalancerStatus>, ProviderError>;

    /// Deletes the balancer; succeeds when it is already gone. The view is what stood behind
    /// the object when it was deleted (what is still known of it).
    fn ensure_deleted(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> Result<(), ProviderError>;
}

/// Interface 1.2's MultiClusterService load balancer: [`MultiClusterServiceLoadBalancer`] with
/// the [`Backends`] behind the MCS (its Service, member clusters and endpoints) and
/// [`Progress`]. Offer it with [`Provider::multicluster_service_balancer`].
pub trait MultiClusterServiceBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<Option<LoadBalancerStatus>, ProviderError>;

    /// Creates the balancer and returns its status.
    fn ensure(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<Progress<LoadBalancerStatus>, ProviderError>;

    /// Brings an existing balancer in line with the object and its backends.
    fn update(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<Progress<LoadBalancerStatus>, ProviderError>;

    /// Deletes the balancer; succeeds when it is already gone.
    fn ensure_deleted(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> Result<(), ProviderError>;
}
