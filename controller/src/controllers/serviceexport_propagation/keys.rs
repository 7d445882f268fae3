//! The controller's primary store: stub Services for the keys asked for (see the module doc).
//! A stub is a [`CachedService`] (metadata only, a fifth of a `Service`): every key a start-up
//! asks for has one until it is reconciled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::watcher;

use crate::cache::CachedService;
use crate::controllers::trigger::{Queue, Trigger};
use crate::key::ObjectKey;

struct KeysState {
    writer: Writer<CachedService>,
    /// The generation of each key in the store, bumped on every request.
    generations: HashMap<ObjectKey, u64>,
    next: u64,
}

/// The controller's primary store: stub Services for the keys asked for (see the module doc).
pub struct Keys {
    state: Mutex<KeysState>,
    trigger: Trigger<CachedService>,
}

fn stub(key: &ObjectKey) -> CachedService {
    CachedService {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: key.namespace.clone(),
            ..Default::default()
        },
        ..Default::default()
    }
}

impl Keys {
    pub fn new() -> (
        Arc<Keys>,
        Store<CachedService>,
        mpsc::UnboundedReceiver<ObjectRef<CachedService>>,
    ) {
        let (store, mut writer) = reflector::store();
        // Nothing to list: the store is complete (and ready) from the start.
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let (trigger, triggers) = Trigger::new();
        let keys = Keys {
            state: Mutex::new(KeysState {
                writer,
                generations: HashMap::new(),
                next: 0,
            }),
            trigger,
        };
        (Arc::new(keys), store, triggers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeysState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a reconcile of the Service `key`, whether it exists or not.
    pub fn request(&self, key: ObjectKey) {
        if key.name.is_empty() {
            return;
        }
        let request = key.to_ref();
        {
            let mut state = self.lock();
            state.next += 1;
            let generation = state.next;
            let stub = stub(&key);
            if state.generations.insert(key, generation).is_none() {
                state
                    .writer
                    .apply_watcher_event(&watcher::Event::Apply(stub));
            }
        }
        self.trigger.enqueue(request);
    }

    pub fn generation(&self, key: &ObjectKey) -> Option<u64> {
        self.lock().generations.get(key).copied()
    }

    /// Drops the key, unless it was asked for again since `seen` (then that request runs).
    pub fn forget(&self, key: &ObjectKey, seen: Option<u64>) {
        let mut state = self.lock();
        if state.generations.get(key).copied() == seen && seen.is_some() {
            state.generations.remove(key);
            state
                .writer
                .apply_watcher_event(&watcher::Event::Delete(stub(key)));
        }
    }
}

/// Mappers' answers go through [`Keys::request`], which puts the stub in the store first.
impl Queue<Service> for Arc<Keys> {
    fn enqueue(&self, object: ObjectRef<Service>) {
        self.request(ObjectKey::from(object));
    }
}
