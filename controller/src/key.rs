//! [`ObjectKey`]: the one way the controller names an object it reconciles (in the backoff, the
//! workqueue metrics, the admission of requests and serviceexport-propagation's key store).
//! Converted from and to kube's `ObjectRef` and object metadata here, and nowhere else.

use std::fmt;

use kube::Resource;
use kube::runtime::reflector::ObjectRef;

/// An object's namespace (none for cluster-scoped kinds) and name. Displayed `namespace/name`,
/// or `name` alone without a namespace, as Go's `types.NamespacedName`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The key of an object in `namespace`.
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        ObjectKey::new(Some(namespace), name)
    }

    /// The key of `object`, from its metadata.
    pub fn of<K: Resource>(object: &K) -> Self {
        let meta = object.meta();
        ObjectKey::new(
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// The reconcile request for this object.
    pub fn to_ref<K: Resource<DynamicType = ()>>(&self) -> ObjectRef<K> {
        let object = ObjectRef::new(&self.name);
        match &self.namespace {
            Some(namespace) => object.within(namespace),
            None => object,
        }
    }
}

impl<K: Resource> From<&ObjectRef<K>> for ObjectKey {
    fn from(object: &ObjectRef<K>) -> Self {
        ObjectKey::new(object.namespace.as_deref(), &object.name)
    }
}

impl<K: Resource> From<ObjectRef<K>> for ObjectKey {
    fn from(object: ObjectRef<K>) -> Self {
        ObjectKey {
            namespace: object.namespace,
            name: object.name,
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;
    use mcp_interface::api::cluster::Cluster;

    use super::*;

    #[test]
    fn converts_to_and_from_requests_and_displays_as_go() {
        let namespaced = ObjectKey::new(Some("ns"), "web");
        assert_eq!(namespaced.to_string(), "ns/web");
        let request: ObjectRef<Service> = namespaced.to_ref();
        assert_eq!(request, ObjectRef::new("web").within("ns"));
        assert_eq!(ObjectKey::from(&request), namespaced);
        assert_eq!(ObjectKey::from(request), namespaced);

        let cluster = ObjectKey::new(None, "member1");
        assert_eq!(cluster.to_string(), "member1");
        assert_eq!(cluster.to_ref::<Cluster>(), ObjectRef::new("member1"));
    }
}
