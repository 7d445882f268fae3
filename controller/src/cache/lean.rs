//! Decoding an object from its text without building its `metadata.managedFields`.
//!
//! The caches drop `managedFields` from every object they keep ([`super::decoded`]), but
//! decoding them first cost more than any other part of the object: one entry per field
//! manager, each with a `fieldsV1` tree of JSON values (a visible share of the controller's CPU in
//! the scale bench, where every MCI and MCS has three managers: docs/performance.md, "The
//! fourth pass"). [`from_str`] hands the
//! object's own decoder a view of the text in which `metadata` has no `managedFields` key: the
//! value is skipped by serde_json's scanner, which allocates nothing. Everything else reaches
//! the decoder as serde_json gives it, so an object decodes to what `serde_json::from_str`
//! gives, minus its managed fields, and errors say where in the text they are.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Decodes a `T` from JSON text, skipping the value of `metadata.managedFields` unread.
pub(super) fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Lean {
        inner: &mut deserializer,
        level: Level::Object,
    })?;
    deserializer.end()?;
    Ok(value)
}

/// Which map a wrapper stands for.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// The object: its `metadata` value is read through [`Level::Metadata`].
    Object,
    /// The object's metadata: its `managedFields` key is skipped.
    Metadata,
}

/// A deserializer whose maps (at its [`Level`]) are seen through [`LeanMap`].
struct Lean<D> {
    inner: D,
    level: Level,
}

/// Forwards `deserialize_*` methods to the inner deserializer, the visitor unchanged.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

/// Forwards `deserialize_*` methods to the inner deserializer, the visitor wrapped.
macro_rules! wrap {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let level = self.level;
            self.inner.$method($($arg,)* LeanVisitor { inner: visitor, level })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Lean<D> {
    type Error = D::Error;

    wrap! {
        deserialize_any(),
        deserialize_map(),
        deserialize_option(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_newtype_struct(name: &'static str),
    }

    forward! {
        deserialize_bool(), deserialize_i8(), deserialize_i16(), deserialize_i32(),
        deserialize_i64(), deserialize_i128(), deserialize_u8(), deserialize_u16(),
        deserialize_u32(), deserialize_u64(), deserialize_u128(), deserialize_f32(),
        deserialize_f64(), deserialize_char(), deserialize_str(), deserialize_string(),
        deserialize_bytes(), deserialize_byte_buf(), deserialize_unit(),
        deserialize_unit_struct(name: &'static str), deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(), deserialize_ignored_any(),
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor whose maps are seen through [`LeanMap`] (and whose `Some` or newtype contents
/// through [`Lean`]); everything else reaches the inner visitor as it is.
struct LeanVisitor<V> {
    inner: V,
    level: Level,
}

macro_rules! visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for LeanVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    visit! {
        visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str),
        visit_borrowed_str(&'de str), visit_string(String),
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let level = self.level;
        self.inner.visit_some(Lean { inner: d, level })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let level = self.level;
        self.inner.visit_newtype_struct(Lean { inner: d, level })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(LeanMap {
            inner: map,
            level: self.level,
            metadata_next: false,
        })
    }
}

/// An object's map (its `metadata` value read at [`Level::Metadata`]), or its metadata's map
/// (without `managedFields`).
struct LeanMap<A> {
    inner: A,
    level: Level,
    /// The key just read is the object's `metadata`.
    metadata_next: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LeanMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(Text(key)) = self.inner.next_key::<Text<'de>>()? else {
                return Ok(None);
            };
            if self.level == Level::Metadata && key == "managedFields" {
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            self.metadata_next = self.level == Level::Object && key == "metadata";
            return match key {
                Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                Cow::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
            }
            .map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        if std::mem::take(&mut self.metadata_next) {
            self.inner.next_value_seed(MetadataSeed(seed))
        } else {
            self.inner.next_value_seed(seed)
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// The object's `metadata` value, read at [`Level::Metadata`].
struct MetadataSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for MetadataSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Lean {
            inner: d,
            level: Level::Metadata,
        })
    }
}

/// A string (a map key here, a raw value's text in [`super::decoded`]), borrowed from the text
/// where it has no escapes.
pub(super) struct Text<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Service;
    use mcp_interface::api::networking::MultiClusterIngress;

    use super::*;

    fn managed(manager: &str) -> serde_json::Value {
        serde_json::json!({"manager": manager, "operation": "Update", "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:finalizers": {".": {}}}}})
    }

    #[test]
    fn objects_decode_as_serde_json_decodes_them_minus_managed_fields() {
        let service = serde_json::json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "managedFields": [managed("a"), managed("b")],
                         "labels": {"managedFields": "a label keeps its name", "metadata": "x"},
                         "annotations": {"k\u{e9}y\n": "escaped keys are owned"}},
            "spec": {"ports": [{"port": 80, "name": "metadata"}], "selector": {"metadata": "app"}}});
        let mci = serde_json::json!({"apiVersion": "networking.karmada.io/v1alpha1",
            "kind": "MultiClusterIngress",
            "metadata": {"managedFields": [managed("a")], "name": "web", "namespace": "ns"},
            "spec": {"rules": [{"host": "a.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}});
        fn check<T: DeserializeOwned + PartialEq + fmt::Debug + kube::Resource>(
            value: &serde_json::Value,
        ) {
            let mut expected: T = serde_json::from_value(value.clone()).unwrap();
            assert!(expected.meta().managed_fields.is_some());
            expected.meta_mut().managed_fields = None;
            // Compact and pretty text (escapes in keys are decoded into owned keys).
            for text in [
                value.to_string(),
                serde_json::to_string_pretty(value).unwrap(),
            ] {
                assert_eq!(from_str::<T>(&text).unwrap(), expected);
            }
        }
        check::<Service>(&service);
        check::<MultiClusterIngress>(&mci);
    }

    #[test]
    fn errors_are_serde_jsons_with_their_position() {
        // A type error inside the metadata, after the skipped managed fields.
        let text = r#"{"metadata": {"managedFields": [{"manager": "a"}], "name": 7}}"#;
        let error = from_str::<Service>(text).unwrap_err().to_string();
        assert!(
            error.contains("invalid type") && error.contains("line 1 column"),
            "{error}"
        );
        // Malformed text inside the skipped value, and trailing text, still fail.
        assert!(from_str::<Service>(r#"{"metadata": {"managedFields": [}]}}"#).is_err());
        assert!(from_str::<Service>(r#"{"metadata": {}} {}"#).is_err());
        // Not an object at all.
        let error = from_str::<Service>("[1]").unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
    }
}
