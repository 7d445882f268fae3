//! The single writer task: correlates each recorded event, then creates or patches its Event,
//! retrying a write that failed for a reason that may pass, as client-go's `recordToSink` (up to
//! 12 tries, 10 s apart, the first wait randomized so that replicas do not retry in step).
//!
//! Unlike client-go, whose recorder goroutine sleeps between tries, a write waiting for its
//! retry does not hold back the events after it: it waits in a queue of at most 1000 writes
//! that the task serves alongside its channel. A retry sends the same write again; it is never
//! correlated twice, and a newer write of the same Event replaces it. Unlike client-go's
//! recorder too, 5xx, 429, 408 and 409 `Conflict` answers are retried here (see
//! [`is_transient`](crate::error::is_transient)): client-go's REST client retries 5xx and 429
//! answers that carry a `Retry-After` itself, kube-client does not. Other 4xx answers are not
//! retried, as client-go does not retry the API server's refusals.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::Api;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::correlator::{Correlator, Decision};
use super::{MAX_QUEUED, Recorded};
use crate::error::{Result, is_not_found};
use crate::writes::{create_unless_exists, merge_patch};

/// How often, and how far apart, a failed write is tried.
#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    /// Tries in all, the first included (client-go's `maxTriesPerEvent`).
    pub tries: u32,
    /// The wait between two tries; the first one is a random part of it.
    pub interval: Duration,
}

impl RetryPolicy {
    pub const CLIENT_GO: RetryPolicy = RetryPolicy {
        tries: 12,
        interval: Duration::from_secs(10),
    };

    fn delay_after(self, tries: u32) -> Duration {
        if tries > 1 {
            return self.interval;
        }
        // A random fraction in [0, 1): RandomState is seeded afresh for each value.
        let random = RandomState::new().hash_one(tries) >> 11;
        self.interval.mul_f64(random as f64 / (1u64 << 53) as f64)
    }
}

/// A write ready to send, the same on every try.
struct Write {
    /// The Event as it is created: name, count, first and last timestamps, message.
    event: Event,
    /// A repeat: patch `count`, `lastTimestamp` and `message` of the existing Event (created
    /// anew, count and all, if it is gone).
    update: bool,
    /// Tries that failed so far.
    failed: u32,
}

impl Write {
    fn name(&self) -> &str {
        self.event.metadata.name.as_deref().unwrap_or_default()
    }

    fn reason(&self) -> &str {
        self.event.reason.as_deref().unwrap_or_default()
    }
}

/// The writer: until the channel closes and the last retry is done.
pub(super) async fn write_events(
    client: Client,
    mut rx: mpsc::Receiver<Box<Recorded>>,
    dropped: Arc<AtomicU64>,
    policy: RetryPolicy,
) {
    let mut correlator = Correlator::default();
    let mut retries = Retries::default();
    let mut open = true;
    while open || !retries.is_empty() {
        let write = tokio::select! {
            recorded = rx.recv(), if open => {
                let Some(recorded) = recorded else {
                    open = false;
                    continue;
                };
                if rx.is_empty() {
                    report_dropped(&dropped);
                }
                let Some(write) = prepare(&mut correlator, *recorded) else {
                    continue;
                };
                // This write says all the pending one of the same Event said, and more.
                retries.remove(write.name());
                write
            }
            write = retries.next_due(), if !retries.is_empty() => write,
        };
        attempt(&client, write, &mut retries, policy).await;
    }
}

/// What the correlator makes of `recorded`: a write, or nothing (the spam filter).
fn prepare(correlator: &mut Correlator, recorded: Recorded) -> Option<Write> {
    let key = recorded.key();
    let Recorded {
        involved, at, time, ..
    } = recorded;
    let decision = correlator.observe(&key, at, time, || {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{}.{nanos:x}", key.object[3])
    });
    let (name, message, count, first, update) = match decision {
        Decision::Skip => {
            tracing::debug!(reason = %key.reason, "event dropped by the spam filter");
            return None;
        }
        Decision::Create { name, message } => (name, message, 1, time, false),
        Decision::Patch {
            name,
            count,
            message,
            first,
        } => (name, message, count, first, true),
    };
    // Events of a cluster-scoped object go to `default`, as client-go puts them.
    let namespace = involved
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let event = Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        involved_object: involved,
        reason: Some(key.reason),
        message: Some(message),
        type_: Some(key.type_.to_owned()),
        count: Some(i32::try_from(count).unwrap_or(i32::MAX)),
        first_timestamp: Some(Time(first)),
        last_timestamp: Some(Time(time)),
        source: Some(EventSource {
            component: Some(key.component.to_owned()),
            host: None,
        }),
        reporting_component: Some(key.component.to_owned()),
        reporting_instance: Some(String::new()),
        ..Event::default()
    };
    Some(Write {
        event,
        update,
        failed: 0,
    })
}

/// Sends `write` once; on a failure that may pass, queues its next try.
async fn attempt(client: &Client, mut write: Write, retries: &mut Retries, policy: RetryPolicy) {
    let Err(e) = send(client, &write).await else {
        return;
    };
    if e.is_namespace_terminating() {
        let reason = write.reason();
        tracing::debug!(
            reason,
            "event not recorded, its namespace is being deleted: {e}"
        );
    } else if !e.is_transient() {
        let reason = write.reason();
        tracing::warn!(reason, "could not record an event (not retried): {e}");
    } else if write.failed + 1 >= policy.tries {
        let (reason, tries) = (write.reason(), policy.tries);
        tracing::warn!(reason, tries, "could not record an event, giving up: {e}");
    } else {
        write.failed += 1;
        let delay = policy.delay_after(write.failed);
        let (reason, tries) = (write.reason(), write.failed);
        tracing::debug!(
            reason,
            tries,
            ?delay,
            "could not record an event, retrying: {e}"
        );
        retries.push(write, Instant::now() + delay);
    }
}

async fn send(client: &Client, write: &Write) -> Result<()> {
    let event = &write.event;
    let namespace = event.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    if write.update {
        let patch = json!({
            "count": event.count,
            "lastTimestamp": event.last_timestamp,
            "message": event.message,
        });
        match merge_patch(&api, write.name(), patch).await {
            Ok(()) => return Ok(()),
            // Expired or deleted meanwhile: created anew under its name, with its count (as
            // client-go's recordEvent); the correlator goes on counting on it.
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // One of that name already there is the one this writer wrote.
    create_unless_exists(&api, event).await.map(drop)
}

/// Writes waiting for their next try, soonest first; at most [`MAX_QUEUED`].
#[derive(Default)]
struct Retries {
    due: BTreeMap<(Instant, u64), Write>,
    /// The key in `due` of each Event's pending write.
    by_name: HashMap<String, (Instant, u64)>,
    pushed: u64,
    /// Writes dropped since the queue was last below its bound.
    overflow: u64,
}

impl Retries {
    fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    fn push(&mut self, write: Write, at: Instant) {
        if self.due.len() >= MAX_QUEUED {
            if self.overflow == 0 {
                tracing::warn!(
                    reason = write.reason(),
                    "{MAX_QUEUED} event writes wait to be retried; dropping failed ones until the API server takes them"
                );
            }
            self.overflow += 1;
            return;
        }
        self.pushed += 1;
        let key = (at, self.pushed);
        self.by_name.insert(write.name().to_owned(), key);
        self.due.insert(key, write);
    }

    /// Forgets the pending write of Event `name`.
    fn remove(&mut self, name: &str) {
        if let Some(key) = self.by_name.remove(name) {
            self.due.remove(&key);
        }
    }

    /// Waits for the soonest write's time and takes it; never ready when there is none.
    /// Cancel-safe: nothing is taken until the wait is over.
    async fn next_due(&mut self) -> Write {
        let Some(&(at, pushed)) = self.due.keys().next() else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(at).await;
        let write = self.due.remove(&(at, pushed));
        let Some(write) = write else {
            return std::future::pending().await;
        };
        self.by_name.remove(write.name());
        if self.due.len() < MAX_QUEUED && self.overflow > 0 {
            tracing::warn!(
                count = self.overflow,
                "event writes dropped while the retry queue was full"
            );
            self.overflow = 0;
        }
        write
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: String) -> Write {
        let mut event = Event::default();
        event.metadata.name = Some(name);
        Write {
            event,
            update: false,
            failed: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_retry_queue_is_bounded() {
        let mut retries = Retries::default();
        let now = Instant::now();
        for i in 0..MAX_QUEUED + 5 {
            retries.push(write(format!("web.{i}")), now);
        }
        assert_eq!(retries.due.len(), MAX_QUEUED);
        assert_eq!(retries.overflow, 5);
        // The soonest first; taking one makes room.
        assert_eq!(retries.next_due().await.name(), "web.0");
        retries.push(write("web.new".into()), now);
        assert_eq!((retries.due.len(), retries.overflow), (MAX_QUEUED, 0));
    }
}
