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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::{core::v1::LoadBalancerStatus, networking::v1::IngressLoadBalancerStatus};

use crate::api::networking::{MultiClusterIngress, MultiClusterService};
use crate::error::{ErrorKind, ProviderError};
use crate::sdk::{MultiClusterIngressLoadBalancer, MultiClusterServiceLoadBalancer, Provider};

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

/// How long dropping an instance waits for its runtime's tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The runtime of one async provider instance, started before the vendor's factory runs.
pub struct AsyncRuntime {
    runtime: tokio::runtime::Runtime,
}

impl AsyncRuntime {
    /// Starts the runtime for provider `name`.
    pub fn start(name: &str) -> Result<AsyncRuntime, ProviderError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name(format!("{name}-provider"))
            .build()
            .map_err(|e| {
                ProviderError::retryable(format!("cannot start the provider's async runtime: {e}"))
            })?;
        Ok(AsyncRuntime { runtime })
    }

    /// Runs the vendor's factory future; on failure the runtime is shut down before returning.
    pub fn create<P: AsyncProvider>(
        self,
        factory: impl Future<Output = Result<P, ProviderError>>,
    ) -> Result<AsyncInstance<P>, ProviderError> {
        match self.runtime.block_on(factory) {
            Ok(provider) => Ok(AsyncInstance {
                runtime: Some(self.runtime),
                provider,
                call_timeout_ms: AtomicU64::new(0),
            }),
            Err(error) => {
                self.runtime.shutdown_timeout(SHUTDOWN_GRACE);
                Err(error)
            }
        }
    }
}

/// An [`AsyncProvider`] with its runtime, seen by the rest of the SDK as a synchronous
/// [`Provider`].
pub struct AsyncInstance<P> {
    /// `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    provider: P,
    /// The controller's call timeout; 0 until told (then calls are not bounded here).
    call_timeout_ms: AtomicU64,
}

impl<P> Drop for AsyncInstance<P> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
        }
    }
}

impl<P: AsyncProvider> AsyncInstance<P> {
    /// The vendor's provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// Runs one call's future on this thread, cancelling it at the controller's call timeout.
    fn call<T>(
        &self,
        method: &str,
        future: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(ProviderError::retryable("the provider is shutting down"));
        };
        let timeout_ms = self.call_timeout_ms.load(Ordering::Relaxed);
        if timeout_ms == 0 {
            return runtime.block_on(future);
        }
        let timeout = Duration::from_millis(timeout_ms);
        runtime.block_on(async {
            match tokio::time::timeout(timeout, future).await {
                Ok(result) => result,
                Err(_elapsed) => {
                    tracing::warn!(
                        method,
                        timeout = ?timeout,
                        "call cancelled: still pending when the controller's call timeout ran out"
                    );
                    Err(ProviderError::new(
                        ErrorKind::Retryable,
                        format!(
                            "{method} cancelled after the controller's call timeout of {timeout:?}"
                        ),
                    ))
                }
            }
        })
    }
}

/// The async provider's balancer for `object`s, or the error saying it offers none.
fn offered<B>(balancer: Option<B>, object: &str) -> Result<B, ProviderError> {
    balancer.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::NotSupported,
            format!("the provider does not offer {object} load balancers"),
        )
    })
}

impl<P: AsyncProvider> Provider for AsyncInstance<P> {
    fn multicluster_ingress(&self) -> Option<&dyn MultiClusterIngressLoadBalancer> {
        self.provider
            .multicluster_ingress()
            .map(|_| self as &dyn MultiClusterIngressLoadBalancer)
    }

    fn multicluster_service(&self) -> Option<&dyn MultiClusterServiceLoadBalancer> {
        self.provider
            .multicluster_service()
            .map(|_| self as &dyn MultiClusterServiceLoadBalancer)
    }

    fn set_call_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.call_timeout_ms.store(ms, Ordering::Relaxed);
    }
}

/// Implements a synchronous balancer trait for [`AsyncInstance`]: each method runs the async
/// provider's method of the same name through [`AsyncInstance::call`].
macro_rules! blocking_balancer {
    ($trait:ident for $capability:ident: $object:ident => $status:ty) => {
        impl<P: AsyncProvider> $trait for AsyncInstance<P> {
            fn get(&self, object: &$object) -> Result<Option<$status>, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("get", lb.get(object))
            }

            fn ensure(&self, object: &$object) -> Result<$status, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("ensure", lb.ensure(object))
            }

            fn update(&self, object: &$object) -> Result<$status, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("update", lb.update(object))
            }

            fn ensure_deleted(&self, object: &$object) -> Result<(), ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("ensure_deleted", lb.ensure_deleted(object))
            }
        }
    };
}

blocking_balancer!(MultiClusterIngressLoadBalancer for multicluster_ingress:
    MultiClusterIngress => IngressLoadBalancerStatus);
blocking_balancer!(MultiClusterServiceLoadBalancer for multicluster_service:
    MultiClusterService => LoadBalancerStatus);

#[cfg(test)]
mod tests;
