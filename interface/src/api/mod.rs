//! The Karmada v1.16 API types the controller and the providers share.
//!
//! One module per API group. Top-level kinds behave like k8s-openapi types: they implement
//! [`k8s_openapi::Resource`], [`k8s_openapi::ListableResource`] and [`k8s_openapi::Metadata`]
//! (so kube's blanket `kube::Resource` impl applies to them in crates that use kube), and they
//! serialize with `apiVersion` and `kind` first.
//!
//! Every field Karmada puts on the wire is modelled, not only those the controller reads, so an
//! object read from the apiserver serializes back to the same JSON. String enums (exposure types,
//! sync modes, purge modes, ...) are plain `String`s with constants for the known values: the CRDs
//! do not restrict most of them, and an unknown value must survive a read-modify-write.
//!
//! Fields of Go's non-pointer structs with `omitempty` (`placement`, `range`, `status`, ...) are
//! `Option`s here: Go always sends them (as `{}`), and `Some(Default::default())` keeps that `{}`.

pub mod cluster;
pub mod constants;
pub mod mcs;
pub mod networking;
pub mod policy;
pub mod work;

/// A Kubernetes resource list: resource name (`cpu`, `memory`, `pods`, ...) to quantity.
pub type ResourceList =
    std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;

/// Declares a top-level kind: the struct, its k8s-openapi traits, and a Serialize/Deserialize
/// that writes and checks `apiVersion`/`kind` the way k8s-openapi's generated code does.
///
/// Each field after `metadata` is `optional` (an `Option`, omitted when `None`) or `required`
/// (always written; a missing key is an error, as with kube-derive's `spec`).
macro_rules! karmada_resource {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            group: $group:literal,
            version: $version:literal,
            kind: $kind:literal,
            plural: $plural:literal,
            scope: $scope:ident,
        }
        fields {
            $(
                $(#[$fattr:meta])*
                $field:ident: $presence:ident $ty:ty = $json:literal,
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            $(
                $(#[$fattr])*
                pub $field: $crate::api::karmada_resource!(@ty $presence $ty),
            )*
        }

        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = concat!($kind, "List");
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let len = 3 $( + usize::from($crate::api::karmada_resource!(@present $presence self.$field)) )*;
                let mut state = serializer.serialize_struct($kind, len)?;
                state.serialize_field("apiVersion", <Self as k8s_openapi::Resource>::API_VERSION)?;
                state.serialize_field("kind", <Self as k8s_openapi::Resource>::KIND)?;
                state.serialize_field("metadata", &self.metadata)?;
                $( $crate::api::karmada_resource!(@ser $presence state, $json, self.$field); )*
                state.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;

                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($kind)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut metadata = None;
                        $( let mut $field: Option<$ty> = None; )*
                        // Keys and the apiVersion and kind values are read where they lie in
                        // the input when they can be, not copied into strings first.
                        while let Some(key) = map.next_key::<$crate::api::Text<'de>>()? {
                            match key.0.as_ref() {
                                "apiVersion" => $crate::api::expect_str::<A>(
                                    map.next_value()?,
                                    <$name as k8s_openapi::Resource>::API_VERSION,
                                )?,
                                "kind" => $crate::api::expect_str::<A>(
                                    map.next_value()?,
                                    <$name as k8s_openapi::Resource>::KIND,
                                )?,
                                "metadata" => metadata = map.next_value()?,
                                $( $json => $field = map.next_value()?, )*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok($name {
                            metadata: metadata.unwrap_or_default(),
                            $( $field: $crate::api::karmada_resource!(@finish $presence $field, $json), )*
                        })
                    }
                }

                deserializer.deserialize_struct(
                    $kind,
                    &["apiVersion", "kind", "metadata", $($json),*],
                    Visitor,
                )
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $kind.into()
            }

            fn schema_id() -> std::borrow::Cow<'static, str> {
                concat!($group, "/", $version, "/", $kind).into()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut properties = serde_json::Map::new();
                properties.insert("apiVersion".into(), serde_json::json!({ "type": "string" }));
                properties.insert("kind".into(), serde_json::json!({ "type": "string" }));
                properties.insert(
                    "metadata".into(),
                    generator
                        .subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>()
                        .to_value(),
                );
                #[allow(unused_mut)]
                let mut required: Vec<&str> = Vec::new();
                $(
                    properties.insert($json.into(), generator.subschema_for::<$ty>().to_value());
                    if $crate::api::karmada_resource!(@is_required $presence) {
                        required.push($json);
                    }
                )*
                schemars::json_schema!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                })
            }
        }
    };

    (@ty optional $ty:ty) => { Option<$ty> };
    (@ty required $ty:ty) => { $ty };

    (@present optional $value:expr) => { $value.is_some() };
    (@present required $value:expr) => { true };

    (@is_required optional) => { false };
    (@is_required required) => { true };

    (@ser optional $state:ident, $json:literal, $value:expr) => {
        if let Some(value) = &$value {
            $state.serialize_field($json, value)?;
        }
    };
    (@ser required $state:ident, $json:literal, $value:expr) => {
        $state.serialize_field($json, &$value)?;
    };

    (@finish optional $field:ident, $json:literal) => { $field };
    (@finish required $field:ident, $json:literal) => {
        $field.ok_or_else(|| <A::Error as serde::de::Error>::missing_field($json))?
    };
}
pub(crate) use karmada_resource;

/// A string borrowed from the input when the format allows (no escapes), else owned.
pub(crate) struct Text<'de>(pub std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

/// Checks a string field (`apiVersion`, `kind`) of a top-level kind against the expected value.
pub(crate) fn expect_str<'de, A: serde::de::MapAccess<'de>>(
    value: Text<'_>,
    expected: &'static str,
) -> Result<(), A::Error> {
    if value.0 == expected {
        Ok(())
    } else {
        Err(<A::Error as serde::de::Error>::invalid_value(
            serde::de::Unexpected::Str(&value.0),
            &expected,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::networking::MultiClusterIngress;

    #[test]
    fn escaped_keys_and_values_read_like_plain_ones_and_a_wrong_kind_is_refused() {
        let plain = r#"{"apiVersion":"networking.karmada.io/v1alpha1","kind":"MultiClusterIngress","metadata":{"name":"web"}}"#;
        let escaped = r#"{"api\u0056ersion":"networking.karmada.io\/v1alpha1","\u006bind":"MultiClusterIngress","metadata":{"name":"web"}}"#;
        let a: MultiClusterIngress = serde_json::from_str(plain).unwrap();
        let b: MultiClusterIngress = serde_json::from_str(escaped).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.metadata.name.as_deref(), Some("web"));
        // Read from a reader, nothing can be borrowed: the same object.
        let c: MultiClusterIngress = serde_json::from_reader(escaped.as_bytes()).unwrap();
        assert_eq!(a, c);
        let wrong = plain.replace("\"MultiClusterIngress\"", "\"MultiClusterService\"");
        let error = serde_json::from_str::<MultiClusterIngress>(&wrong).unwrap_err();
        assert!(error.to_string().contains("MultiClusterService"), "{error}");
    }
}
