//! The task behind a [`SharedCache`](super::SharedCache): applies watch events to the store and
//! tells the listeners, with the relist and decoding rules of the module's documentation.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;

use super::{Change, Decoded, Indexes, Listeners, Reports, notify, object_ref};

/// Applies watch events to the store and tells the listeners.
pub(super) struct Driver<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub(super) kind: &'static str,
    pub(super) store: Store<K>,
    pub(super) writer: reflector::store::Writer<K>,
    pub(super) listeners: Arc<Listeners<K>>,
    pub(super) indexes: Indexes<K>,
    pub(super) reports: Reports,
}

impl<K> Driver<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    pub(super) fn apply(&mut self, event: watcher::Event<Decoded<K>>) {
        self.handle(event);
        (self.reports.handled)();
    }

    fn handle(&mut self, event: watcher::Event<Decoded<K>>) {
        use watcher::Event;
        match event {
            Event::Apply(Decoded::Object(obj)) => {
                let old = self.store.get(&ObjectRef::from_obj(&obj));
                let event = Event::Apply(obj);
                self.write(&event, old.as_deref());
                if let Event::Apply(new) = &event {
                    self.notify(&Change::Applied {
                        old: old.as_deref(),
                        new,
                    });
                }
            }
            Event::Delete(Decoded::Object(obj)) => {
                let event = Event::Delete(obj);
                self.write(&event, None);
                if let Event::Delete(obj) = &event {
                    self.notify(&Change::Deleted(obj));
                }
            }
            // The object stays as it was last decoded (if it was): a change we cannot read is
            // no reason to act as if it were gone.
            Event::Apply(Decoded::Undecodable { metadata, error }) => {
                (self.reports.undecodable)(&metadata, &error);
            }
            Event::Delete(Decoded::Undecodable { metadata, .. }) => {
                if let Some(last) = self.store.get(&object_ref(&metadata)) {
                    self.write(&Event::Delete(last.as_ref().clone()), None);
                    self.notify(&Change::Deleted(&last));
                }
            }
            Event::Init => self.writer.apply_watcher_event(&Event::Init),
            // Buffered by the writer until `InitDone`.
            Event::InitApply(Decoded::Object(obj)) => {
                self.writer.apply_watcher_event(&Event::InitApply(obj));
            }
            Event::InitApply(Decoded::Undecodable { metadata, error }) => {
                (self.reports.undecodable)(&metadata, &error);
                if let Some(last) = self.store.get(&object_ref(&metadata)) {
                    self.writer
                        .apply_watcher_event(&Event::InitApply(last.as_ref().clone()));
                }
            }
            Event::InitDone => self.relisted(),
        }
    }

    /// The (re)list is complete: swap it into the store, then tell the listeners what changed
    /// since the previous state, vanished objects as deletions.
    fn relisted(&mut self) {
        let mut before: HashMap<ObjectRef<K>, Arc<K>> = self
            .store
            .state()
            .into_iter()
            .map(|obj| (ObjectRef::from_obj(obj.as_ref()), obj))
            .collect();
        {
            let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
            self.writer.apply_watcher_event(&watcher::Event::InitDone);
            for index in indexes.iter() {
                index.rebuild();
            }
        }
        let after = self.store.state();
        let (listed, known) = (after.len(), before.len());
        for new in &after {
            let old = before.remove(&ObjectRef::from_obj(new.as_ref()));
            self.notify(&Change::Applied {
                old: old.as_deref(),
                new,
            });
        }
        for gone in before.values() {
            self.notify(&Change::Deleted(gone));
        }
        tracing::debug!(
            kind = self.kind,
            listed,
            previously = known,
            vanished = before.len(),
            "listed"
        );
    }

    /// Applies an `Apply` or `Delete` to the store and the indexes (`old`: the object before an
    /// `Apply`), together: an index being built meanwhile sees both or neither.
    fn write(&mut self, event: &watcher::Event<K>, old: Option<&K>) {
        let indexes = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        self.writer.apply_watcher_event(event);
        for index in indexes.iter() {
            match event {
                watcher::Event::Apply(new) => index.update(old, Some(new)),
                watcher::Event::Delete(gone) => index.update(Some(gone), None),
                _ => {}
            }
        }
    }

    fn notify(&self, change: &Change<'_, K>) {
        notify(&self.listeners, change);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::watcher::Event;

    use super::super::SharedCache;
    use super::*;

    fn service(name: &str, resource_version: &str) -> Decoded<Service> {
        Decoded::Object(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "ns", "resourceVersion": resource_version}
            }))
            .unwrap(),
        )
    }

    fn undecodable(name: &str) -> Decoded<Service> {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": "9"},
            "spec": {"ports": "not a list"}
        }))
        .unwrap()
    }

    fn list(objects: Vec<Decoded<Service>>) -> Vec<Event<Decoded<Service>>> {
        std::iter::once(Event::Init)
            .chain(objects.into_iter().map(Event::InitApply))
            .chain(std::iter::once(Event::InitDone))
            .collect()
    }

    /// What the listener saw, one line per change: the change, the object's name and
    /// resourceVersion, and the resourceVersion the store held for it at that moment.
    type Seen = Arc<Mutex<Vec<String>>>;

    /// Runs a cache over `events`; returns what a listener saw, what was reported undecodable,
    /// and the store's final `name@resourceVersion`s.
    async fn run(events: Vec<Event<Decoded<Service>>>) -> (Vec<String>, Vec<String>, Vec<String>) {
        let reported: Seen = Arc::default();
        let report = {
            let reported = reported.clone();
            Reports::undecodable(move |meta: &ObjectMeta, error: &str| {
                let name = meta.name.clone().unwrap_or_default();
                reported.lock().unwrap().push(format!("{name}: {error}"));
            })
        };
        let events = futures::stream::iter(events.into_iter().map(Ok));
        let (cache, driver) = SharedCache::<Service>::new("Service", events, report);
        let seen: Seen = Arc::default();
        let _subscription = {
            let (seen, store) = (seen.clone(), cache.store().clone());
            cache.subscribe(move |change| {
                let obj = change.object();
                let stored = store
                    .get(&ObjectRef::from_obj(obj))
                    .and_then(|s| s.metadata.resource_version.clone());
                let what = if change.applied().is_some() {
                    "applied"
                } else {
                    "deleted"
                };
                seen.lock().unwrap().push(format!(
                    "{what} {}@{} (stored: {})",
                    obj.metadata.name.as_deref().unwrap_or_default(),
                    obj.metadata.resource_version.as_deref().unwrap_or_default(),
                    stored.as_deref().unwrap_or("none"),
                ));
            })
        };
        driver.await;
        let mut stored: Vec<String> = cache
            .store()
            .state()
            .iter()
            .map(|s| {
                format!(
                    "{}@{}",
                    s.metadata.name.as_deref().unwrap_or_default(),
                    s.metadata.resource_version.as_deref().unwrap_or_default()
                )
            })
            .collect();
        stored.sort();
        let seen = seen.lock().unwrap().clone();
        let reported = reported.lock().unwrap().clone();
        (seen, reported, stored)
    }

    #[tokio::test]
    async fn a_relist_is_announced_once_stored_and_vanished_objects_as_deletions() {
        let mut events = list(vec![service("a", "1"), service("b", "1")]);
        // A watch gap: `a` changed and `b` was deleted meanwhile; the watcher lists again.
        events.extend(list(vec![service("a", "2")]));
        let (mut seen, _, stored) = run(events).await;
        let first_list: Vec<String> = seen.drain(..2).collect();
        assert!(first_list.contains(&"applied a@1 (stored: 1)".to_owned()));
        assert!(first_list.contains(&"applied b@1 (stored: 1)".to_owned()));
        assert_eq!(
            seen,
            ["applied a@2 (stored: 2)", "deleted b@1 (stored: none)"],
            "listeners must see the relisted state in the store, and hear of b's deletion"
        );
        assert_eq!(stored, ["a@2"]);
    }

    #[tokio::test]
    async fn an_object_that_does_not_fit_the_model_is_reported_and_skipped_alone() {
        let mut events = list(vec![service("good", "1"), undecodable("bad")]);
        // `good` later changes into something undecodable: its last state stays, through a
        // relist too; deleted, it goes.
        events.push(Event::Apply(undecodable("good")));
        events.extend(list(vec![undecodable("good"), service("other", "3")]));
        let (seen, reported, stored) = run(events).await;
        assert_eq!(reported.len(), 3, "{reported:?}");
        assert!(
            reported[0].starts_with("bad: invalid type: string \"not a list\""),
            "{reported:?}"
        );
        assert_eq!(stored, ["good@1", "other@3"]);
        assert!(!seen.iter().any(|s| s.contains("bad")), "{seen:?}");
        assert!(!seen.iter().any(|s| s.starts_with("deleted")), "{seen:?}");

        let (seen, _, stored) = run(vec![
            Event::Init,
            Event::InitApply(service("good", "1")),
            Event::InitDone,
            Event::Delete(undecodable("good")),
        ])
        .await;
        assert_eq!(seen.last().unwrap(), "deleted good@1 (stored: none)");
        assert!(stored.is_empty());
    }

    fn labelled(name: &str, app: &str) -> Decoded<Service> {
        Decoded::Object(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}}
            }))
            .unwrap(),
        )
    }

    fn app(svc: &Service) -> Vec<String> {
        svc.metadata
            .labels
            .iter()
            .flat_map(|l| l.get("app").cloned())
            .collect()
    }

    #[tokio::test]
    async fn indexes_follow_changes_before_listeners_hear_of_them() {
        let mut events = list(vec![labelled("a", "web"), labelled("b", "web")]);
        events.push(Event::Apply(labelled("a", "api")));
        events.push(Event::Delete(labelled("b", "web")));
        // A relist rebuilds the index: `c` appeared during a gap, `a` went.
        events.extend(list(vec![labelled("c", "web")]));
        let events = futures::stream::iter(events.into_iter().map(Ok));
        let (cache, driver) =
            SharedCache::<Service>::new("Service", events, Reports::undecodable(|_, _| {}));
        let index = cache.index("app", app);
        let seen: Seen = Arc::default();
        let _subscription = {
            let (seen, index) = (seen.clone(), index.clone());
            cache.subscribe(move |change| {
                let names = |key: &str| {
                    let mut found: Vec<String> = index
                        .get(key)
                        .iter()
                        .filter_map(|s| s.metadata.name.clone())
                        .collect();
                    found.sort();
                    found.join(",")
                };
                let line = format!(
                    "{} {}: web=[{}] api=[{}]",
                    if change.applied().is_some() {
                        "applied"
                    } else {
                        "deleted"
                    },
                    change.object().metadata.name.as_deref().unwrap_or_default(),
                    names("web"),
                    names("api"),
                );
                seen.lock().unwrap().push(line);
            })
        };
        driver.await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen[2..],
            [
                "applied a: web=[b] api=[a]",
                "deleted b: web=[] api=[a]",
                "applied c: web=[c] api=[]",
                "deleted a: web=[c] api=[]",
            ]
        );
        // Asked for again, it is the same index.
        assert_eq!(cache.index("app", |_| Vec::new()).get("web").len(), 1);
    }
}
