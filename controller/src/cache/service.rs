//! [`CachedService`]: a Service as the shared cache keeps it.
//!
//! No controller reads a Service's spec or status: they read its metadata (name, UID,
//! annotations, deletion) and ask whether its spec changed (the Go controllers' update
//! predicate). A decoded `Service` with its spec and status is several times larger in the
//! cache (the spec's selector map alone is a large part); this keeps the metadata and a digest
//! of the spec (docs/performance.md, "The second pass").

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// A Service's metadata and a digest of its spec. Lists and watches are those of `v1`
/// `services`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedService {
    pub metadata: ObjectMeta,
    /// A digest of `spec` as JSON: equal specs have equal digests; a different spec has a
    /// different one but for a 64-bit hash collision.
    pub spec_digest: u64,
}

/// The digest of a spec (`None`: the Service has none).
fn digest(spec: Option<&serde_json::Value>) -> u64 {
    let mut hasher = DefaultHasher::new();
    // A JSON tree's maps are ordered, so equal specs serialize to the same text.
    spec.map(|s| s.to_string()).hash(&mut hasher);
    hasher.finish()
}

impl<'de> Deserialize<'de> for CachedService {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: ObjectMeta,
            #[serde(default)]
            spec: Option<serde_json::Value>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(CachedService {
            metadata: wire.metadata,
            spec_digest: digest(wire.spec.as_ref()),
        })
    }
}

impl From<&Service> for CachedService {
    fn from(service: &Service) -> Self {
        let spec = service
            .spec
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        CachedService {
            metadata: service.metadata.clone(),
            spec_digest: digest(spec.as_ref()),
        }
    }
}

impl Resource for CachedService {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Service::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        Service::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        Service::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        Service::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(json: serde_json::Value) -> CachedService {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_a_spec_change_changes_the_digest() {
        let web = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
        });
        let cached = decoded(web.clone());
        assert_eq!(cached.metadata.uid.as_deref(), Some("u1"));
        let mut status = web.clone();
        status["metadata"]["resourceVersion"] = "2".into();
        status["status"] = serde_json::json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
        assert_eq!(decoded(status).spec_digest, cached.spec_digest);
        let mut port = web.clone();
        port["spec"]["ports"][0]["port"] = 81.into();
        assert_ne!(decoded(port).spec_digest, cached.spec_digest);
        let mut no_spec = web;
        no_spec.as_object_mut().unwrap().remove("spec");
        assert_ne!(decoded(no_spec).spec_digest, cached.spec_digest);
        // The same digest from a typed Service as from the wire.
        let typed: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "1"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
        }))
        .unwrap();
        assert_eq!(CachedService::from(&typed), cached);
    }

    #[test]
    fn lists_and_watches_are_those_of_services() {
        assert_eq!(CachedService::plural(&()), "services");
        assert_eq!(CachedService::api_version(&()), "v1");
        assert_eq!(CachedService::kind(&()), "Service");
    }
}
