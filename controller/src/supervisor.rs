//! The caches' watch tasks, supervised.
//!
//! A cache is only as fresh as the task that drives it. When that task ends (its watch stream
//! ended, or a listener panicked: listeners run on the task, so a panic unwinds it) the store
//! freezes and nothing re-triggers the controllers, while the probes would stay green. So the
//! first task to end fails `/healthz` and `/livez` ([`Health::fail`]) and the manager returns an
//! error: the process exits and the Deployment restarts it. Restarting the task in place is not
//! simpler: it owns the store's writer, which a new task could not share with the readers and
//! subscriptions that already hold the cache.

use std::any::Any;
use std::future::Future;

use tokio::task::{JoinError, JoinHandle};

use crate::server::Health;

/// A cache's watch task ended; the controller cannot go on with that cache frozen.
#[derive(Debug, thiserror::Error)]
#[error("the watch of {kind} stopped: {reason}; exiting so the Deployment restarts the controller")]
pub struct WatchStopped {
    /// The kind the cache holds (`SharedCache::kind`).
    pub kind: &'static str,
    /// Why: "its stream ended", or the panic's message.
    pub reason: String,
}

/// The running watch tasks, by the kind each one caches. Dropping this aborts them.
#[derive(Default)]
pub struct Drivers {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Drivers {
    /// Spawns `driver`, the task of the cache of `kind`.
    pub fn spawn(&mut self, kind: &'static str, driver: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push((kind, tokio::spawn(driver)));
    }

    /// Resolves when the first task ends: logs the error, fails the liveness probes of `health`
    /// with it, and returns it for the manager to exit with. Never resolves while every task
    /// runs (nor when there is none). Cancel-safe, so it can be one branch of a `select!`; a task
    /// that ended is reported once and no longer supervised.
    pub async fn stopped(&mut self, health: &Health) -> WatchStopped {
        let stopped = self.first_ended().await;
        tracing::error!(kind = stopped.kind, "{stopped}");
        health.fail(stopped.to_string());
        stopped
    }

    async fn first_ended(&mut self) -> WatchStopped {
        if self.tasks.is_empty() {
            return std::future::pending().await;
        }
        let (result, index, _) =
            futures::future::select_all(self.tasks.iter_mut().map(|(_, task)| task)).await;
        // A finished JoinHandle must not be polled again.
        let (kind, _) = self.tasks.swap_remove(index);
        WatchStopped {
            kind,
            reason: reason(result),
        }
    }
}

impl Drop for Drivers {
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

fn reason(result: Result<(), JoinError>) -> String {
    match result {
        Ok(()) => "its stream ended".to_owned(),
        Err(e) if e.is_panic() => format!("it panicked: {}", panic_message(e.into_panic())),
        Err(_) => "its task was cancelled".to_owned(),
    }
}

/// The message `panic!` was given (a `&str` or a `String`, as the default panic hook reads it).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_owned(), |m| (*m).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn first(drivers: &mut Drivers, health: &Health) -> WatchStopped {
        tokio::time::timeout(Duration::from_secs(10), drivers.stopped(health))
            .await
            .expect("the supervisor reports the task that ended")
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported_with_its_kind_and_message() {
        let health = Health::default();
        let mut drivers = Drivers::default();
        drivers.spawn("Service", std::future::pending());
        drivers.spawn("MultiClusterIngress", async {
            tokio::task::yield_now().await;
            panic!("a listener failed on default/web");
        });
        let stopped = first(&mut drivers, &health).await;
        assert_eq!(stopped.kind, "MultiClusterIngress");
        assert_eq!(
            stopped.reason,
            "it panicked: a listener failed on default/web"
        );
        assert_eq!(
            stopped.to_string(),
            "the watch of MultiClusterIngress stopped: it panicked: a listener failed on default/web; exiting so the Deployment restarts the controller"
        );
        assert_eq!(health.failure(), Some(stopped.to_string().as_str()));
        assert_eq!(
            drivers.tasks.len(),
            1,
            "the ended task is no longer supervised"
        );
    }

    #[tokio::test]
    async fn a_task_whose_stream_ended_is_reported() {
        let health = Health::default();
        let mut drivers = Drivers::default();
        drivers.spawn("Cluster", std::future::pending());
        // The real driver future of a cache whose watch stream ends.
        let (_cache, driver) = crate::cache::SharedCache::<
            kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Secret>,
        >::new(
            "Secret",
            futures::stream::empty(),
            crate::cache::Reports::undecodable(|_, _| {}),
        );
        drivers.spawn("Secret", driver);
        let stopped = first(&mut drivers, &health).await;
        assert_eq!(
            (stopped.kind, stopped.reason.as_str()),
            ("Secret", "its stream ended")
        );
        assert!(health.failure().is_some());
    }

    #[tokio::test]
    async fn without_tasks_nothing_is_ever_reported() {
        use futures::FutureExt;
        let health = Health::default();
        let mut drivers = Drivers::default();
        // Not "ended": with no controller enabled there is no cache, and the manager runs on.
        assert!(drivers.stopped(&health).now_or_never().is_none());
        assert_eq!(health.failure(), None);
    }

    #[tokio::test]
    async fn dropping_the_drivers_aborts_their_tasks() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut drivers = Drivers::default();
        drivers.spawn("Cluster", async move {
            let _held = tx;
            std::future::pending::<()>().await;
        });
        drop(drivers);
        assert!(
            rx.await.is_err(),
            "the task was aborted and dropped its sender"
        );
    }
}
