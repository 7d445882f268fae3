//! Hands reconcile requests to kube-runtime's scheduler a few at a time.
//!
//! kube-runtime's scheduler takes every request its input stream has ready into a hash map and
//! a delay queue, and neither ever gives memory back: after a start-up with N objects (every
//! object is requested at once), each controller kept tables sized for N for the rest of its
//! life (docs/performance.md, "The second pass", has the cost). The [`Admission`] keeps
//! the waiting requests itself, in order and each once, and passes one on only while fewer than
//! `limit` passed requests have not finished their reconcile; its own tables shrink when they
//! empty. With `limit` at twice the controller's concurrency the workers never wait for it.
//!
//! A request for an object whose reconcile it passed on and has not seen end waits until that
//! reconcile ends (kube-runtime would hold it too), so no request is merged away and each passed
//! request ends exactly once: in the reconciler ([`Admission::ended`] after it returns, success
//! or error) or as kube-runtime's `ObjectNotFound` (the object left the store before its turn).
//! Retries and resyncs that kube-runtime schedules itself do not go through the admission; when
//! they end, `ended` finds nothing passed and does nothing.

use std::collections::{HashSet, VecDeque};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use kube::Resource;
use kube::runtime::reflector::ObjectRef;

use crate::key::ObjectKey;

/// A key shared between the queue and the set of queued keys: at start-up every object waits
/// here, in each controller, so a waiting request costs one key.
type Key = Arc<ObjectKey>;

struct State<K> {
    /// Requests not passed on yet, oldest first.
    waiting: VecDeque<Key>,
    /// The keys in `waiting` (a request already waiting is not added again).
    queued: HashSet<Key>,
    /// Requests passed on whose reconcile has not ended.
    passed: HashSet<Key>,
    /// Requests taken out of `waiting` while their object's reconcile had not ended; each goes
    /// back to the front when it ends.
    held: Vec<Key>,
    limit: usize,
    /// The stream, when it waits for a reconcile to end.
    waker: Option<Waker>,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource<DynamicType = ()>> State<K> {
    fn add(&mut self, object: ObjectRef<K>) {
        let key = ObjectKey::from(object);
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
            let object = key.to_ref();
            self.passed.insert(key);
            return Some(object);
        }
        None
    }

    fn ended(&mut self, key: &ObjectKey) {
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

fn shrink(set: &mut HashSet<Key>) {
    if set.capacity() > 64 && set.len() < set.capacity() / 4 {
        set.shrink_to(set.len() * 2);
    }
}

/// The handle a controller tells when a passed request's reconcile ends.
pub struct Admission<K: Resource<DynamicType = ()>> {
    state: Arc<Mutex<State<K>>>,
}

impl<K: Resource<DynamicType = ()>> Clone for Admission<K> {
    fn clone(&self) -> Self {
        Admission {
            state: self.state.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Admission<K> {
    /// The admission and the stream of requests to give kube-runtime instead of `requests`.
    pub fn new<S>(requests: S, limit: usize) -> (Self, Admitted<K, S>)
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
        let admission = Admission {
            state: state.clone(),
        };
        let stream = Admitted {
            requests,
            state,
            done: false,
        };
        (admission, stream)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reconcile of `key` ended (or will not run).
    pub fn ended(&self, key: &ObjectKey) {
        self.lock().ended(key);
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.waiting.len(), state.passed.len(), state.held.len())
    }
}

/// The requests, `limit` at a time (see [`Admission`]).
pub struct Admitted<K: Resource<DynamicType = ()>, S> {
    requests: S,
    state: Arc<Mutex<State<K>>>,
    /// `requests` has ended.
    done: bool,
}

impl<K, S> Stream for Admitted<K, S>
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
        let (admission, mut stream) = Admission::new(rx, 2);
        for name in ["a", "b", "c", "a", "d"] {
            tx.unbounded_send(svc(name)).unwrap();
        }
        assert_eq!(names(&ready(&mut stream)), ["a", "b"]);
        admission.ended(&ObjectKey::new(Some("ns"), "a"));
        assert_eq!(names(&ready(&mut stream)), ["c"]);
        admission.ended(&ObjectKey::new(Some("ns"), "b"));
        admission.ended(&ObjectKey::new(Some("ns"), "c"));
        assert_eq!(names(&ready(&mut stream)), ["d"]);
        // A retry kube-runtime scheduled itself ends: nothing was passed for it.
        admission.ended(&ObjectKey::new(Some("ns"), "zzz"));
        admission.ended(&ObjectKey::new(Some("ns"), "d"));
        assert_eq!(admission.sizes(), (0, 0, 0));
    }

    #[test]
    fn a_request_for_a_running_object_waits_for_its_reconcile_to_end() {
        let (tx, rx) = mpsc::unbounded();
        let (admission, mut stream) = Admission::new(rx, 10);
        tx.unbounded_send(svc("a")).unwrap();
        assert_eq!(names(&ready(&mut stream)), ["a"]);
        // Asked for again (twice) while its reconcile runs, then another object.
        for name in ["a", "a", "b"] {
            tx.unbounded_send(svc(name)).unwrap();
        }
        assert_eq!(names(&ready(&mut stream)), ["b"]);
        assert_eq!(admission.sizes(), (0, 2, 1));
        // Once it ends, it runs once more.
        admission.ended(&ObjectKey::new(Some("ns"), "a"));
        assert_eq!(names(&ready(&mut stream)), ["a"]);
        admission.ended(&ObjectKey::new(Some("ns"), "a"));
        admission.ended(&ObjectKey::new(Some("ns"), "b"));
        assert!(ready(&mut stream).is_empty());
        assert_eq!(admission.sizes(), (0, 0, 0));
    }

    #[tokio::test]
    async fn an_ended_reconcile_wakes_a_waiting_stream_and_the_stream_ends_with_its_input() {
        let (tx, rx) = mpsc::unbounded();
        let (admission, mut stream) = Admission::new(rx, 1);
        tx.unbounded_send(svc("a")).unwrap();
        tx.unbounded_send(svc("b")).unwrap();
        drop(tx);
        assert_eq!(stream.next().await.map(|o| o.name), Some("a".to_owned()));
        let ender = admission.clone();
        tokio::spawn(async move { ender.ended(&ObjectKey::new(Some("ns"), "a")) });
        assert_eq!(stream.next().await.map(|o| o.name), Some("b".to_owned()));
        assert!(stream.next().await.is_none());
    }

    #[test]
    fn a_burst_leaves_no_large_table_behind() {
        let (tx, rx) = mpsc::unbounded();
        let (admission, mut stream) = Admission::new(rx, 20_000);
        for i in 0..10_000 {
            tx.unbounded_send(svc(&i.to_string())).unwrap();
        }
        assert_eq!(ready(&mut stream).len(), 10_000);
        for i in 0..10_000 {
            admission.ended(&ObjectKey::new(Some("ns"), &i.to_string()));
        }
        let state = admission.lock();
        assert!(state.passed.capacity() <= 128 && state.queued.capacity() <= 128);
    }
}
