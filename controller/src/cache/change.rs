//! [`Change`]: one change a cache saw, and the predicates the controllers' mappers ask of it.

use kube::Resource;

/// One change seen by a cache.
///
/// The predicates below are what the controllers' watch mappers ask of a change. Each counts a
/// creation and a deletion as a change, so they combine with `||`; for an update they compare the
/// object before and after.
pub enum Change<'a, K> {
    /// Created (`old` is `None`) or updated.
    Applied {
        old: Option<&'a K>,
        new: &'a K,
    },
    Deleted(&'a K),
}

impl<'a, K> Change<'a, K> {
    pub fn created(new: &'a K) -> Self {
        Change::Applied { old: None, new }
    }

    pub fn updated(old: &'a K, new: &'a K) -> Self {
        Change::Applied {
            old: Some(old),
            new,
        }
    }

    /// The object as it is now (or was when deleted).
    pub fn object(&self) -> &'a K {
        match *self {
            Change::Applied { new, .. } => new,
            Change::Deleted(obj) => obj,
        }
    }

    /// The object before an update; `None` for a creation or a deletion.
    pub fn old(&self) -> Option<&'a K> {
        match *self {
            Change::Applied { old, .. } => old,
            Change::Deleted(_) => None,
        }
    }

    /// The object after a creation or an update; `None` for a deletion.
    pub fn applied(&self) -> Option<&'a K> {
        match *self {
            Change::Applied { new, .. } => Some(new),
            Change::Deleted(_) => None,
        }
    }

    /// Whether `differs(old, new)` holds for an update; a creation or a deletion always counts.
    pub fn changed(&self, differs: impl FnOnce(&K, &K) -> bool) -> bool {
        match *self {
            Change::Applied {
                old: Some(old),
                new,
            } => differs(old, new),
            Change::Applied { old: None, .. } | Change::Deleted(_) => true,
        }
    }
}

impl<K: Resource> Change<'_, K> {
    /// The object started (or stopped) being deleted.
    pub fn deletion_changed(&self) -> bool {
        self.changed(|old, new| {
            old.meta().deletion_timestamp.is_some() != new.meta().deletion_timestamp.is_some()
        })
    }

    pub fn annotations_changed(&self) -> bool {
        self.changed(|old, new| old.meta().annotations != new.meta().annotations)
    }

    pub fn owner_references_changed(&self) -> bool {
        self.changed(|old, new| old.meta().owner_references != new.meta().owner_references)
    }

    /// Another object of the same name replaced it (its UID changed).
    pub fn uid_changed(&self) -> bool {
        self.changed(|old, new| old.meta().uid != new.meta().uid)
    }

    /// Anything at all changed (a resync or relist repeats an object unchanged).
    pub fn resource_version_changed(&self) -> bool {
        self.changed(|old, new| old.meta().resource_version != new.meta().resource_version)
    }

    /// Go's update predicate, shared by its controllers: the spec (as `spec` picks it), the
    /// annotations or the deletion state changed.
    pub fn spec_annotations_or_deletion_changed<S: PartialEq>(
        &self,
        spec: impl Fn(&K) -> &S,
    ) -> bool {
        self.changed(|old, new| spec(old) != spec(new))
            || self.annotations_changed()
            || self.deletion_changed()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;

    use super::*;

    fn service(yaml: &str) -> Service {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn creations_and_deletions_are_changes_for_every_predicate() {
        let svc = service("metadata: {name: a, uid: u1, resourceVersion: '1'}");
        for change in [Change::created(&svc), Change::Deleted(&svc)] {
            assert!(change.changed(|_, _| false));
            assert!(change.deletion_changed());
            assert!(change.annotations_changed());
            assert!(change.owner_references_changed());
            assert!(change.uid_changed());
            assert!(change.resource_version_changed());
            assert!(change.spec_annotations_or_deletion_changed(|s| &s.spec));
        }
        assert!(Change::created(&svc).applied().is_some());
        assert!(Change::Deleted(&svc).applied().is_none());
        assert!(Change::created(&svc).old().is_none());
    }

    #[test]
    fn updates_compare_the_object_before_and_after() {
        let old = service(
            "metadata: {name: a, uid: u1, resourceVersion: '1'}\nspec: {ports: [{port: 80}]}",
        );
        let same = Change::updated(&old, &old);
        assert!(!same.deletion_changed());
        assert!(!same.annotations_changed());
        assert!(!same.owner_references_changed());
        assert!(!same.uid_changed());
        assert!(!same.resource_version_changed());
        assert!(!same.spec_annotations_or_deletion_changed(|s| &s.spec));
        assert_eq!(
            same.old().map(|s| s.metadata.uid.as_deref()),
            Some(Some("u1"))
        );

        let mut status_only = old.clone();
        status_only.metadata.resource_version = Some("2".into());
        status_only.status = Some(Default::default());
        let change = Change::updated(&old, &status_only);
        assert!(change.resource_version_changed());
        assert!(!change.spec_annotations_or_deletion_changed(|s| &s.spec));

        let mut deleting = old.clone();
        deleting.metadata.deletion_timestamp =
            Some(serde_json::from_value(serde_json::json!("2026-01-01T00:00:00Z")).unwrap());
        let change = Change::updated(&old, &deleting);
        assert!(change.deletion_changed());
        assert!(change.spec_annotations_or_deletion_changed(|s| &s.spec));
        assert!(!change.annotations_changed());

        let mut respec = old.clone();
        respec.spec = None;
        assert!(Change::updated(&old, &respec).spec_annotations_or_deletion_changed(|s| &s.spec));
        let mut replaced = old.clone();
        replaced.metadata.uid = Some("u2".into());
        assert!(Change::updated(&old, &replaced).uid_changed());
        let mut owned = old.clone();
        owned.metadata.owner_references = Some(vec![Default::default()]);
        assert!(Change::updated(&old, &owned).owner_references_changed());
        assert!(!Change::updated(&old, &owned).deletion_changed());
    }
}
