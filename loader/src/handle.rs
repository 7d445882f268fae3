//! The safe, async handle to one provider instance.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use abi_stable::std_types::{ROption, RResult, RSlice};
use mcp_interface::ProviderError;
use mcp_interface::abi::{Capabilities, GetResult, InstanceId};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::error::{CallError, LoadError};
use crate::kind::{Method, ObjectKind, Operation};
use crate::library::{Library, LibraryInfo};
use crate::object_lock::{ObjectLock, ObjectLocks};
use crate::payload::{Encoded, Payload};
use crate::pool::CallThreads;
pub use crate::reply::Applied;
use crate::reply::{Entry, Reply};
use crate::status::ValidStatus;

/// How many calls may be in flight at once per provider. A call that hangs past its timeout
/// keeps its blocking thread (a thread cannot be cancelled) and its slot until it returns, so
/// this also bounds how many threads a hanging provider can hold.
pub const MAX_IN_FLIGHT: usize = 64;

/// The outcome of one call, as reported to a [`CallObserver`].
#[derive(Debug, Clone, Copy)]
pub enum CallOutcome {
    Ok,
    /// Failed; the label is [`CallError::label`].
    Err(&'static str),
}

/// Receives every call's method, duration and outcome (the controller records metrics with it).
pub type CallObserver = Arc<dyn Fn(Method, Duration, CallOutcome) + Send + Sync>;

struct Inner {
    library: Library,
    instance: InstanceId,
    capabilities: Capabilities,
    timeout: Duration,
    in_flight: Arc<Semaphore>,
    objects: Arc<ObjectLocks>,
    threads: Arc<CallThreads>,
    observer: Option<CallObserver>,
    /// Set once no call may reach the provider any more ([`Provider::fence`]).
    fence: Arc<AtomicBool>,
    /// Calls that passed the fence and have not returned from the provider.
    inside: Arc<AtomicUsize>,
}

/// A provider instance. Clone it freely: clones share the instance.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name())
            .field("instance", &self.inner.instance)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

/// The factory lives here, not in `library.rs`, so the library does not import its handle.
impl Library {
    /// Runs the provider's factory with the `--cloud-config` contents.
    pub fn create(&self, cloud_config: Option<&[u8]>) -> Result<Provider, LoadError> {
        let config = match cloud_config {
            Some(bytes) => ROption::RSome(RSlice::from_slice(bytes)),
            None => ROption::RNone,
        };
        match (self.module().create())(config) {
            RResult::ROk(instance) => {
                let capabilities: Capabilities = (self.module().capabilities())(instance);
                Ok(Provider::new(*self, instance, capabilities))
            }
            RResult::RErr(e) => Err(LoadError::Factory {
                name: self.info().name.clone(),
                error: ProviderError::from_ffi(e),
            }),
        }
    }
}

impl Provider {
    pub(crate) fn new(library: Library, instance: InstanceId, capabilities: Capabilities) -> Self {
        let provider = Provider {
            inner: Arc::new(Inner {
                library,
                instance,
                capabilities,
                timeout: crate::DEFAULT_CALL_TIMEOUT,
                in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
                objects: Arc::default(),
                threads: Arc::default(),
                observer: None,
                fence: Arc::default(),
                inside: Arc::default(),
            }),
        };
        provider.tell_call_timeout();
        provider
    }

    /// Tells the instance the call timeout, so it can stop work nobody waits for (the async SDK
    /// cancels the call's future). Libraries built before interface 1.1 lack the method.
    fn tell_call_timeout(&self) {
        if let Some(set_call_timeout) = self.inner.library.module().set_call_timeout() {
            let ms = u64::try_from(self.inner.timeout.as_millis()).unwrap_or(u64::MAX);
            set_call_timeout(self.inner.instance, ms);
        }
    }

    fn rebuild(&self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            library: self.inner.library,
            instance: self.inner.instance,
            capabilities: self.inner.capabilities,
            timeout: self.inner.timeout,
            in_flight: self.inner.in_flight.clone(),
            objects: self.inner.objects.clone(),
            threads: self.inner.threads.clone(),
            observer: self.inner.observer.clone(),
            fence: self.inner.fence.clone(),
            inside: self.inner.inside.clone(),
        };
        f(&mut inner);
        Provider {
            inner: Arc::new(inner),
        }
    }

    /// The same instance with another per-call timeout. The instance is told (it is shared by
    /// every handle: the last timeout set is the one it enforces on itself).
    pub fn with_call_timeout(&self, timeout: Duration) -> Self {
        let provider = self.rebuild(|i| i.timeout = timeout);
        provider.tell_call_timeout();
        provider
    }

    /// The same instance, reporting every call to `observer`.
    pub fn with_observer(&self, observer: CallObserver) -> Self {
        self.rebuild(|i| i.observer = Some(observer))
    }

    pub fn name(&self) -> &'static str {
        &self.inner.library.info().name
    }

    pub fn info(&self) -> &'static LibraryInfo {
        self.inner.library.info()
    }

    /// From now on no call of this instance (any handle) reaches the provider: calls not yet
    /// handed to it fail with [`CallError::Fenced`]. For a replica that lost its leadership or
    /// is shutting down: another replica may act on the same balancers. Calls already inside
    /// the provider run on ([`Provider::calls_in_provider`], [`Provider::drained`]).
    pub fn fence(&self) {
        self.inner.fence.store(true, Ordering::SeqCst);
    }

    fn fenced(&self) -> bool {
        self.inner.fence.load(Ordering::SeqCst)
    }

    /// How many calls are inside the provider: handed to it and not returned, those that
    /// outlived their timeout included (their caller stopped waiting; the provider did not).
    pub fn calls_in_provider(&self) -> usize {
        self.inner.inside.load(Ordering::SeqCst)
    }

    /// Resolves once no call is inside the provider. Calls that start meanwhile wait until it
    /// has resolved (fence first, so that none starts at all).
    pub async fn drained(&self) {
        // Every permit is free exactly when no call holds one; the semaphore is never closed.
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        let _all = self.inner.in_flight.acquire_many(all).await;
    }

    /// Whether the provider offers load balancers for objects of kind `K` (the instance says
    /// so and the library has all four methods, or interface 1.2's `call`).
    pub fn supports<K: ObjectKind>(&self) -> bool {
        let module = self.inner.library.module();
        self.inner.capabilities.has(K::CAPABILITY)
            && (module.call().is_some() || K::entries(module).iter().all(Option::is_some))
    }

    /// Whether the provider wants the backend view with every call (interface 1.2): then pass
    /// objects as [`Encoded::with_backends`]; other providers are sent the object alone.
    pub fn wants_backends(&self) -> bool {
        self.inner.capabilities.has(Capabilities::BACKENDS)
            && self.inner.library.module().call().is_some()
    }

    pub fn supports_multicluster_ingress(&self) -> bool {
        self.supports::<MultiClusterIngress>()
    }

    pub fn supports_multicluster_service(&self) -> bool {
        self.supports::<MultiClusterService>()
    }

    /// Calls `method` with `object`, on a blocking thread, bounded by the call timeout, once no
    /// earlier call about the same object is still running in the provider. Waiting for such a
    /// call is bounded by the call timeout too ([`CallError::Busy`]): a caller never waits
    /// without end for a provider that hangs. `check` validates the result before the call is
    /// reported to the observer, so a refused result counts as the failed call it is.
    async fn call<K: ObjectKind, O: DeserializeOwned>(
        &self,
        operation: Operation,
        object: Encoded<K>,
        check: fn(&O) -> Result<(), String>,
    ) -> Result<Reply<O>, CallError> {
        let method = operation.method::<K>();
        let timeout = self.inner.timeout;
        if self.fenced() {
            return Err(CallError::Fenced {
                provider: self.name().to_owned(),
                method,
            });
        }
        let lock = tokio::time::timeout(timeout, self.inner.objects.lock(object.key(), method));
        // The latency observed is the provider's: it starts once the object's turn has come.
        let (started, result) = match lock.await {
            Ok(lock) => {
                let started = Instant::now();
                let result = self
                    .call_inner(operation, object, lock)
                    .await
                    .and_then(|reply| {
                        check(&reply.result).map_err(|detail| CallError::InvalidResponse {
                            provider: self.name().to_owned(),
                            method,
                            detail,
                        })?;
                        Ok(reply)
                    });
                (started, result)
            }
            Err(_elapsed) => (
                Instant::now(),
                Err(CallError::Busy {
                    provider: self.name().to_owned(),
                    method,
                    timeout,
                }),
            ),
        };
        if let Some(observer) = &self.inner.observer {
            let outcome = match &result {
                Ok(_) => CallOutcome::Ok,
                Err(e) => CallOutcome::Err(e.label()),
            };
            observer(method, started.elapsed(), outcome);
        }
        result
    }

    async fn call_inner<K: ObjectKind, O: DeserializeOwned>(
        &self,
        operation: Operation,
        object: Encoded<K>,
        lock: ObjectLock,
    ) -> Result<Reply<O>, CallError> {
        let method = operation.method::<K>();
        let provider = || self.name().to_owned();
        let module = self.inner.library.module();
        let entry = match module.call() {
            Some(call) => Entry::Call(call, K::CALL_KIND, operation.code()),
            None => match operation.entry::<K>(module) {
                Some(raw) => Entry::Method(raw),
                None => {
                    return Err(CallError::NotSupported {
                        provider: provider(),
                        method,
                    });
                }
            },
        };
        if !self.inner.capabilities.has(K::CAPABILITY) {
            return Err(CallError::NotSupported {
                provider: provider(),
                method,
            });
        }
        let encoded = object
            .json()
            .and_then(|_| object.backends_json().transpose().map(|_| ()));
        if let Err(detail) = encoded {
            return Err(CallError::Encode {
                provider: provider(),
                method,
                detail: detail.to_owned(),
            });
        }
        let timeout = self.inner.timeout;
        let instance = self.inner.instance;
        let span = tracing::Span::current();
        let fence = self.inner.fence.clone();
        let inside = self.inner.inside.clone();
        let outcome = tokio::time::timeout(timeout, async {
            // Closed never happens: the semaphore lives as long as the handle.
            let permit = self.inner.in_flight.clone().acquire_owned().await.ok();
            let (reply, result) = tokio::sync::oneshot::channel();
            let job: Box<dyn FnOnce() + Send> = Box::new(move || {
                // Looked at last, on the call's thread: a call queued before the fence and
                // run after it does not reach the provider either.
                let output = (!fence.load(Ordering::SeqCst)).then(|| {
                    inside.fetch_add(1, Ordering::SeqCst);
                    let output = span.in_scope(|| entry.run(instance, &object));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    output
                });
                // Released when the provider returns, not when the caller stops waiting, and
                // before the reply, so the caller's next call about the object finds it free.
                drop((lock, permit, object));
                // The caller may have stopped waiting (timeout).
                let _ = reply.send(output);
            });
            let handoff = self.inner.threads.run(job)?;
            // The job always sends before it is dropped, unless the thread died with it.
            crate::pool::reply(result, handoff)
                .await
                .ok_or_else(|| std::io::Error::other("the call's thread ended without a reply"))
        })
        .await;
        let output = match outcome {
            Err(_elapsed) => {
                return Err(CallError::Timeout {
                    provider: provider(),
                    method,
                    timeout,
                });
            }
            Ok(Err(e)) => {
                return Err(CallError::Provider {
                    provider: provider(),
                    method,
                    error: ProviderError::retryable(format!("the call could not be made: {e}")),
                });
            }
            Ok(Ok(None)) => {
                return Err(CallError::Fenced {
                    provider: provider(),
                    method,
                });
            }
            Ok(Ok(Some(output))) => output,
        };
        output.decode(self.name(), method)
    }

    async fn call_status<K: ObjectKind, O: DeserializeOwned + ValidStatus>(
        &self,
        operation: Operation,
        object: Encoded<K>,
    ) -> Result<Reply<O>, CallError> {
        self.call(operation, object, O::validate).await
    }

    /// The balancer's status, or `None` when it does not exist.
    pub async fn get<K: ObjectKind>(
        &self,
        object: &impl Payload<K>,
    ) -> Result<Option<K::Status>, CallError> {
        let reply: Reply<GetResult<K::Status>> =
            self.call_status(Operation::Get, object.encoded()).await?;
        let r = reply.result;
        Ok(r.exists.then(|| r.status.unwrap_or_default()))
    }

    /// Creates the balancer (or finds it made) and returns its status, and whether it is still
    /// being provisioned.
    pub async fn ensure<K: ObjectKind>(
        &self,
        object: &impl Payload<K>,
    ) -> Result<Applied<K::Status>, CallError> {
        let reply = self
            .call_status(Operation::Ensure, object.encoded())
            .await?;
        Ok(Applied::from(reply))
    }

    /// Brings the existing balancer in line with the object and returns its status, and
    /// whether it is still being provisioned.
    pub async fn update<K: ObjectKind>(
        &self,
        object: &impl Payload<K>,
    ) -> Result<Applied<K::Status>, CallError> {
        let reply = self
            .call_status(Operation::Update, object.encoded())
            .await?;
        Ok(Applied::from(reply))
    }

    /// Deletes the balancer, if there is one.
    pub async fn ensure_deleted<K: ObjectKind>(
        &self,
        object: &impl Payload<K>,
    ) -> Result<(), CallError> {
        let _: Reply<serde_json::Value> = self
            .call(Operation::EnsureDeleted, object.encoded(), |_| Ok(()))
            .await?;
        Ok(())
    }
}
