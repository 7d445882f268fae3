//! Kubernetes Events the controllers record on their objects (`Context::events`), written as
//! the Go original's recorders write them: `core/v1` Events whose `source.component` and
//! `reportingComponent` name the controller (`multiclusterservice-controller`, ...), so
//! `kubectl get events` and `kubectl describe` show them as they showed Go's; repeats counted and
//! similar events combined as client-go's correlator does ([`correlator`]).
//!
//! Recording never blocks a reconcile and never fails it: events go to one writer task
//! ([`writer`]), which retries what may pass and logs what the API server refuses. As
//! client-go's broadcaster, at most 1000 events wait for it; more are dropped rather than held.
//! A burst of drops is logged twice, not once per event: a warning at the first drop, and the
//! count once the writer has caught up.

mod correlator;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::{Client, Resource};
use tokio::sync::mpsc;

use correlator::EventKey;
use writer::{RetryPolicy, write_events};

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
        tokio::spawn(write_events(
            client,
            rx,
            dropped.clone(),
            RetryPolicy::CLIENT_GO,
        ));
        Recorder { tx, dropped }
    }

    /// Records a Normal event about `obj` from `reporter`.
    pub fn normal<K>(&self, reporter: Reporter, obj: &K, reason: &'static str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.record(reporter.component, obj, EventType::Normal, reason, message);
    }

    /// Records a Warning event about `obj` from `reporter`.
    pub fn warn<K>(&self, reporter: Reporter, obj: &K, reason: &'static str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.record(reporter.component, obj, EventType::Warning, reason, message);
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
            message: message[..message.floor_char_boundary(NOTE_MAX_BYTES)].to_owned(),
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

/// The events a [`Recorder::capturing`] recorder was given, in order, as the reconcile tests
/// read them: type, reason and message. Nothing is written anywhere.
#[cfg(test)]
pub struct Captured(mpsc::Receiver<Box<Recorded>>);

#[cfg(test)]
impl Recorder {
    /// A recorder without a writer task: [`Captured`] holds what is recorded.
    pub fn capturing() -> (Recorder, Captured) {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        (Recorder { tx, dropped }, Captured(rx))
    }
}

#[cfg(test)]
impl Captured {
    /// The events recorded since the last call: `(type, reason, message)`.
    pub fn take(&mut self) -> Vec<(EventType, &'static str, String)> {
        std::iter::from_fn(|| self.0.try_recv().ok())
            .map(|e| (e.type_, e.reason, e.message))
            .collect()
    }
}
