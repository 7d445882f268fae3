//! The kube-runtime controller every controller runs on, with what kube-runtime lacks: a
//! per-object backoff on errors (the `--rate-limiter-*` flags), the optional resync, metrics per
//! controller (ours, and controller-runtime's under the Go controller's name, with its workqueue
//! series from [`QueueMetrics`]), and a span with the object's namespace and name.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{BoxFuture, Shared};
use kube::Resource;
use kube::runtime::Controller;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{ObjectRef, Store};
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::cache::Cacheable;
use crate::context::Context;
use crate::controllers::workqueue::QueueMetrics;
use crate::error::Error;
use crate::metrics::ReconcileResult;

/// Resolves once on shutdown; every controller waits on a clone of the same one.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// The backoff key of an object: `namespace/name`.
fn key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    )
}

/// Runs one kube-runtime controller named `name` over `store`, reconciling the objects
/// `triggers` names with `reconcile`, until `shutdown` resolves (then in-flight reconciles
/// finish) or the future is dropped.
pub async fn run_controller<K, R, Fut>(
    name: &'static str,
    ctx: Arc<Context>,
    store: Store<K>,
    triggers: mpsc::UnboundedReceiver<ObjectRef<K>>,
    reconcile: R,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K: Cacheable,
    R: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let backoff = Arc::new(Backoff::new(ctx.settings.backoff));
    let reconcile = Arc::new(reconcile);
    let policy_backoff = backoff.clone();
    let concurrency = ctx.settings.concurrent_reconciles;
    let go_name = super::go_name(name);
    ctx.metrics.controller_started(go_name, concurrency);
    let queue = Arc::new(QueueMetrics::new(go_name, ctx.metrics.clone()));
    let (added, policy_queue, dropped) = (queue.clone(), queue.clone(), queue.clone());
    let triggers = triggers.inspect(move |object| {
        added.added(format!(
            "{}/{}",
            object.namespace.as_deref().unwrap_or(""),
            object.name
        ))
    });
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
                    let action = ctx
                        .metrics
                        .count_and_measure(name, go_name, reconcile(obj, ctx.clone()))
                        .await?;
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
            if let Err(kube::runtime::controller::Error::ObjectNotFound(object)) = &result {
                dropped.dropped(&format!(
                    "{}/{}",
                    object.namespace.as_deref().unwrap_or(""),
                    object.name
                ));
            }
            async move {
                if let Err(e) = result {
                    // Reconciler errors are logged by the error policy; this is kube-runtime's
                    // own (e.g. an object that vanished from the store before its turn).
                    if !matches!(e, kube::runtime::controller::Error::ReconcilerFailed(..)) {
                        tracing::debug!(controller = name, "controller: {e}");
                    }
                }
            }
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}
