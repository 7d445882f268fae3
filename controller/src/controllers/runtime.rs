//! The kube-runtime controller every controller runs on, with what kube-runtime lacks: a
//! per-object backoff on errors (the `--rate-limiter-*` flags), the optional resync, metrics per
//! controller (ours, and controller-runtime's under the Go controller's name, with its workqueue
//! series from [`QueueMetrics`]), a span with the object's namespace and name, and a [`Gate`]
//! that hands requests to kube-runtime's scheduler a few at a time (its tables never shrink).
//!
//! The backoff forgets an object once it is reconciled, and also once it is deleted (seen in the
//! primary cache, or when a retry finds it gone), so `pending_objects` counts only objects that
//! still exist and memory does not grow with churn.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{BoxFuture, Shared};
use kube::runtime::Controller;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::cache::{Cacheable, Change, SharedCache};
use crate::context::Context;
use crate::controllers::gate::Gate;
use crate::controllers::workqueue::QueueMetrics;
use crate::error::Error;
use crate::metrics::ReconcileResult;

/// Resolves once on shutdown; every controller waits on a clone of the same one.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// The backoff key of an object: `namespace/name`.
fn key<K: Resource>(obj: &K) -> String {
    key_of(obj.meta().namespace.as_deref(), obj.meta().name.as_deref())
}

fn key_of(namespace: Option<&str>, name: Option<&str>) -> String {
    format!("{}/{}", namespace.unwrap_or(""), name.unwrap_or(""))
}

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

/// Runs one kube-runtime controller named `name` over `primary`, reconciling the objects
/// `triggers` names with `reconcile`, until `shutdown` resolves (then in-flight reconciles
/// finish) or the future is dropped.
pub async fn run_controller<K, R, Fut>(
    name: &'static str,
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
    let Primary { store, cache } = primary.into();
    let backoff = Arc::new(Backoff::new(ctx.settings.backoff));
    let reconcile = Arc::new(reconcile);
    let policy_backoff = backoff.clone();
    let gone_backoff = backoff.clone();
    let concurrency = ctx.settings.concurrent_reconciles;
    let _forget_deleted = cache.map(|cache| {
        let (backoff, metrics) = (backoff.clone(), ctx.metrics.clone());
        cache.subscribe(move |change| {
            if let Change::Deleted(obj) = change
                && backoff.forget(&key(*obj))
            {
                metrics.set_pending(name, backoff.failing());
            }
        })
    });
    let go_name = super::go_name(name);
    ctx.metrics.controller_started(go_name, concurrency);
    let queue = Arc::new(QueueMetrics::new(go_name, ctx.metrics.clone()));
    let (added, policy_queue, dropped) = (queue.clone(), queue.clone(), queue.clone());
    let queued = ctx.metrics.clone();
    let triggers = triggers.inspect(move |object| {
        queued.queued(name);
        added.added(key_of(object.namespace.as_deref(), Some(&object.name)))
    });
    let (gate, triggers) = Gate::new(triggers, 2 * usize::from(concurrency));
    let gone_gate = gate.clone();
    let metrics = ctx.metrics.clone();
    tracing::info!(controller = name, "controller started");
    Controller::for_shared_stream(futures::stream::pending(), store)
        .reconcile_on(triggers)
        .with_config(Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown)
        .run(
            move |obj: Arc<K>, ctx: Arc<Context>| {
                let reconcile = reconcile.clone();
                let backoff = backoff.clone();
                let queue = queue.clone();
                let gate = gate.clone();
                let span = tracing::info_span!(
                    "reconcile",
                    controller = name,
                    namespace = obj.meta().namespace.as_deref().unwrap_or(""),
                    name = obj.meta().name.as_deref().unwrap_or("")
                );
                async move {
                    let started = Instant::now();
                    let key = key(obj.as_ref());
                    queue.started(&key);
                    let (namespace, object) = (obj.meta().namespace.clone(), obj.name_any());
                    let result = ctx
                        .metrics
                        .count_and_measure(name, go_name, reconcile(obj, ctx.clone()))
                        .await;
                    gate.ended(namespace.as_deref(), &object);
                    let action = result?;
                    backoff.forget(&key);
                    tracing::debug!(elapsed = ?started.elapsed(), "reconciled");
                    ctx.metrics.set_pending(name, backoff.failing());
                    let waits = action == Action::await_change();
                    ctx.metrics.reconcile_ended(
                        go_name,
                        if waits {
                            ReconcileResult::Success
                        } else {
                            ReconcileResult::RequeueAfter
                        },
                    );
                    Ok(match ctx.settings.resync_period {
                        Some(resync) if waits => {
                            queue.requeued(key, resync, false);
                            Action::requeue(resync)
                        }
                        _ => action,
                    })
                }
                .instrument(span)
            },
            move |obj: Arc<K>, error: &Error, ctx: Arc<Context>| {
                let delay = policy_backoff.next_delay(&key(obj.as_ref()));
                ctx.metrics.reconcile_failed(name, error.metric_label());
                ctx.metrics.reconcile_ended(go_name, ReconcileResult::Error);
                policy_queue.requeued(key(obj.as_ref()), delay, true);
                ctx.metrics.set_pending(name, policy_backoff.failing());
                let (namespace, object) = (
                    obj.meta().namespace.as_deref().unwrap_or(""),
                    obj.meta().name.as_deref().unwrap_or(""),
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
                Ok(_) | Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {}
                // A retry of an object deleted meanwhile: nothing is pending for it any more.
                Err(kube::runtime::controller::Error::ObjectNotFound(gone)) => {
                    gone_gate.ended(gone.namespace.as_deref(), &gone.name);
                    let gone = key_of(gone.namespace.as_deref(), Some(&gone.name));
                    dropped.dropped(&gone);
                    if gone_backoff.forget(&gone) {
                        metrics.set_pending(name, gone_backoff.failing());
                    }
                }
                Err(e) => tracing::debug!(controller = name, "controller: {e}"),
            }
            futures::future::ready(())
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}
