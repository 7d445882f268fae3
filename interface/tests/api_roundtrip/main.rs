//! Wire compatibility of the Karmada API types: realistic objects (the project's `examples/` and
//! `tests/data/`) must survive YAML -> typed -> JSON unchanged, so a field that is dropped,
//! renamed or mis-cased fails here.//!
//! The objects one by one, field by field, are in `objects.rs`; what the types promise beyond
//! their fields (type meta, k8s-openapi's traits, JSON schemas) in `type_meta.rs`.

#![forbid(unsafe_code)]

mod objects;
mod type_meta;

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use mcp_interface::api::cluster::Cluster;
use mcp_interface::api::mcs::{ServiceExport, ServiceImport};
use mcp_interface::api::networking::{MultiClusterIngress, MultiClusterService};
use mcp_interface::api::policy::{ClusterPropagationPolicy, PropagationPolicy};
use mcp_interface::api::work::{ClusterResourceBinding, ResourceBinding};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// The YAML documents of a file (empty documents skipped).
fn documents(path: &Path) -> Vec<serde_yaml::Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

/// YAML -> typed -> JSON must equal YAML -> JSON exactly; typed -> JSON -> typed must be
/// lossless too.
fn round_trip<T>(doc: &serde_yaml::Value, origin: &str) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let expected: Value = serde_json::to_value(doc).expect("YAML document as JSON");
    let typed: T = serde_yaml::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{origin}: YAML -> {}: {e}", std::any::type_name::<T>()));
    let actual = serde_json::to_value(&typed).expect("typed -> JSON");
    if actual != expected {
        let mut differences = Vec::new();
        diff("", &expected, &actual, &mut differences);
        panic!(
            "{origin}: round trip changed the object:\n  {}",
            differences.join("\n  ")
        );
    }
    let again: T = serde_json::from_value(actual).expect("JSON -> typed");
    assert_eq!(
        again, typed,
        "{origin}: typed -> JSON -> typed changed the object"
    );
    let from_text: T =
        serde_json::from_str(&serde_json::to_string(&typed).unwrap()).expect("JSON text -> typed");
    assert_eq!(from_text, typed, "{origin}: typed -> JSON text -> typed");
    typed
}

/// Collects the JSON paths where `after` differs from `before`.
fn diff(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, value) in b {
                match a.get(key) {
                    Some(other) => diff(&format!("{path}.{key}"), value, other, out),
                    None => out.push(format!("{path}.{key}: dropped (was {value})")),
                }
            }
            for (key, value) in a {
                if !b.contains_key(key) {
                    out.push(format!("{path}.{key}: added ({value})"));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (x, y)) in b.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if before != after => out.push(format!("{path}: {before} became {after}")),
        _ => {}
    }
}

/// Round-trips one document with the type its `kind` names.
fn round_trip_document(doc: &serde_yaml::Value, origin: &str) {
    let kind = doc
        .get("kind")
        .and_then(serde_yaml::Value::as_str)
        .unwrap_or_else(|| panic!("{origin}: document without kind"));
    match kind {
        "MultiClusterIngress" => drop(round_trip::<MultiClusterIngress>(doc, origin)),
        "MultiClusterService" => drop(round_trip::<MultiClusterService>(doc, origin)),
        "ResourceBinding" => drop(round_trip::<ResourceBinding>(doc, origin)),
        "ClusterResourceBinding" => drop(round_trip::<ClusterResourceBinding>(doc, origin)),
        "PropagationPolicy" => drop(round_trip::<PropagationPolicy>(doc, origin)),
        "ClusterPropagationPolicy" => drop(round_trip::<ClusterPropagationPolicy>(doc, origin)),
        "Cluster" => drop(round_trip::<Cluster>(doc, origin)),
        "ServiceExport" => drop(round_trip::<ServiceExport>(doc, origin)),
        "ServiceImport" => drop(round_trip::<ServiceImport>(doc, origin)),
        // Kubernetes kinds in the examples: k8s-openapi's types, for completeness.
        "Deployment" => drop(round_trip::<k8s_openapi::api::apps::v1::Deployment>(
            doc, origin,
        )),
        "Service" => drop(round_trip::<k8s_openapi::api::core::v1::Service>(
            doc, origin,
        )),
        "IngressClass" => {
            drop(round_trip::<k8s_openapi::api::networking::v1::IngressClass>(doc, origin))
        }
        other => panic!("{origin}: no round-trip type for kind {other}; add it here"),
    }
}

/// Round-trips the single document of `tests/data/<name>` as `T`.
fn data<T>(name: &str) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let path = data_dir().join(name);
    let docs = documents(&path);
    assert_eq!(docs.len(), 1, "{name}: expected one document");
    round_trip(&docs[0], name)
}

#[test]
fn every_example_round_trips() {
    let files = yaml_files(&examples_dir());
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    for expected in ["application.yaml", "ingressclass-fake.yaml", "mci.yaml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing"
        );
    }
    for file in files {
        for (i, doc) in documents(&file).iter().enumerate() {
            round_trip_document(doc, &format!("{} #{i}", file.display()));
        }
    }
}

#[test]
fn every_data_file_round_trips() {
    let files = yaml_files(&data_dir());
    assert!(files.len() >= 15, "tests/data lost files: {files:?}");
    for file in files {
        for (i, doc) in documents(&file).iter().enumerate() {
            round_trip_document(doc, &format!("{} #{i}", file.display()));
        }
    }
}
