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

/// The type of a capability an [`AsyncProvider`] does not offer (the defaults' `None`). Never
/// called.
pub enum NotOffered {}

impl AsyncMultiClusterIngressLoadBalancer for NotOffered {
    async fn get(
        &self,
        _: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
        match *self {}
    }
    async fn ensure(
        &self,
        _: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        match *self {}
    }
    async fn update(
        &self,
        _: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        match *self {}
    }
    async fn ensure_deleted(&self, _: &MultiClusterIngress) -> Result<(), ProviderError> {
        match *self {}
    }
}

impl AsyncMultiClusterServiceLoadBalancer for NotOffered {
    async fn get(
        &self,
        _: &MultiClusterService,
    ) -> Result<Option<LoadBalancerStatus>, ProviderError> {
        match *self {}
    }
    async fn ensure(&self, _: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        match *self {}
    }
    async fn update(&self, _: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        match *self {}
    }
    async fn ensure_deleted(&self, _: &MultiClusterService) -> Result<(), ProviderError> {
        match *self {}
    }
}

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

fn not_offered(what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotSupported,
        format!("the provider does not offer {what}"),
    )
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

impl<P: AsyncProvider> MultiClusterIngressLoadBalancer for AsyncInstance<P> {
    fn get(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
        let lb = self.provider.multicluster_ingress();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterIngress load balancers"))?;
        self.call("get", lb.get(mci))
    }

    fn ensure(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let lb = self.provider.multicluster_ingress();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterIngress load balancers"))?;
        self.call("ensure", lb.ensure(mci))
    }

    fn update(
        &self,
        mci: &MultiClusterIngress,
    ) -> Result<IngressLoadBalancerStatus, ProviderError> {
        let lb = self.provider.multicluster_ingress();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterIngress load balancers"))?;
        self.call("update", lb.update(mci))
    }

    fn ensure_deleted(&self, mci: &MultiClusterIngress) -> Result<(), ProviderError> {
        let lb = self.provider.multicluster_ingress();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterIngress load balancers"))?;
        self.call("ensure_deleted", lb.ensure_deleted(mci))
    }
}

impl<P: AsyncProvider> MultiClusterServiceLoadBalancer for AsyncInstance<P> {
    fn get(&self, mcs: &MultiClusterService) -> Result<Option<LoadBalancerStatus>, ProviderError> {
        let lb = self.provider.multicluster_service();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterService load balancers"))?;
        self.call("get", lb.get(mcs))
    }

    fn ensure(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        let lb = self.provider.multicluster_service();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterService load balancers"))?;
        self.call("ensure", lb.ensure(mcs))
    }

    fn update(&self, mcs: &MultiClusterService) -> Result<LoadBalancerStatus, ProviderError> {
        let lb = self.provider.multicluster_service();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterService load balancers"))?;
        self.call("update", lb.update(mcs))
    }

    fn ensure_deleted(&self, mcs: &MultiClusterService) -> Result<(), ProviderError> {
        let lb = self.provider.multicluster_service();
        let lb = lb.ok_or_else(|| not_offered("MultiClusterService load balancers"))?;
        self.call("ensure_deleted", lb.ensure_deleted(mcs))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// Sets its flag when dropped: proves a future was dropped (cancelled), not completed.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    struct Slow {
        dropped: Arc<AtomicBool>,
        runtime_thread: std::sync::Mutex<Option<String>>,
    }

    impl AsyncProvider for Slow {
        fn multicluster_ingress(&self) -> Option<&impl AsyncMultiClusterIngressLoadBalancer> {
            Some(self)
        }
    }

    impl AsyncMultiClusterIngressLoadBalancer for Slow {
        async fn get(
            &self,
            mci: &MultiClusterIngress,
        ) -> Result<Option<IngressLoadBalancerStatus>, ProviderError> {
            // Work spawned onto the provider's runtime runs on its named threads.
            let name = tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .map_err(|e| ProviderError::retryable(e.to_string()))?;
            *self.runtime_thread.lock().unwrap() = name;
            Ok(mci
                .metadata
                .name
                .as_ref()
                .map(|_| IngressLoadBalancerStatus::default()))
        }
        async fn ensure(
            &self,
            _: &MultiClusterIngress,
        ) -> Result<IngressLoadBalancerStatus, ProviderError> {
            let _flag = DropFlag(self.dropped.clone());
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(IngressLoadBalancerStatus::default())
        }
        async fn update(
            &self,
            _: &MultiClusterIngress,
        ) -> Result<IngressLoadBalancerStatus, ProviderError> {
            panic!("update panics")
        }
        async fn ensure_deleted(&self, _: &MultiClusterIngress) -> Result<(), ProviderError> {
            Ok(())
        }
    }

    fn instance() -> AsyncInstance<Slow> {
        AsyncRuntime::start("slow")
            .unwrap()
            .create(async {
                Ok(Slow {
                    dropped: Arc::default(),
                    runtime_thread: Default::default(),
                })
            })
            .unwrap()
    }

    fn mci() -> MultiClusterIngress {
        let mut mci = MultiClusterIngress::default();
        mci.metadata.name = Some("web".into());
        mci
    }

    #[test]
    fn capabilities_follow_the_async_provider() {
        let instance = instance();
        assert!(Provider::multicluster_ingress(&instance).is_some());
        assert!(Provider::multicluster_service(&instance).is_none());
        let got = MultiClusterIngressLoadBalancer::get(&instance, &mci()).unwrap();
        assert_eq!(got, Some(IngressLoadBalancerStatus::default()));
        assert_eq!(
            instance
                .provider()
                .runtime_thread
                .lock()
                .unwrap()
                .as_deref(),
            Some("slow-provider")
        );
        let err = MultiClusterServiceLoadBalancer::get(&instance, &MultiClusterService::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSupported);
    }

    #[test]
    fn a_call_pending_at_the_call_timeout_is_cancelled() {
        let instance = instance();
        instance.set_call_timeout(Duration::from_millis(50));
        let err = MultiClusterIngressLoadBalancer::ensure(&instance, &mci()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert!(
            err.message()
                .contains("ensure cancelled after the controller's call timeout"),
            "{err}"
        );
        // The future was dropped at its `.await`, not left running.
        assert!(instance.provider().dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panic_in_a_future_reaches_the_caller_thread() {
        // The export layer's catch_unwind sits around the call: the panic must unwind through
        // `block_on` on the calling thread, not vanish on a runtime thread.
        let instance = instance();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = MultiClusterIngressLoadBalancer::update(&instance, &mci());
        }));
        assert!(caught.is_err());
    }

    #[test]
    fn a_failing_factory_shuts_its_runtime_down() {
        let runtime = AsyncRuntime::start("failing").unwrap();
        let handle = runtime.runtime.handle().clone();
        let result = runtime.create::<Slow>(async {
            tokio::spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
            Err(ProviderError::permanent("bad credentials"))
        });
        assert_eq!(result.err().unwrap().message(), "bad credentials");
        // The runtime is gone: its handle can no longer run tasks.
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.block_on(tokio::spawn(async {}))
        }));
        assert!(
            !matches!(spawned, Ok(Ok(()))),
            "the runtime still runs tasks"
        );
    }
}
