//! Kubernetes Events the controllers record on their objects (`Context::events`), written as
//! the Go original's recorders write them: `core/v1` Events whose `source.component` and
//! `reportingComponent` name the controller (`multiclusterservice-controller`, ...), so
//! `kubectl get events` and `kubectl describe` show them as they showed Go's; repeats counted and
//! similar events combined as client-go's correlator does ([`correlator`]).
//!
//! Recording never blocks a reconcile and never fails it: events go to one writer task, which
//! logs what the API server refuses. As client-go's broadcaster, at most 1000 events wait for
//! it; more are dropped rather than held. A burst of drops is logged twice, not once per event:
//! a warning at the first drop, and the count once the writer has caught up.

mod correlator;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::{Client, Resource};
use mcp_loader::CallError;
use serde_json::json;
use tokio::sync::mpsc;

use crate::context::Context;
use crate::controllers::writes::{create_unless_exists, merge_patch};
use crate::error::{Result, is_not_found};
use correlator::{Correlator, Decision, EventKey};

/// Event notes are limited to 1 kB.
const NOTE_MAX_BYTES: usize = 1024;
/// client-go's `maxQueuedEvents`.
const MAX_QUEUED: usize = 1000;

/// Who reports, and the reason its provider failures are reported with.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    /// `source.component`: the Go controller's recorder name.
    pub component: &'static str,
    /// The Warning reason of a failed provider call (Go's `MCSLoadBalance` for MCSs,
    /// Kubernetes' `SyncLoadBalancerFailed` for MCIs).
    pub failure_reason: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An event waiting for the writer, boxed in the queue: a full queue (1000 during a start-up
/// burst) holds pointers and what the events say, the correlator's key is made by the writer.
struct Recorded {
    component: &'static str,
    type_: EventType,
    reason: &'static str,
    message: String,
    involved: ObjectReference,
    at: Instant,
    time: Timestamp,
}

impl Recorded {
    fn key(&self) -> EventKey {
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        let involved = &self.involved;
        EventKey {
            component: self.component,
            object: [
                field(&involved.api_version),
                field(&involved.kind),
                field(&involved.namespace),
                field(&involved.name),
                field(&involved.uid),
            ],
            type_: self.type_.as_str(),
            reason: self.reason.to_owned(),
            message: self.message.clone(),
        }
    }
}

/// Sends events to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Box<Recorded>>,
    /// Events dropped since the writer last caught up.
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn new(client: Client) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_events(client, rx, dropped.clone()));
        Recorder { tx, dropped }
    }

    /// Records an event about `obj`.
    pub fn record<K>(
        &self,
        component: &'static str,
        obj: &K,
        type_: EventType,
        reason: &'static str,
        message: &str,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let recorded = Box::new(Recorded {
            component,
            type_,
            reason,
            message: mcp_loader::truncate(message, NOTE_MAX_BYTES).to_owned(),
            involved: obj.object_ref(&()),
            at: Instant::now(),
            time: Timestamp::now(),
        });
        // Closed only once the writer has stopped (shutdown): nothing left to report to.
        if let Err(mpsc::error::TrySendError::Full(dropped)) = self.tx.try_send(recorded)
            && self.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(
                reason = dropped.reason,
                "{MAX_QUEUED} events are waiting to be written; dropping new ones until the writer catches up"
            );
        }
    }
}

/// The writer: correlates each event, then creates or patches it.
async fn write_events(
    client: Client,
    mut rx: mpsc::Receiver<Box<Recorded>>,
    dropped: Arc<AtomicU64>,
) {
    let mut correlator = Correlator::default();
    while let Some(recorded) = rx.recv().await {
        if rx.is_empty() {
            report_dropped(&dropped);
        }
        let key = recorded.key();
        let Recorded {
            involved, at, time, ..
        } = *recorded;
        // Events of a cluster-scoped object go to `default`, as client-go puts them.
        let namespace = involved
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        let decision = correlator.observe(&key, at, || {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            format!("{}.{nanos:x}", key.object[3])
        });
        let (name, message) = match decision {
            Decision::Skip => {
                tracing::debug!(reason = %key.reason, "event dropped by the spam filter");
                continue;
            }
            Decision::Patch {
                name,
                count,
                message,
            } => {
                let patch = json!({
                    "count": count,
                    "lastTimestamp": Time(time),
                    "message": message,
                });
                match merge_patch(&api, &name, patch).await {
                    Ok(()) => continue,
                    // Deleted meanwhile (events expire): write it anew.
                    Err(e) if is_not_found(&e) => {
                        correlator.forget(&name);
                        (name, message)
                    }
                    Err(e) => {
                        tracing::warn!(reason = %key.reason, "could not record an event: {e}");
                        continue;
                    }
                }
            }
            Decision::Create { name, message } => (name, message),
        };
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: involved,
            reason: Some(key.reason.clone()),
            message: Some(message),
            type_: Some(key.type_.to_owned()),
            count: Some(1),
            first_timestamp: Some(Time(time)),
            last_timestamp: Some(Time(time)),
            source: Some(EventSource {
                component: Some(key.component.to_owned()),
                host: None,
            }),
            reporting_component: Some(key.component.to_owned()),
            reporting_instance: Some(String::new()),
            ..Event::default()
        };
        // One of that name already there is the one this writer wrote.
        if let Err(e) = create_unless_exists(&api, &event).await {
            tracing::warn!(reason = %key.reason, "could not record an event: {e}");
        }
    }
}

/// Says how many events were dropped while the writer was behind, once it has caught up.
fn report_dropped(dropped: &AtomicU64) {
    let count = dropped.swap(0, Ordering::Relaxed);
    if count > 0 {
        tracing::warn!(
            count,
            "the event writer caught up; events dropped while it was behind"
        );
    }
}

/// Records a Normal event about `obj` from `reporter`.
pub fn normal<K>(ctx: &Context, reporter: Reporter, obj: &K, reason: &'static str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    ctx.events
        .record(reporter.component, obj, EventType::Normal, reason, message);
}

/// Records a Warning event about `obj` from `reporter`.
pub fn warn<K>(ctx: &Context, reporter: Reporter, obj: &K, reason: &'static str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    ctx.events
        .record(reporter.component, obj, EventType::Warning, reason, message);
}

/// Awaits one provider call about `obj`; a failure is also reported as a Warning with the
/// reporter's failure reason, naming the call (`action`, e.g. `EnsureLoadBalancer`).
pub async fn provider_call<K, T>(
    ctx: &Context,
    reporter: Reporter,
    obj: &K,
    action: &str,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T>
where
    K: Resource<DynamicType = ()>,
{
    match call.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let note = format!("{action} failed for the load balancer: {error}");
            warn(ctx, reporter, obj, reporter.failure_reason, &note);
            Err(error.into())
        }
    }
}
