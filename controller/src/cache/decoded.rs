//! [`Decoded`]: one object decoded on its own, so one that does not fit the model fails alone.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// One object of kind `K` as the API server sent it: decoded into our model, or not.
#[derive(Clone, Debug)]
pub enum Decoded<K> {
    Object(K),
    /// It does not fit our model: its metadata (for reports) and why.
    Undecodable {
        metadata: Box<ObjectMeta>,
        error: String,
    },
}

impl<'de, K: DeserializeOwned + Resource> Deserialize<'de> for Decoded<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Malformed JSON still fails the whole response, as it should; well-formed JSON that
        // does not fit `K` fails only this object. (Through a JSON tree rather than the raw
        // text: watch events are adjacently tagged, and serde buffers their object when it
        // comes before its type, which a raw value cannot survive.)
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(match K::deserialize(&value) {
            Ok(mut object) => {
                trim(object.meta_mut());
                Decoded::Object(object)
            }
            Err(error) => Decoded::Undecodable {
                metadata: Box::new(
                    value
                        .get("metadata")
                        .and_then(|m| ObjectMeta::deserialize(m).ok())
                        .unwrap_or_default(),
                ),
                error: error.to_string(),
            },
        })
    }
}

/// The annotation `kubectl apply` keeps the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what no controller reads but every cached object would carry: `managedFields` (one
/// entry per field manager, often larger than the spec) and `kubectl apply`'s copy of the whole
/// object. The caches are read-only views: every write is a patch of named fields, so nothing
/// dropped here is ever written back.
fn trim(metadata: &mut ObjectMeta) {
    metadata.managed_fields = None;
    if let Some(annotations) = &mut metadata.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// Lists and watches of `Decoded<K>` are those of `K`.
impl<K: Resource<DynamicType = ()>> Resource for Decoded<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn metadata_api() -> bool {
        K::metadata_api()
    }

    fn meta(&self) -> &ObjectMeta {
        match self {
            Decoded::Object(object) => object.meta(),
            Decoded::Undecodable { metadata, .. } => metadata,
        }
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Decoded::Object(object) => object.meta_mut(),
            Decoded::Undecodable { metadata, .. } => metadata,
        }
    }
}

/// Told about each object a cache skips because it does not fit the model: its metadata and
/// the decoding error.
pub type Undecodable = Arc<dyn Fn(&ObjectMeta, &str) + Send + Sync>;

/// What a cache reports about its work.
#[derive(Clone)]
pub struct Reports {
    pub undecodable: Undecodable,
    /// Told after each watch event has been stored and every listener told (so a counter it
    /// moves shows that the cache's subscribers have seen a change).
    pub handled: Arc<dyn Fn() + Send + Sync>,
}

impl Reports {
    /// Undecodable objects to `undecodable`, nothing else.
    pub fn undecodable(undecodable: impl Fn(&ObjectMeta, &str) + Send + Sync + 'static) -> Self {
        Reports {
            undecodable: Arc::new(undecodable),
            handled: Arc::new(|| {}),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;
    use kube::core::{ObjectList, WatchEvent};

    use super::*;

    #[test]
    fn lists_and_watch_events_decode_each_object_on_its_own() {
        let list: ObjectList<Decoded<Service>> = serde_json::from_str(
            &serde_json::json!({
                "apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "7"},
                "items": [
                    {"metadata": {"name": "good", "namespace": "ns"}, "spec": {"ports": [{"port": 80}]}},
                    {"metadata": {"name": "bad", "namespace": "ns"}, "spec": {"ports": [{"port": "eighty"}]}},
                ]
            })
            .to_string(),
        )
        .unwrap();
        assert!(
            matches!(&list.items[0], Decoded::Object(s) if s.meta().name.as_deref() == Some("good"))
        );
        let Decoded::Undecodable { metadata, error } = &list.items[1] else {
            panic!("{:?}", list.items[1]);
        };
        assert_eq!(metadata.name.as_deref(), Some("bad"));
        assert!(error.contains("eighty"), "{error}");

        let event: WatchEvent<Decoded<Service>> = serde_json::from_str(
            r#"{"type":"MODIFIED","object":{"metadata":{"name":"bad","namespace":"ns"},"spec":{"ports":7}}}"#,
        )
        .unwrap();
        assert!(matches!(
            event,
            WatchEvent::Modified(Decoded::Undecodable { .. })
        ));
        // Requests are those of the kind itself (metadata-only ones included).
        assert_eq!(Decoded::<Service>::plural(&()), "services");
        assert!(
            Decoded::<kube::core::PartialObjectMeta<Service>>::metadata_api()
                && !Decoded::<Service>::metadata_api()
        );
    }

    #[test]
    fn cached_objects_leave_managed_fields_and_last_applied_behind() {
        let event: WatchEvent<Decoded<Service>> = serde_json::from_str(
            &serde_json::json!({"type": "ADDED", "object": {"metadata": {
                "name": "web", "namespace": "ns",
                "annotations": {LAST_APPLIED: "{\"big\": true}", "keep": "me"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            }, "spec": {"ports": [{"port": 80}]}}})
            .to_string(),
        )
        .unwrap();
        let WatchEvent::Added(Decoded::Object(service)) = event else {
            panic!("{event:?}");
        };
        assert_eq!(service.metadata.managed_fields, None);
        assert_eq!(
            service.metadata.annotations,
            Some([("keep".to_owned(), "me".to_owned())].into())
        );
        assert!(service.spec.is_some());
    }
}
