//! One reconcile request's life, followed in one place ([`Tracker`]): queued by a trigger,
//! admitted to kube-runtime's scheduler ([`Admission`]), started, ended (success) or failed (a
//! retry after the object's [`Backoff`]), or gone (the object left the store, or was deleted).
//! Each step updates the admission, the backoff and the metrics (ours and controller-runtime's,
//! with the workqueue series from [`QueueMetrics`]) together, so `run_controller` makes one call
//! per step.
//!
//! The backoff forgets an object once it is reconciled, and also once it is deleted (seen in the
//! primary cache, or when a retry finds it gone), so `pending_objects` counts only objects that
//! still exist and memory does not grow with churn.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::Controller;
use super::admission::Admission;
use super::workqueue::QueueMetrics;
use crate::backoff::Backoff;
use crate::context::Context;
use crate::error::Error;
use crate::key::ObjectKey;
use crate::metrics::{Metrics, ReconcileResult};

/// The delay before retrying a failed object: the provider's retry hint when it gave one (at
/// most `max`), else the backoff's.
fn retry_delay(backoff: Duration, hint: Option<Duration>, max: Duration) -> Duration {
    hint.map_or(backoff, |hint| hint.min(max))
}

/// Follows every request of one controller (see the module doc).
pub struct Tracker<K: Resource<DynamicType = ()>> {
    controller: &'static Controller,
    metrics: Arc<Metrics>,
    backoff: Backoff,
    queue: Arc<QueueMetrics>,
    admission: Admission<K>,
    resync: Option<Duration>,
    /// `--rate-limiter-max-delay`: the longest a provider's retry hint is followed.
    max_delay: Duration,
}

impl<K: Resource<DynamicType = ()> + 'static> Tracker<K> {
    /// The tracker of `controller`, and the requests to give kube-runtime instead of
    /// `triggers`: each counted as queued, then admitted a few at a time (twice the
    /// controller's concurrency).
    pub fn new(
        controller: &'static Controller,
        ctx: &Context,
        triggers: impl Stream<Item = ObjectRef<K>> + Send + Unpin + 'static,
    ) -> (Arc<Self>, impl Stream<Item = ObjectRef<K>> + Send + 'static) {
        let concurrency = ctx.settings.concurrent_reconciles;
        let metrics = ctx.metrics.clone();
        metrics.controller_started(controller.go_name, concurrency);
        let queue = Arc::new(QueueMetrics::new(controller.go_name, metrics.clone()));
        let (queued, added) = (metrics.clone(), queue.clone());
        let triggers = triggers.inspect(move |object| {
            queued.queued(controller.name);
            added.added(ObjectKey::from(object));
        });
        let (admission, admitted) = Admission::new(triggers, 2 * usize::from(concurrency));
        let tracker = Tracker {
            controller,
            metrics,
            backoff: Backoff::new(ctx.settings.backoff),
            queue,
            admission,
            resync: ctx.settings.resync_period,
            max_delay: ctx.settings.backoff.max_delay,
        };
        (Arc::new(tracker), admitted)
    }

    fn set_pending(&self) {
        self.metrics
            .set_pending(self.controller.name, self.backoff.failing());
    }

    /// Runs `reconcile` of `object`, measured and counted. On success the object's failures are
    /// forgotten, and with `--resync-period` a request that waits for a change is scheduled
    /// again after it. A failure goes on to [`Tracker::failed`] (kube-runtime's error policy).
    pub async fn reconcile(
        &self,
        object: &K,
        reconcile: impl Future<Output = Result<Action, Error>>,
    ) -> Result<Action, Error> {
        let key = ObjectKey::of(object);
        self.queue.started(&key);
        let (name, go_name) = (self.controller.name, self.controller.go_name);
        let result = self
            .metrics
            .count_and_measure(name, go_name, reconcile)
            .await;
        self.admission.ended(&key);
        let action = result?;
        self.backoff.forget(&key);
        self.set_pending();
        let waits = action == Action::await_change();
        let result = if waits {
            ReconcileResult::Success
        } else {
            ReconcileResult::RequeueAfter
        };
        self.metrics.reconcile_ended(go_name, result);
        Ok(match self.resync {
            Some(resync) if waits => {
                self.queue.requeued(key, resync, false);
                Action::requeue(resync)
            }
            _ => action,
        })
    }

    /// `object`'s reconcile failed with `error`: counted, and retried after the returned delay:
    /// the backoff's, or the provider's retry hint (bounded by `--rate-limiter-max-delay`).
    pub fn failed(&self, object: &K, error: &Error) -> Duration {
        let key = ObjectKey::of(object);
        let delay = retry_delay(
            self.backoff.next_delay(&key),
            error.retry_after(),
            self.max_delay,
        );
        self.metrics
            .reconcile_failed(self.controller.name, error.metric_label());
        self.metrics
            .reconcile_ended(self.controller.go_name, ReconcileResult::Error);
        self.queue.requeued(key, delay, true);
        self.set_pending();
        delay
    }

    /// A request that will not run: its object left the store before its turn.
    pub fn gone(&self, key: &ObjectKey) {
        self.admission.ended(key);
        self.queue.dropped(key);
        self.deleted(key);
    }

    /// The object was deleted: nothing is pending for it any more.
    pub fn deleted(&self, key: &ObjectKey) {
        if self.backoff.forget(key) {
            self.set_pending();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_retry_hint_replaces_the_backoff_up_to_the_max_delay() {
        let (backoff, max) = (Duration::from_millis(5), Duration::from_secs(60));
        assert_eq!(retry_delay(backoff, None, max), backoff);
        let hint = Duration::from_secs(30);
        assert_eq!(retry_delay(backoff, Some(hint), max), hint);
        let long = Duration::from_secs(3600);
        assert_eq!(retry_delay(backoff, Some(long), max), max);
    }
}
