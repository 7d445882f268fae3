//! From cache changes to reconcile requests.
//!
//! A controller's `run` subscribes its queue to each cache it watches ([`Watches::on`]), naming
//! the mapper that turns one change into the objects to reconcile; at start it feeds the objects
//! already cached to the same mappers ([`Watches::replay`]). Mappers are plain functions of the
//! change and of what they read (a `Mappers` value per controller), so they are unit tested
//! without an API server.

use std::marker::PhantomData;

use futures::channel::mpsc;
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::cache::{Change, SharedCache, Subscription};

/// Where reconcile requests for `P` go.
pub trait Queue<P: Resource>: Clone + Send + Sync + 'static {
    fn enqueue(&self, object: ObjectRef<P>);
}

/// Sends reconcile requests to one kube-runtime controller.
pub struct Trigger<K: Resource<DynamicType = ()>> {
    tx: mpsc::UnboundedSender<ObjectRef<K>>,
}

impl<K: Resource<DynamicType = ()>> Clone for Trigger<K> {
    fn clone(&self) -> Self {
        Trigger {
            tx: self.tx.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Trigger<K> {
    /// A trigger and the stream of requests the controller reads (`reconcile_on`).
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ObjectRef<K>>) {
        let (tx, rx) = mpsc::unbounded();
        (Trigger { tx }, rx)
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Queue<K> for Trigger<K> {
    fn enqueue(&self, object: ObjectRef<K>) {
        // Fails only once the controller has stopped: nothing is waiting for the request.
        let _ = self.tx.unbounded_send(object);
    }
}

/// One controller's subscriptions to the caches it watches, each with the mapper (a method of
/// the controller's `Mappers`) that turns a change of that kind into objects to reconcile. The
/// subscriptions end when this is dropped. Mappers run on the cache's task: they must be quick
/// (read caches, no I/O).
pub struct Watches<P: Resource, Q: Queue<P>, M> {
    queue: Q,
    mappers: M,
    subscriptions: Vec<Subscription>,
    primary: PhantomData<fn() -> P>,
}

impl<P, Q, M> Watches<P, Q, M>
where
    P: Resource,
    Q: Queue<P>,
    M: Clone + Send + Sync + 'static,
{
    pub fn new(queue: &Q, mappers: &M) -> Self {
        Watches {
            queue: queue.clone(),
            mappers: mappers.clone(),
            subscriptions: Vec::new(),
            primary: PhantomData,
        }
    }

    /// Enqueues what `map` makes of each change `cache` sees.
    pub fn on<K, I>(
        mut self,
        cache: &SharedCache<K>,
        map: impl Fn(&M, &Change<'_, K>) -> I + Send + Sync + 'static,
    ) -> Self
    where
        K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
        I: IntoIterator<Item = ObjectRef<P>>,
    {
        let queue = self.queue.clone();
        let mappers = self.mappers.clone();
        self.subscriptions.push(cache.subscribe(move |change| {
            for object in map(&mappers, change) {
                queue.enqueue(object);
            }
        }));
        self
    }

    /// Feeds every object in `store` to `map` as if it had just been created: at start
    /// everything already there is reconciled once, as the Go controllers do.
    pub fn replay<K, I>(&self, store: &Store<K>, map: impl Fn(&M, &Change<'_, K>) -> I)
    where
        K: Resource<DynamicType = ()> + Clone,
        I: IntoIterator<Item = ObjectRef<P>>,
    {
        for obj in store.state() {
            for object in map(&self.mappers, &Change::created(obj.as_ref())) {
                self.queue.enqueue(object);
            }
        }
    }
}
