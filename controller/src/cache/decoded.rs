//! [`Decoded`]: one object decoded on its own, so one that does not fit the model fails alone.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::lean::Text;

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
        // does not fit `K` fails only this object. To tell the two apart the object is first
        // read whole, then decoded: as its text where the deserializer can give it (serde_json
        // reading a response or a watch line, which then costs one pass and no copy), else as
        // a JSON tree.
        deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, DecodedVisitor(PhantomData))
    }
}

/// The name under which serde_json hands a value's text to a visitor instead of the value
/// (how its `RawValue` is read; needs its `raw_value` feature). A deserializer that does not
/// know it calls [`Visitor::visit_newtype_struct`] (or, for a map, [`Visitor::visit_map`]
/// with the object's own keys), and the object is read as a tree: slower, never wrong.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct DecodedVisitor<K>(PhantomData<K>);

impl<'de, K: DeserializeOwned + Resource> Visitor<'de> for DecodedVisitor<K> {
    type Value = Decoded<K>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        serde_json::Value::deserialize(d).map(from_tree)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(first) = map.next_key::<Text<'de>>()? else {
            return Ok(from_tree(serde_json::Value::Object(serde_json::Map::new())));
        };
        if first.0 == RAW_VALUE_TOKEN {
            let text: Text<'de> = map.next_value()?;
            return Ok(from_text(&text.0));
        }
        // The object itself, key by key.
        let mut object = serde_json::Map::new();
        object.insert(first.0.into_owned(), map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        Ok(from_tree(serde_json::Value::Object(object)))
    }
}

/// Decodes one object from its text (its managed fields left unread, see [`super::lean`]).
fn from_text<K: DeserializeOwned + Resource>(text: &str) -> Decoded<K> {
    match super::lean::from_str::<K>(text) {
        Ok(object) => decoded(object),
        Err(error) => {
            /// Only the metadata, when the rest does not fit.
            #[derive(Deserialize)]
            struct Metadata {
                metadata: Option<ObjectMeta>,
            }
            let metadata = serde_json::from_str::<Metadata>(text)
                .ok()
                .and_then(|m| m.metadata)
                .unwrap_or_default();
            undecodable(metadata, &error)
        }
    }
}

/// Decodes one object from its JSON tree.
fn from_tree<K: DeserializeOwned + Resource>(value: serde_json::Value) -> Decoded<K> {
    match K::deserialize(&value) {
        Ok(object) => decoded(object),
        Err(error) => {
            let metadata = value
                .get("metadata")
                .and_then(|m| ObjectMeta::deserialize(m).ok())
                .unwrap_or_default();
            undecodable(metadata, &error)
        }
    }
}

fn decoded<K: Resource>(mut object: K) -> Decoded<K> {
    trim(object.meta_mut());
    Decoded::Object(object)
}

fn undecodable<K>(metadata: ObjectMeta, error: &serde_json::Error) -> Decoded<K> {
    Decoded::Undecodable {
        metadata: Box::new(metadata),
        error: error.to_string(),
    }
}

/// The annotation `kubectl apply` keeps the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what no controller reads but every cached object would carry: `managedFields` (one
/// entry per field manager, often larger than the spec) and `kubectl apply`'s copy of the whole
/// object. The caches are read-only views: every write is a patch of named fields, so nothing
/// dropped here is ever written back. Objects a write returns are trimmed the same way
/// (`controllers::writes`), so a provider is always given the same shape of object.
pub fn trim(metadata: &mut ObjectMeta) {
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
    fn an_object_decodes_the_same_whatever_serde_hands_over() {
        let good = serde_json::json!({"metadata": {"name": "web", "namespace": "ns",
            "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {"ports": [{"port": 80}]}});
        let bad = serde_json::json!({"metadata": {"name": "bad", "namespace": "ns"},
            "spec": {"ports": 7}});
        // `read_as_text`: decoded from its text in one pass (whose errors say where), not
        // through a tree.
        let check = |good: Decoded<Service>, bad: Decoded<Service>, read_as_text: bool| {
            let Decoded::Object(service) = good else {
                panic!("{good:?}");
            };
            assert_eq!(service.metadata.name.as_deref(), Some("web"));
            assert_eq!(service.metadata.managed_fields, None);
            let Decoded::Undecodable { metadata, error } = bad else {
                panic!("{bad:?}");
            };
            assert_eq!(metadata.name.as_deref(), Some("bad"));
            assert!(error.contains("invalid type"), "{error}");
            assert_eq!(error.contains("at line 1 column"), read_as_text, "{error}");
        };
        // Its text, read in place (a response or a watch line).
        check(
            serde_json::from_str(&good.to_string()).unwrap(),
            serde_json::from_str(&bad.to_string()).unwrap(),
            true,
        );
        // Its text, from a reader.
        check(
            serde_json::from_reader(good.to_string().as_bytes()).unwrap(),
            serde_json::from_reader(bad.to_string().as_bytes()).unwrap(),
            true,
        );
        // A JSON tree (serde_json prints it to hand over its text).
        check(
            serde_json::from_value(good.clone()).unwrap(),
            serde_json::from_value(bad.clone()).unwrap(),
            true,
        );
        // A watch event whose object comes before its type: serde buffers the object, and
        // hands it over as a newtype.
        let event = |object: &serde_json::Value| -> Decoded<Service> {
            let text = format!(r#"{{"object":{object},"type":"MODIFIED"}}"#);
            match serde_json::from_str::<WatchEvent<Decoded<Service>>>(&text).unwrap() {
                WatchEvent::Modified(decoded) => decoded,
                other => panic!("{other:?}"),
            }
        };
        check(event(&good), event(&bad), false);
        // Malformed JSON still fails the whole response.
        assert!(serde_json::from_str::<Vec<Decoded<Service>>>(r#"[{"metadata": {]"#).is_err());
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
