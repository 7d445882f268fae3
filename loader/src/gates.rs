//! At most one provider call per object in flight (see [`ObjectGates`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::handle::Method;

/// At most one call per object in flight: a call about an object waits until the previous call
/// about it has returned from the provider, also when that call outlived its timeout (a thread
/// cannot be cancelled, so it may still be creating a balancer; a second `ensure` beside it
/// could create another with a non-idempotent cloud API).
#[derive(Default)]
pub(crate) struct ObjectGates {
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to call the provider about one object, held until the call returns.
pub(crate) struct ObjectGate {
    guard: Option<OwnedMutexGuard<()>>,
    key: String,
    gates: Arc<ObjectGates>,
}

impl ObjectGates {
    /// Waits until no call about `key` is in flight (logging when it must wait), then holds the
    /// object's gate.
    pub(crate) async fn enter(self: &Arc<Self>, key: &str, method: Method) -> ObjectGate {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        let guard = match gate.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                tracing::warn!(
                    object = key,
                    %method,
                    "an earlier provider call about this object has not returned yet (it outlived its timeout); waiting for it before calling again"
                );
                gate.lock_owned().await
            }
        };
        ObjectGate {
            guard: Some(guard),
            key: key.to_owned(),
            gates: self.clone(),
        }
    }

    /// How many objects have a call in flight or waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.gates.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for ObjectGate {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut gates = self.gates.gates.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody waits, so the entry goes (the map does not grow).
        if gates
            .get(&self.key)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `future` is ready at its first poll (a zero timeout polls it once).
    async fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::ZERO, future).await.ok()
    }

    #[tokio::test]
    async fn calls_about_one_object_wait_for_each_other_and_leave_nothing_behind() {
        let gates = Arc::new(ObjectGates::default());
        let first = gates
            .enter("MultiClusterIngress/ns/a", Method::MciGet)
            .await;
        // Another object does not wait.
        let other = ready_now(gates.enter("MultiClusterIngress/ns/b", Method::MciGet)).await;
        assert!(other.is_some());
        drop(other);
        // The same object waits while the first call runs...
        assert!(
            ready_now(gates.enter("MultiClusterIngress/ns/a", Method::MciEnsure))
                .await
                .is_none()
        );
        let waiting = tokio::spawn({
            let gates = gates.clone();
            async move {
                let _gate = gates
                    .enter("MultiClusterIngress/ns/a", Method::MciEnsure)
                    .await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...and goes once it has returned.
        drop(first);
        waiting.await.unwrap();
        assert_eq!(
            gates.len(),
            0,
            "no gate is kept for objects nobody calls about"
        );
    }
}
