//! Hands reconcile requests to kube-runtime's scheduler a few at a time.
//!
//! kube-runtime's scheduler takes every request its input stream has ready into a hash map and
//! a delay queue, and neither ever gives memory back: after a start-up with N objects (every
//! object is requested at once), each controller kept tables sized for N for the rest of its
//! life (about 2 KiB per Service + MCI + MCS over the four controllers). The [`Gate`] keeps the
//! waiting requests itself, in order and each once, and passes one on only while fewer than
//! `limit` passed requests have not finished their reconcile; its own tables shrink when they
//! empty. With `limit` at twice the controller's concurrency the workers never wait for it.
//!
//! A request for an object whose reconcile it passed on and has not seen end waits until that
//! reconcile ends (kube-runtime would hold it too), so no request is merged away and each passed
//! request ends exactly once: in the reconciler ([`Gate::ended`] after it returns, success or
//! error) or as kube-runtime's `ObjectNotFound` (the object left the store before its turn).
//! Retries and resyncs that kube-runtime schedules itself do not go through the gate; when they
//! end, `ended` finds nothing passed and does nothing.

use std::collections::{HashSet, VecDeque};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use kube::Resource;
use kube::runtime::reflector::ObjectRef;

/// An object's key: namespace and name. Shared between the queue and the set of queued keys:
/// at start-up every object waits here, in each controller, so a waiting request costs one key.
type Key = (Option<String>, String);

fn request<K: Resource<DynamicType = ()>>(key: &Key) -> ObjectRef<K> {
    let object = ObjectRef::new(&key.1);
    match &key.0 {
        Some(namespace) => object.within(namespace),
        None => object,
    }
}

struct State<K> {
    /// Requests not passed on yet, oldest first.
    waiting: VecDeque<Arc<Key>>,
    /// The keys in `waiting` (a request already waiting is not added again).
    queued: HashSet<Arc<Key>>,
    /// Requests passed on whose reconcile has not ended.
    passed: HashSet<Arc<Key>>,
    /// Requests taken out of `waiting` while their object's reconcile had not ended; each goes
    /// back to the front when it ends.
    held: Vec<Arc<Key>>,
    limit: usize,
    /// The stream, when it waits for a reconcile to end.
    waker: Option<Waker>,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource<DynamicType = ()>> State<K> {
    fn add(&mut self, object: ObjectRef<K>) {
        let key = (object.namespace, object.name);
        if self.queued.contains(&key) || self.held.iter().any(|h| **h == key) {
            return;
        }
        let key = Arc::new(key);
        self.queued.insert(key.clone());
        self.waiting.push_back(key);
    }

    /// The next request to pass on, if the limit allows one.
    fn next(&mut self) -> Option<ObjectRef<K>> {
        while self.passed.len() < self.limit {
            let key = self.waiting.pop_front()?;
            self.queued.remove(&key);
            if self.passed.contains(&key) {
                self.held.push(key);
                continue;
            }
            let object = request(&key);
            self.passed.insert(key);
            return Some(object);
        }
        None
    }

    fn ended(&mut self, key: &Key) {
        if !self.passed.remove(key) {
            return;
        }
        if let Some(i) = self.held.iter().position(|h| **h == *key) {
            let key = self.held.swap_remove(i);
            self.queued.insert(key.clone());
            self.waiting.push_front(key);
        }
        // A burst leaves large tables behind; give the memory back once they are mostly empty.
        shrink(&mut self.passed);
        shrink(&mut self.queued);
        if self.waiting.capacity() > 64 && self.waiting.len() < self.waiting.capacity() / 4 {
            self.waiting.shrink_to(self.waiting.len() * 2);
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

fn shrink(set: &mut HashSet<Arc<Key>>) {
    if set.capacity() > 64 && set.len() < set.capacity() / 4 {
        set.shrink_to(set.len() * 2);
    }
}

/// The handle a controller tells when a passed request's reconcile ends.
pub struct Gate<K: Resource<DynamicType = ()>> {
    state: Arc<Mutex<State<K>>>,
}

impl<K: Resource<DynamicType = ()>> Clone for Gate<K> {
    fn clone(&self) -> Self {
        Gate {
            state: self.state.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Gate<K> {
    /// The gate and the stream of requests to give kube-runtime instead of `requests`.
    pub fn new<S>(requests: S, limit: usize) -> (Self, Gated<K, S>)
    where
        S: Stream<Item = ObjectRef<K>> + Unpin,
    {
        let state = Arc::new(Mutex::new(State {
            waiting: VecDeque::new(),
            queued: HashSet::new(),
            passed: HashSet::new(),
            held: Vec::new(),
            limit: limit.max(1),
            waker: None,
            kind: PhantomData,
        }));
        let gate = Gate {
            state: state.clone(),
        };
        let stream = Gated {
            requests,
            state,
            done: false,
        };
        (gate, stream)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reconcile of `namespace/name` ended (or will not run).
    pub fn ended(&self, namespace: Option<&str>, name: &str) {
        self.lock()
            .ended(&(namespace.map(str::to_owned), name.to_owned()));
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.waiting.len(), state.passed.len(), state.held.len())
    }
}

/// The requests, `limit` at a time (see [`Gate`]).
pub struct Gated<K: Resource<DynamicType = ()>, S> {
    requests: S,
    state: Arc<Mutex<State<K>>>,
    /// `requests` has ended.
    done: bool,
}

impl<K, S> Stream for Gated<K, S>
where
    K: Resource<DynamicType = ()>,
    S: Stream<Item = ObjectRef<K>> + Unpin,
{
    type Item = ObjectRef<K>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut state = this.state.lock().unwrap_or_else(|e| e.into_inner());
        while !this.done {
            match Pin::new(&mut this.requests).poll_next(cx) {
                Poll::Ready(Some(object)) => state.add(object),
                Poll::Ready(None) => this.done = true,
                Poll::Pending => break,
            }
        }
        if let Some(object) = state.next() {
            return Poll::Ready(Some(object));
        }
        if this.done && state.waiting.is_empty() {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use futures::channel::mpsc;
    use futures::{FutureExt, StreamExt};
    use k8s_openapi::api::core::v1::Service;

    use super::*;

    fn svc(name: &str) -> ObjectRef<Service> {
        ObjectRef::new(name).within("ns")
    }

    fn names(batch: &[ObjectRef<Service>]) -> Vec<&str> {
        batch.iter().map(|o| o.name.as_str()).collect()
    }

    /// What the stream yields without waiting.
    fn ready(
        stream: &mut (impl Stream<Item = ObjectRef<Service>> + Unpin),
    ) -> Vec<ObjectRef<Service>> {
        let mut out = Vec::new();
        while let Some(Some(o)) = stream.next().now_or_never() {
            out.push(o);
        }
        out
    }

    #[test]
    fn passes_at_most_limit_requests_until_their_reconciles_end() {
        let (tx, rx) = mpsc::unbounded();
        let (gate, mut stream) = Gate::new(rx, 2);
        for name in ["a", "b", "c", "a", "d"] {
            tx.unbounded_send(svc(name)).unwrap();
        }
        assert_eq!(names(&ready(&mut stream)), ["a", "b"]);
        gate.ended(Some("ns"), "a");
        assert_eq!(names(&ready(&mut stream)), ["c"]);
        gate.ended(Some("ns"), "b");
        gate.ended(Some("ns"), "c");
        assert_eq!(names(&ready(&mut stream)), ["d"]);
        // A retry kube-runtime scheduled itself ends: nothing was passed for it.
        gate.ended(Some("ns"), "zzz");
        gate.ended(Some("ns"), "d");
        assert_eq!(gate.sizes(), (0, 0, 0));
    }

    #[test]
    fn a_request_for_a_running_object_waits_for_its_reconcile_to_end() {
        let (tx, rx) = mpsc::unbounded();
        let (gate, mut stream) = Gate::new(rx, 10);
        tx.unbounded_send(svc("a")).unwrap();
        assert_eq!(names(&ready(&mut stream)), ["a"]);
        // Asked for again (twice) while its reconcile runs, then another object.
        for name in ["a", "a", "b"] {
            tx.unbounded_send(svc(name)).unwrap();
        }
        assert_eq!(names(&ready(&mut stream)), ["b"]);
        assert_eq!(gate.sizes(), (0, 2, 1));
        // Once it ends, it runs once more.
        gate.ended(Some("ns"), "a");
        assert_eq!(names(&ready(&mut stream)), ["a"]);
        gate.ended(Some("ns"), "a");
        gate.ended(Some("ns"), "b");
        assert!(ready(&mut stream).is_empty());
        assert_eq!(gate.sizes(), (0, 0, 0));
    }

    #[tokio::test]
    async fn an_ended_reconcile_wakes_a_waiting_stream_and_the_stream_ends_with_its_input() {
        let (tx, rx) = mpsc::unbounded();
        let (gate, mut stream) = Gate::new(rx, 1);
        tx.unbounded_send(svc("a")).unwrap();
        tx.unbounded_send(svc("b")).unwrap();
        drop(tx);
        assert_eq!(stream.next().await.map(|o| o.name), Some("a".to_owned()));
        let ender = gate.clone();
        tokio::spawn(async move { ender.ended(Some("ns"), "a") });
        assert_eq!(stream.next().await.map(|o| o.name), Some("b".to_owned()));
        assert!(stream.next().await.is_none());
    }

    #[test]
    fn a_burst_leaves_no_large_table_behind() {
        let (tx, rx) = mpsc::unbounded();
        let (gate, mut stream) = Gate::new(rx, 20_000);
        for i in 0..10_000 {
            tx.unbounded_send(svc(&i.to_string())).unwrap();
        }
        assert_eq!(ready(&mut stream).len(), 10_000);
        for i in 0..10_000 {
            gate.ended(Some("ns"), &i.to_string());
        }
        let state = gate.lock();
        assert!(state.passed.capacity() <= 128 && state.queued.capacity() <= 128);
    }
}
