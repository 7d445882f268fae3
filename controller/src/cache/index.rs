//! [`Index`]: a cache's objects by keys computed from them (as controller-runtime's field
//! indexes), kept up to date by the cache's task before the listeners hear of a change, so a
//! mapper finds the objects of one key without scanning the cache.

use std::collections::{HashMap, HashSet};
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
    /// Each key's objects; references without `extra` (resource version and UID: the store's
    /// lookup ignores them).
    entries: RwLock<HashMap<String, Refs<K>>>,
}

/// The objects of one key. Most keys have one or two (a Service's slices, a Secret's MCIs): a
/// vector, one allocation of exactly what it holds. Some have every object (a cluster's
/// bindings or MCIs): past [`FEW`] a set, so filing and removing one stays O(1) instead of a
/// scan of thousands.
enum Refs<K: Resource<DynamicType = ()>> {
    Few(Vec<ObjectRef<K>>),
    Many(HashSet<ObjectRef<K>>),
}

/// The most references a key keeps in a vector.
const FEW: usize = 16;

impl<K: Resource<DynamicType = ()>> Refs<K> {
    /// Adds `reference` (once).
    fn insert(&mut self, reference: &ObjectRef<K>) {
        match self {
            Refs::Few(refs) if refs.contains(reference) => {}
            Refs::Few(refs) if refs.len() < FEW => refs.push(reference.clone()),
            Refs::Few(refs) => {
                let mut set: HashSet<_> = refs.drain(..).collect();
                set.insert(reference.clone());
                *self = Refs::Many(set);
            }
            Refs::Many(set) => {
                if !set.contains(reference) {
                    set.insert(reference.clone());
                }
            }
        }
    }

    fn remove(&mut self, reference: &ObjectRef<K>) {
        match self {
            Refs::Few(refs) => refs.retain(|r| r != reference),
            Refs::Many(set) => {
                set.remove(reference);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Refs::Few(refs) => refs.is_empty(),
            Refs::Many(set) => set.is_empty(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &ObjectRef<K>> + '_> {
        match self {
            Refs::Few(refs) => Box::new(refs.iter()),
            Refs::Many(set) => Box::new(set.iter()),
        }
    }
}

/// Files `reference` under `key` (once).
fn add<K: Resource<DynamicType = ()>>(
    entries: &mut HashMap<String, Refs<K>>,
    key: String,
    reference: &ObjectRef<K>,
) {
    entries
        .entry(key)
        .or_insert_with(|| Refs::Few(Vec::with_capacity(1)))
        .insert(reference);
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
        let find = |list: &[Arc<Inner<K>>]| {
            list.iter().find(|i| i.name == name).map(|inner| Index {
                inner: inner.clone(),
            })
        };
        // Asked for on every lookup: found under the read lock, which the cache's task shares.
        if let Some(index) = find(&indexes.read().unwrap_or_else(|e| e.into_inner())) {
            return index;
        }
        let mut list = indexes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = find(&list) {
            return index;
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
                refs.remove(&reference);
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
        let mut entries: HashMap<String, Refs<K>> = HashMap::new();
        for obj in self.store.state() {
            let reference = object_ref(obj.meta());
            for key in (self.keys)(&obj) {
                add(&mut entries, key, &reference);
            }
        }
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;

    use super::*;

    fn names(refs: &Refs<Service>) -> Vec<String> {
        let mut names: Vec<String> = refs.iter().map(|r| r.name.clone()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_key_holds_each_object_once_as_a_vector_or_past_a_few_as_a_set() {
        let service = |i: usize| ObjectRef::<Service>::new(&format!("s{i:02}")).within("ns");
        let mut refs = Refs::Few(Vec::new());
        for i in 0..FEW {
            refs.insert(&service(i));
            refs.insert(&service(i));
        }
        assert!(matches!(&refs, Refs::Few(v) if v.len() == FEW));
        for i in FEW..40 {
            refs.insert(&service(i));
            refs.insert(&service(0));
        }
        assert!(matches!(&refs, Refs::Many(_)));
        assert_eq!(
            names(&refs),
            (0..40).map(|i| format!("s{i:02}")).collect::<Vec<_>>()
        );
        for i in (0..40).filter(|i| i % 2 == 0) {
            refs.remove(&service(i));
        }
        assert_eq!(
            names(&refs),
            (0..40)
                .filter(|i| i % 2 == 1)
                .map(|i| format!("s{i:02}"))
                .collect::<Vec<_>>()
        );
        for i in 0..40 {
            refs.remove(&service(i));
        }
        assert!(refs.is_empty());
        let mut few = Refs::Few(Vec::new());
        few.insert(&service(1));
        few.remove(&service(1));
        assert!(few.is_empty());
    }
}
