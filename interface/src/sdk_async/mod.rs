//! The async flavour of the SDK (feature `async`): for providers built on async cloud SDKs.
//!
//! ```ignore
//! use mcp_interface::prelude::*;
//!
//! struct MyCloud { client: my_cloud_sdk::Client }
//!
//! impl AsyncProvider for MyCloud {
//!     fn multicluster_ingress(&self) -> Option<&impl AsyncMultiClusterIngressLoadBalancer> {
//!         Some(self)
//!     }
//! }
//!
//! impl AsyncMultiClusterIngressLoadBalancer for MyCloud {
//!     async fn get(&self, mci: &MultiClusterIngress)
//!         -> Result<Option<IngressLoadBalancerStatus>, ProviderError> { /* .await your SDK */ }
//!     async fn ensure(&self, mci: &MultiClusterIngress)
//!         -> Result<IngressLoadBalancerStatus, ProviderError> { /* ... */ }
//!     async fn update(&self, mci: &MultiClusterIngress)
//!         -> Result<IngressLoadBalancerStatus, ProviderError> { /* ... */ }
//!     async fn ensure_deleted(&self, mci: &MultiClusterIngress)
//!         -> Result<(), ProviderError> { /* ... */ }
//! }
//!
//! async fn new_provider(cloud_config: Option<&[u8]>) -> Result<MyCloud, ProviderError> {
//!     /* parse, then build the SDK client (.await allowed) */
//! }
//!
//! mcp_interface::export_async_provider!(name: "mycloud", factory: new_provider);
//! ```
//!
//! **The runtime.** Each provider instance owns a multi-threaded tokio runtime inside the library
//! (a library cannot use the controller's: tokio's context does not cross a shared-library
//! boundary). It is started by the factory, before your `new_provider` runs, so the factory, every
//! method and anything you `tokio::spawn` run on it; its worker threads are named
//! `<provider>-provider`. If the factory fails, the runtime is shut down before the error is
//! returned. Otherwise it lives as long as the instance, which is the controller process (the
//! controller never drops a provider); when an instance is dropped (a host that does drop it), its
//! runtime is shut down, waiting up to 5 seconds for spawned tasks to reach an `.await`.
//!
//! **Calls.** The controller calls from its own call threads, possibly many at once; each call
//! runs its future to completion on the calling thread (`block_on`), with the runtime's timers
//! and I/O drivers, so calls for different objects run in parallel. Futures need not be `Send`.
//!
//! **Timeouts.** The controller tells the instance its `--provider-call-timeout`. A call whose
//! future is still pending then is **cancelled**: the SDK drops the future at its current `.await`
//! (your `Drop`s run, an HTTP request in flight is abandoned), logs a warning and returns a
//! `retryable` error (the controller has already counted the call as a timeout and will retry the
//! object). Cancellation needs an `.await`: code that blocks the thread (`std::thread::sleep`,
//! a synchronous client) cannot be interrupted and keeps its thread until it returns. As with the
//! synchronous traits, make `ensure`, `update` and `ensure_deleted` idempotent: a cancelled call may
//! have done part of its work.

use std::future::Future;

use k8s_openapi::api::{core::v1::LoadBalancerStatus, networking::v1::IngressLoadBalancerStatus};

use crate::api::networking::{MultiClusterIngress, MultiClusterService};
use crate::backends::Backends;
use crate::error::ProviderError;
use crate::sdk::Progress;

mod instance;

pub use instance::{AsyncInstance, AsyncRuntime};

/// An async provider instance, created by the (async) factory given to `export_async_provider!`.
///
/// Each capability is optional: the default `None` means "not supported".
pub trait AsyncProvider: Send + Sync + 'static {
    /// The MultiClusterIngress load balancer, if this provider offers one (usually `Some(self)`).
    fn multicluster_ingress(&self) -> Option<&impl AsyncMultiClusterIngressLoadBalancer> {
        None::<&NotOffered>
    }

    /// The MultiClusterService load balancer, if this provider offers one.
    fn multicluster_service(&self) -> Option<&impl AsyncMultiClusterServiceLoadBalancer> {
        None::<&NotOffered>
    }

    /// Interface 1.2: the MultiClusterIngress load balancer that gets the backend view; used
    /// instead of [`AsyncProvider::multicluster_ingress`] when `Some`.
    fn multicluster_ingress_balancer(&self) -> Option<&impl AsyncMultiClusterIngressBalancer> {
        None::<&NotOffered>
    }

    /// Interface 1.2: the MultiClusterService load balancer that gets the backend view; used
    /// instead of [`AsyncProvider::multicluster_service`] when `Some`.
    fn multicluster_service_balancer(&self) -> Option<&impl AsyncMultiClusterServiceBalancer> {
        None::<&NotOffered>
    }

    /// Whether the provider cannot work without the backend view: see
    /// [`Provider::backends_required`](crate::sdk::Provider::backends_required).
    fn backends_required(&self) -> bool {
        true
    }
}

/// Cloud load balancers for MultiClusterIngress objects, async. Same contract as
/// [`MultiClusterIngressLoadBalancer`]; implement the methods as `async fn`.
pub trait AsyncMultiClusterIngressLoadBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> impl Future<Output = Result<Option<IngressLoadBalancerStatus>, ProviderError>>;

    /// Creates the balancer and returns its status.
    fn ensure(
        &self,
        mci: &MultiClusterIngress,
    ) -> impl Future<Output = Result<IngressLoadBalancerStatus, ProviderError>>;

    /// Brings an existing balancer in line with the object and returns its status.
    fn update(
        &self,
        mci: &MultiClusterIngress,
    ) -> impl Future<Output = Result<IngressLoadBalancerStatus, ProviderError>>;

    /// Deletes the balancer; succeeds when it is already gone.
    fn ensure_deleted(
        &self,
        mci: &MultiClusterIngress,
    ) -> impl Future<Output = Result<(), ProviderError>>;
}

/// Cloud load balancers for MultiClusterService objects of type `LoadBalancer`, async. Same
/// contract as [`MultiClusterServiceLoadBalancer`].
pub trait AsyncMultiClusterServiceLoadBalancer: Send + Sync {
    /// The balancer's current status, or `None` when it does not exist.
    fn get(
        &self,
        mcs: &MultiClusterService,
    ) -> impl Future<Output = Result<Option<LoadBalancerStatus>, ProviderError>>;

    /// Creates the balancer and returns its status.
    fn ensure(
        &self,
        mcs: &MultiClusterService,
    ) -> impl Future<Output = Result<LoadBalancerStatus, ProviderError>>;

    /// Brings an existing balancer in line with the object and returns its status.
    fn update(
        &self,
        mcs: &MultiClusterService,
    ) -> impl Future<Output = Result<LoadBalancerStatus, ProviderError>>;

    /// Deletes the balancer; succeeds when it is already gone.
    fn ensure_deleted(
        &self,
        mcs: &MultiClusterService,
    ) -> impl Future<Output = Result<(), ProviderError>>;
}

/// Interface 1.2's MultiClusterIngress load balancer, async: the contract of
/// [`MultiClusterIngressBalancer`](crate::sdk::MultiClusterIngressBalancer).
pub trait AsyncMultiClusterIngressBalancer: Send + Sync {
    fn get(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> impl Future<Output = Result<Option<IngressLoadBalancerStatus>, ProviderError>>;

    fn ensure(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> impl Future<Output = Result<Progress<IngressLoadBalancerStatus>, ProviderError>>;

    fn update(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> impl Future<Output = Result<Progress<IngressLoadBalancerStatus>, ProviderError>>;

    fn ensure_deleted(
        &self,
        mci: &MultiClusterIngress,
        backends: &Backends,
    ) -> impl Future<Output = Result<(), ProviderError>>;
}

/// Interface 1.2's MultiClusterService load balancer, async: the contract of
/// [`MultiClusterServiceBalancer`](crate::sdk::MultiClusterServiceBalancer).
pub trait AsyncMultiClusterServiceBalancer: Send + Sync {
    fn get(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> impl Future<Output = Result<Option<LoadBalancerStatus>, ProviderError>>;

    fn ensure(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> impl Future<Output = Result<Progress<LoadBalancerStatus>, ProviderError>>;

    fn update(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> impl Future<Output = Result<Progress<LoadBalancerStatus>, ProviderError>>;

    fn ensure_deleted(
        &self,
        mcs: &MultiClusterService,
        backends: &Backends,
    ) -> impl Future<Output = Result<(), ProviderError>>;
}

/// Implements an async balancer trait for [`NotOffered`], which has no values.
macro_rules! never_called {
    ($trait:ident: $object:ty => $status:ty) => {
        impl $trait for NotOffered {
            async fn get(&self, _: &$object) -> Result<Option<$status>, ProviderError> {
                match *self {}
            }
            async fn ensure(&self, _: &$object) -> Result<$status, ProviderError> {
                match *self {}
            }
            async fn update(&self, _: &$object) -> Result<$status, ProviderError> {
                match *self {}
            }
            async fn ensure_deleted(&self, _: &$object) -> Result<(), ProviderError> {
                match *self {}
            }
        }
    };
}

/// The type of a capability an [`AsyncProvider`] does not offer (the defaults' `None`). Never
/// called.
pub enum NotOffered {}

never_called!(AsyncMultiClusterIngressLoadBalancer: MultiClusterIngress => IngressLoadBalancerStatus);
never_called!(AsyncMultiClusterServiceLoadBalancer: MultiClusterService => LoadBalancerStatus);

/// [`never_called!`] for the interface 1.2 traits.
macro_rules! never_called_with_backends {
    ($trait:ident: $object:ty => $status:ty) => {
        impl $trait for NotOffered {
            async fn get(
                &self,
                _: &$object,
                _: &Backends,
            ) -> Result<Option<$status>, ProviderError> {
                match *self {}
            }
            async fn ensure(
                &self,
                _: &$object,
                _: &Backends,
            ) -> Result<Progress<$status>, ProviderError> {
                match *self {}
            }
            async fn update(
                &self,
                _: &$object,
                _: &Backends,
            ) -> Result<Progress<$status>, ProviderError> {
                match *self {}
            }
            async fn ensure_deleted(&self, _: &$object, _: &Backends) -> Result<(), ProviderError> {
                match *self {}
            }
        }
    };
}

never_called_with_backends!(AsyncMultiClusterIngressBalancer: MultiClusterIngress => IngressLoadBalancerStatus);
never_called_with_backends!(AsyncMultiClusterServiceBalancer: MultiClusterService => LoadBalancerStatus);

#[cfg(test)]
mod tests;
