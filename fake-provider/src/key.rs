//! What a balancer is known by: its kind and its object's namespace and name ([`BalancerKey`]),
//! and the names of the methods called on it. The state and the call log hold these as strings
//! (`mci/<namespace>/<name>`, `<namespace>/<name>`, `mci_get`); they are written here only.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Which kind of object a balancer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Mci,
    Mcs,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Mci => "mci",
            Kind::Mcs => "mcs",
        }
    }
}

/// A load balancer method.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Method {
    Get,
    Ensure,
    Update,
    EnsureDeleted,
}

impl Method {
    /// The method's name in the call log and in faults: `mci_get`, ..., `mcs_ensure_deleted`.
    pub(crate) fn name(self, kind: Kind) -> String {
        let method = match self {
            Method::Get => "get",
            Method::Ensure => "ensure",
            Method::Update => "update",
            Method::EnsureDeleted => "ensure_deleted",
        };
        format!("{}_{method}", kind.prefix())
    }
}

/// One balancer: the kind and the namespace and name of the object it serves. Displayed as its
/// key in the state, `mci/<namespace>/<name>` or `mcs/<namespace>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BalancerKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl BalancerKey {
    pub fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        BalancerKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The balancer of the object `meta` describes.
    pub fn of(kind: Kind, meta: &ObjectMeta) -> Self {
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        BalancerKey::new(kind, namespace, meta.name.as_deref().unwrap_or_default())
    }

    /// The object, as the call log and faults name it: `<namespace>/<name>`.
    pub fn object(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for BalancerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind.prefix(), self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_method_names_keep_the_state_format() {
        let meta = ObjectMeta {
            namespace: Some("default".into()),
            name: Some("web".into()),
            ..Default::default()
        };
        let key = BalancerKey::of(Kind::Mcs, &meta);
        assert_eq!(key.to_string(), "mcs/default/web");
        assert_eq!(key.object(), "default/web");
        assert_eq!(Method::EnsureDeleted.name(Kind::Mci), "mci_ensure_deleted");
        assert_eq!(Method::Get.name(Kind::Mcs), "mcs_get");
    }
}
