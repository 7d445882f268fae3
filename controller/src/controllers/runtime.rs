//! The kube-runtime controller every controller runs on, with what kube-runtime lacks: a
//! per-object backoff on errors (the `--rate-limiter-*` flags), the optional resync, metrics per
//! controller (ours, and controller-runtime's under the Go controller's name, with its workqueue
//! series), a span with the object's namespace and name, and the admission of requests to
//! kube-runtime's scheduler a few at a time (its tables never shrink). A request's life is
//! followed by the controller's [`Tracker`]: one call per step.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{BoxFuture, Shared};
use kube::runtime::Controller as Runtime;
use kube::runtime::controller::{Action, Config, Error as RuntimeError};
use kube::runtime::reflector::{ObjectRef, Store};
use tracing::Instrument;

use super::Controller;
use super::tracker::Tracker;
use crate::cache::{Cacheable, Change, SharedCache};
use crate::context::Context;
use crate::error::Error;
use crate::key::ObjectKey;

/// Resolves once on shutdown; every controller waits on a clone of the same one.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// The objects a controller reconciles: a store, and the shared cache behind it when there is
/// one (its deletions make the backoff forget the object at once).
pub struct Primary<K: Cacheable> {
    store: Store<K>,
    cache: Option<SharedCache<K>>,
}

impl<K: Cacheable> From<Store<K>> for Primary<K> {
    /// A store of the controller's own: its objects are forgotten when a retry finds them gone.
    fn from(store: Store<K>) -> Self {
        Primary { store, cache: None }
    }
}

impl<K: Cacheable> From<&SharedCache<K>> for Primary<K> {
    fn from(cache: &SharedCache<K>) -> Self {
        Primary {
            store: cache.store().clone(),
            cache: Some(cache.clone()),
        }
    }
}

/// Runs `controller` (its row of `CONTROLLERS`: names for logs and metrics) on kube-runtime over
/// `primary`, reconciling the objects `triggers` names with `reconcile`, until `shutdown`
/// resolves (then in-flight reconciles finish) or the future is dropped.
pub async fn run_controller<K, R, Fut>(
    controller: &'static Controller,
    ctx: Arc<Context>,
    primary: impl Into<Primary<K>>,
    triggers: mpsc::UnboundedReceiver<ObjectRef<K>>,
    reconcile: R,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K: Cacheable,
    R: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let name = controller.name;
    let Primary { store, cache } = primary.into();
    let (tracker, requests) = Tracker::new(controller, &ctx, triggers);
    let reconcile = Arc::new(reconcile);
    let (policy, gone) = (tracker.clone(), tracker.clone());
    let _forget_deleted = cache.map(|cache| {
        let tracker = tracker.clone();
        cache.subscribe(move |change| {
            if let Change::Deleted(obj) = change {
                tracker.deleted(&ObjectKey::of(*obj));
            }
        })
    });
    tracing::info!(controller = name, "controller started");
    Runtime::for_shared_stream(futures::stream::pending(), store)
        .reconcile_on(requests)
        .with_config(Config::default().concurrency(ctx.settings.concurrent_reconciles))
        .graceful_shutdown_on(shutdown)
        .run(
            move |obj: Arc<K>, ctx: Arc<Context>| {
                let (reconcile, tracker) = (reconcile.clone(), tracker.clone());
                let meta = obj.meta();
                let span = tracing::info_span!(
                    "reconcile",
                    controller = name,
                    namespace = meta.namespace.as_deref().unwrap_or(""),
                    name = meta.name.as_deref().unwrap_or("")
                );
                async move {
                    let (started, object) = (Instant::now(), obj.clone());
                    let action = tracker.reconcile(&object, reconcile(obj, ctx)).await?;
                    // Here, not in the tracker: `--vmodule=runtime=4` shows each reconcile.
                    tracing::debug!(elapsed = ?started.elapsed(), "reconciled");
                    Ok(action)
                }
                .instrument(span)
            },
            move |obj: Arc<K>, error: &Error, _ctx: Arc<Context>| {
                let delay = policy.failed(&obj, error);
                let meta = obj.meta();
                let (namespace, object) = (
                    meta.namespace.as_deref().unwrap_or(""),
                    meta.name.as_deref().unwrap_or(""),
                );
                if error.is_conflict() {
                    tracing::debug!(controller = name, namespace, name = object, retry_in = ?delay, "conflict; retrying: {error}");
                } else {
                    tracing::warn!(controller = name, namespace, name = object, retry_in = ?delay, "reconcile failed: {error}");
                }
                Action::requeue(delay)
            },
            ctx,
        )
        .for_each(|result| {
            match result {
                // Reconciler errors are logged by the error policy.
                Ok(_) | Err(RuntimeError::ReconcilerFailed(..)) => {}
                // A retry of an object deleted meanwhile: nothing is pending for it any more.
                Err(RuntimeError::ObjectNotFound(object)) => gone.gone(&ObjectKey::from(&*object)),
                Err(e) => tracing::debug!(controller = name, "controller: {e}"),
            }
            futures::future::ready(())
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}
