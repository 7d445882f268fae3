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
