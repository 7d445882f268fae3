//! Tests of the async SDK: capabilities, cancellation at the call timeout, panics, failing factories.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::ErrorKind;
use crate::sdk::{MultiClusterIngressLoadBalancer, MultiClusterServiceLoadBalancer, Provider};
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
