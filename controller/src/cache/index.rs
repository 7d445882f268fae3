//! [`Index`]: a cache's objects by keys computed from them (as controller-runtime's field
//! indexes), kept up to date by the cache's task before the listeners hear of a change, so a
//! mapper finds the objects of one key without scanning the cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};

use super::object_ref;

/// The keys an object is found under.
pub type IndexKeys<K> = fn(&K) -> Vec<String>;

/// Objects by key. Clone it freely: clones share the index.
pub struct Index<K: Resource<DynamicType = ()> + Clone + 'static> {
    inner: Arc<Inner<K>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Index<K> {
    fn clone(&self) -> Self {
        Index {
            inner: self.inner.clone(),
        }
    }
}

pub(super) struct Inner<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub(super) name: &'static str,
    keys: IndexKeys<K>,
    store: Store<K>,
    /// Each key's objects: most keys have one or two, so a vector (one allocation of exactly
    /// what it holds) rather than a set; references without `extra` (resource version and
    /// UID: the store's lookup ignores them).
    entries: RwLock<HashMap<String, Vec<ObjectRef<K>>>>,
}

/// Files `reference` under `key` (once).
fn add<K: Resource<DynamicType = ()>>(
    entries: &mut HashMap<String, Vec<ObjectRef<K>>>,
    key: String,
    reference: &ObjectRef<K>,
) {
    let refs = entries.entry(key).or_insert_with(|| Vec::with_capacity(1));
    if !refs.contains(reference) {
        refs.push(reference.clone());
    }
}

/// The indexes of one cache; the cache's task updates them (holding the read lock across a
/// store write and their update), [`Indexes::add`] builds one from the store (holding the write
/// lock), so an index never misses a change.
pub(super) type Indexes<K> = Arc<RwLock<Vec<Arc<Inner<K>>>>>;

impl<K: Resource<DynamicType = ()> + Clone + 'static> Index<K> {
    /// The index `name` of the cache whose store and indexes these are: the existing one, or a
    /// new one built from the store.
    pub(super) fn of(
        indexes: &Indexes<K>,
        store: &Store<K>,
        name: &'static str,
        keys: IndexKeys<K>,
    ) -> Index<K> {
        let mut list = indexes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(inner) = list.iter().find(|i| i.name == name) {
            return Index {
                inner: inner.clone(),
            };
        }
        let inner = Arc::new(Inner {
            name,
            keys,
            store: store.clone(),
            entries: RwLock::default(),
        });
        inner.rebuild();
        list.push(inner.clone());
        Index { inner }
    }

    /// The cached objects found under `key`.
    pub fn get(&self, key: &str) -> Vec<Arc<K>> {
        let entries = self.inner.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(key).map_or_else(Vec::new, |refs| {
            refs.iter()
                .filter_map(|r| self.inner.store.get(r))
                .collect()
        })
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Inner<K> {
    /// Moves the object from the keys of `old` to those of `new` (`None` for a creation or a
    /// deletion).
    pub(super) fn update(&self, old: Option<&K>, new: Option<&K>) {
        let Some(reference) = new.or(old).map(|obj| object_ref(obj.meta())) else {
            return;
        };
        let old_keys = old.map(self.keys).unwrap_or_default();
        let new_keys = new.map(self.keys).unwrap_or_default();
        if old_keys == new_keys {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            if let Some(refs) = entries.get_mut(key) {
                refs.retain(|r| *r != reference);
                if refs.is_empty() {
                    entries.remove(key);
                }
            }
        }
        for key in new_keys {
            add(&mut entries, key, &reference);
        }
    }

    /// Builds the index again from the store (at start and after a relist).
    pub(super) fn rebuild(&self) {
        let mut entries: HashMap<String, Vec<ObjectRef<K>>> = HashMap::new();
        for obj in self.store.state() {
            let reference = object_ref(obj.meta());
            for key in (self.keys)(&obj) {
                add(&mut entries, key, &reference);
            }
        }
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }
}
