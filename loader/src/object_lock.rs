//! At most one provider call per object in flight (see [`ObjectLocks`]), objects told apart by
//! their [`ObjectKey`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::kind::Method;
use crate::kind::ObjectKind;

/// The object a call is about: kind, namespace and name. Displayed `Kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjectKey {
    kind: &'static str,
    namespace: String,
    name: String,
}

impl ObjectKey {
    pub(crate) fn of<K: ObjectKind>(object: &K) -> Self {
        let meta = object.metadata();
        ObjectKey {
            kind: K::KIND,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// At most one call per object in flight: a call about an object waits until the previous call
/// about it has returned from the provider, also when that call outlived its timeout (a thread
/// cannot be cancelled, so it may still be creating a balancer; a second `ensure` beside it
/// could create another with a non-idempotent cloud API).
#[derive(Default)]
pub(crate) struct ObjectLocks {
    locks: Mutex<HashMap<ObjectKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to call the provider about one object, held until the call returns.
pub(crate) struct ObjectLock {
    guard: Option<OwnedMutexGuard<()>>,
    key: ObjectKey,
    locks: Arc<ObjectLocks>,
}

impl ObjectLocks {
    /// Waits until no call about `key` is in flight (logging when it must wait), then holds the
    /// object's lock.
    pub(crate) async fn lock(self: &Arc<Self>, key: &ObjectKey, method: Method) -> ObjectLock {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = match lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                tracing::warn!(
                    object = %key,
                    %method,
                    "an earlier provider call about this object has not returned yet (it outlived its timeout); waiting for it before calling again"
                );
                lock.lock_owned().await
            }
        };
        ObjectLock {
            guard: Some(guard),
            key: key.clone(),
            locks: self.clone(),
        }
    }

    /// How many objects have a call in flight or waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody waits, so the entry goes (the map does not grow).
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
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

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            kind: "MultiClusterIngress",
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn calls_about_one_object_wait_for_each_other_and_leave_nothing_behind() {
        let locks = Arc::new(ObjectLocks::default());
        let (a, b) = (key("a"), key("b"));
        assert_eq!(a.to_string(), "MultiClusterIngress/ns/a");
        let first = locks.lock(&a, Method::MciGet).await;
        // Another object does not wait.
        let other = ready_now(locks.lock(&b, Method::MciGet)).await;
        assert!(other.is_some());
        drop(other);
        // The same object waits while the first call runs...
        assert!(ready_now(locks.lock(&a, Method::MciEnsure)).await.is_none());
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _lock = locks.lock(&a, Method::MciEnsure).await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...and goes once it has returned.
        drop(first);
        waiting.await.unwrap();
        assert_eq!(
            locks.len(),
            0,
            "no lock is kept for objects nobody calls about"
        );
    }
}
