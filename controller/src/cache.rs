//! Shared caches: one reflector per kind, started at start-up on every replica (so a standby
//! takes over with warm caches), read by all controllers, and telling subscribed controllers
//! about each change with the object as it was before (for Go-style update predicates).

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;

/// One change seen by a cache.
pub enum Change<'a, K> {
    /// Created (`old` is `None`) or updated.
    Applied {
        old: Option<&'a K>,
        new: &'a K,
    },
    Deleted(&'a K),
}

impl<K> Change<'_, K> {
    /// The object as it is now (or was when deleted).
    pub fn object(&self) -> &K {
        match self {
            Change::Applied { new, .. } => new,
            Change::Deleted(obj) => obj,
        }
    }
}

type Listener<K> = Arc<dyn Fn(&Change<'_, K>) + Send + Sync>;

struct Listeners<K> {
    next: AtomicU64,
    list: RwLock<Vec<(u64, Listener<K>)>>,
}

/// A reflector store plus change listeners.
pub struct SharedCache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    listeners: Arc<Listeners<K>>,
    kind: &'static str,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for SharedCache<K> {
    fn clone(&self) -> Self {
        SharedCache {
            store: self.store.clone(),
            listeners: self.listeners.clone(),
            kind: self.kind,
        }
    }
}

/// Unsubscribes when dropped.
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl<K> SharedCache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    /// A cache fed by `events` (a `watcher` or `metadata_watcher` stream) and the future that
    /// drives it, which the caller spawns.
    pub fn new<S>(
        kind: &'static str,
        events: S,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static)
    where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let (store, mut writer) = reflector::store();
        let listeners = Arc::new(Listeners {
            next: AtomicU64::new(0),
            list: RwLock::new(Vec::new()),
        });
        let cache = SharedCache {
            store: store.clone(),
            listeners: listeners.clone(),
            kind,
        };
        let driver = async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::warn!(kind, error = %e, "watch failed; retrying with backoff");
                        continue;
                    }
                };
                match &event {
                    watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => {
                        let old = store.get(&ObjectRef::from_obj(obj));
                        writer.apply_watcher_event(&event);
                        notify(
                            &listeners,
                            &Change::Applied {
                                old: old.as_deref(),
                                new: obj,
                            },
                        );
                    }
                    watcher::Event::Delete(obj) => {
                        writer.apply_watcher_event(&event);
                        notify(&listeners, &Change::Deleted(obj));
                    }
                    watcher::Event::Init | watcher::Event::InitDone => {
                        writer.apply_watcher_event(&event)
                    }
                }
            }
        };
        (cache, driver)
    }

    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Calls `listener` for every change until the subscription is dropped. Listeners run on
    /// the cache's task: keep them short (map and send).
    pub fn subscribe(
        &self,
        listener: impl Fn(&Change<'_, K>) + Send + Sync + 'static,
    ) -> Subscription {
        let id = self.listeners.next.fetch_add(1, Ordering::Relaxed);
        self.listeners
            .list
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, Arc::new(listener)));
        let listeners = self.listeners.clone();
        Subscription {
            cancel: Some(Box::new(move || {
                listeners
                    .list
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(i, _)| *i != id);
            })),
        }
    }

    /// Waits until the first list has been stored.
    pub async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
    }
}

fn notify<K>(listeners: &Listeners<K>, change: &Change<'_, K>) {
    let list: Vec<Listener<K>> = listeners
        .list
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, l)| l.clone())
        .collect();
    for listener in list {
        listener(change);
    }
}
