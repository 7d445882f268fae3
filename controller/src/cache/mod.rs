//! Shared caches: one reflector per kind, started at start-up on every replica (so a standby
//! takes over with warm caches), read by all controllers, and telling subscribed controllers
//! about each change with the object as it was before (for Go-style update predicates).
//!
//! Two things a plain kube-runtime reflector does not do, and these caches do:
//! - **Relists.** After a watch gap (a `410 Gone`, a restarted API server) the watcher lists
//!   again. Listeners hear about the relisted objects only once the store holds the relisted
//!   state (so a reconcile they trigger reads it), and every object that vanished during the gap
//!   is announced as deleted, with its last known state (client-go's
//!   `DeletedFinalStateUnknown`), so clean-up that waits for deletions still happens.
//! - **Objects our model cannot decode.** Each object is decoded on its own ([`Decoded`]): one
//!   that does not fit the model is reported (see [`Reports`]) and skipped, keeping its last
//!   decodable state if there was one, and the rest of the kind is served. Without this one bad
//!   object fails the whole list, and the watcher retries it forever.

/// `impl Resource` for a lean cached form `$lean` (a `metadata` field and what it keeps of the
/// rest) of the API type `$api`: lists and watches are those of `$api`.
macro_rules! lean_resource {
    ($lean:ty => $api:ty) => {
        impl kube::Resource for $lean {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;

            fn kind(dt: &()) -> std::borrow::Cow<'_, str> {
                <$api as kube::Resource>::kind(dt)
            }
            fn group(dt: &()) -> std::borrow::Cow<'_, str> {
                <$api as kube::Resource>::group(dt)
            }
            fn version(dt: &()) -> std::borrow::Cow<'_, str> {
                <$api as kube::Resource>::version(dt)
            }
            fn plural(dt: &()) -> std::borrow::Cow<'_, str> {
                <$api as kube::Resource>::plural(dt)
            }
            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(
                &mut self,
            ) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

mod change;
mod decoded;
mod driver;
mod endpoint_slice;
mod index;
mod lean;
mod service;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

pub use change::Change;
pub use decoded::{Decoded, Reports, trim};
use driver::Driver;
pub use endpoint_slice::{
    CachedEndpointSlice, EXECUTION_SPACE_PREFIX, SliceEndpoint, WORK_NAMESPACE_ANNOTATION,
};
use index::Indexes;
pub use index::{Index, IndexKeys};
pub use service::CachedService;

/// What a kind the controllers watch and cache must be (every Kubernetes and Karmada API type,
/// and `PartialObjectMeta` of one).
pub trait Cacheable:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> Cacheable for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

type Listener<K> = Arc<dyn Fn(&Change<'_, K>) + Send + Sync>;

pub(crate) struct Listeners<K> {
    next: AtomicU64,
    list: RwLock<Vec<(u64, Listener<K>)>>,
}

/// A reflector store plus change listeners.
pub struct SharedCache<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    listeners: Arc<Listeners<K>>,
    kind: &'static str,
    indexes: Indexes<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for SharedCache<K> {
    fn clone(&self) -> Self {
        SharedCache {
            store: self.store.clone(),
            listeners: self.listeners.clone(),
            kind: self.kind,
            indexes: self.indexes.clone(),
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
    /// A cache fed by `events` (a `watcher` stream of [`Decoded`] objects) and the future that
    /// drives it, which the caller spawns. What happens goes to `reports`.
    pub fn new<S>(
        kind: &'static str,
        events: S,
        reports: Reports,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static)
    where
        S: Stream<Item = Result<watcher::Event<Decoded<K>>, watcher::Error>> + Send + 'static,
    {
        let (store, writer) = reflector::store();
        let listeners = Arc::new(Listeners {
            next: AtomicU64::new(0),
            list: RwLock::new(Vec::new()),
        });
        let indexes = Indexes::default();
        let cache = SharedCache {
            store: store.clone(),
            listeners: listeners.clone(),
            kind,
            indexes: indexes.clone(),
        };
        let mut driver = Driver {
            kind,
            store,
            writer,
            listeners,
            indexes,
            reports,
        };
        let driver = async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => driver.apply(event),
                    Err(e) => {
                        tracing::warn!(kind, error = %e, "watch failed; retrying with backoff")
                    }
                }
            }
        };
        (cache, driver)
    }

    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// The cached object `namespace/name`, if any.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The index `name` of this cache (objects by `keys`), built on first use and kept up to
    /// date before listeners hear of a change. Every caller asking for the same name shares it.
    pub fn index(&self, name: &'static str, keys: IndexKeys<K>) -> Index<K> {
        Index::of(&self.indexes, &self.store, name, keys)
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

/// The reference of the object `metadata` describes, without `extra` (resourceVersion and UID,
/// which lookups and comparisons of references ignore).
pub fn object_ref<K: Resource<DynamicType = ()>>(metadata: &ObjectMeta) -> ObjectRef<K> {
    let mut reference = ObjectRef::new(metadata.name.as_deref().unwrap_or_default());
    reference.namespace = metadata.namespace.clone();
    reference
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
