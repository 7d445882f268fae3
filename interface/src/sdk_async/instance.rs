//! The runtime of an async provider instance, and the synchronous [`Provider`] the rest of the
//! SDK sees it as: every method runs the async provider's future on the calling thread.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::{core::v1::LoadBalancerStatus, networking::v1::IngressLoadBalancerStatus};

use super::{
    AsyncMultiClusterIngressBalancer, AsyncMultiClusterIngressLoadBalancer,
    AsyncMultiClusterServiceBalancer, AsyncMultiClusterServiceLoadBalancer, AsyncProvider,
};
use crate::api::networking::{MultiClusterIngress, MultiClusterService};
use crate::backends::Backends;
use crate::error::{ErrorKind, ProviderError};
use crate::sdk::{
    MultiClusterIngressBalancer, MultiClusterIngressLoadBalancer, MultiClusterServiceBalancer,
    MultiClusterServiceLoadBalancer, Progress, Provider,
};

/// How long dropping an instance waits for its runtime's tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The runtime of one async provider instance, started before the vendor's factory runs.
pub struct AsyncRuntime {
    pub(super) runtime: tokio::runtime::Runtime,
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

    fn multicluster_ingress_balancer(&self) -> Option<&dyn MultiClusterIngressBalancer> {
        self.provider
            .multicluster_ingress_balancer()
            .map(|_| self as &dyn MultiClusterIngressBalancer)
    }

    fn multicluster_service_balancer(&self) -> Option<&dyn MultiClusterServiceBalancer> {
        self.provider
            .multicluster_service_balancer()
            .map(|_| self as &dyn MultiClusterServiceBalancer)
    }

    fn backends_required(&self) -> bool {
        self.provider.backends_required()
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

/// Implements an interface 1.2 balancer trait for [`AsyncInstance`], as `blocking_balancer!`
/// does for the 1.0 ones.
macro_rules! blocking_backends_balancer {
    ($trait:ident for $capability:ident: $object:ident => $status:ty) => {
        impl<P: AsyncProvider> $trait for AsyncInstance<P> {
            fn get(
                &self,
                object: &$object,
                backends: &Backends,
            ) -> Result<Option<$status>, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("get", lb.get(object, backends))
            }

            fn ensure(
                &self,
                object: &$object,
                backends: &Backends,
            ) -> Result<Progress<$status>, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("ensure", lb.ensure(object, backends))
            }

            fn update(
                &self,
                object: &$object,
                backends: &Backends,
            ) -> Result<Progress<$status>, ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("update", lb.update(object, backends))
            }

            fn ensure_deleted(
                &self,
                object: &$object,
                backends: &Backends,
            ) -> Result<(), ProviderError> {
                let lb = offered(self.provider.$capability(), stringify!($object))?;
                self.call("ensure_deleted", lb.ensure_deleted(object, backends))
            }
        }
    };
}

blocking_backends_balancer!(MultiClusterIngressBalancer for multicluster_ingress_balancer:
    MultiClusterIngress => IngressLoadBalancerStatus);
blocking_backends_balancer!(MultiClusterServiceBalancer for multicluster_service_balancer:
    MultiClusterService => LoadBalancerStatus);
