//! Applying arbitrary manifests (multi-document YAML) through discovery, like `kubectl apply`.

use std::path::Path;

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client};
use serde::Deserialize as _;

use crate::crds::FIELD_MANAGER;
use crate::error::{Error, Result};

/// Parses multi-document YAML into objects (empty documents are skipped).
pub fn parse_manifests(yaml: &str, origin: &str) -> Result<Vec<DynamicObject>> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(document).map_err(|e| Error::Manifest {
            origin: origin.into(),
            detail: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_json::from_value(value).map_err(|e| Error::Manifest {
            origin: origin.into(),
            detail: format!("not a Kubernetes object: {e}"),
        })?;
        objects.push(object);
    }
    Ok(objects)
}

/// Server-side applies one object. The API resource is found through discovery; namespaced
/// objects without a namespace go to `default_namespace`. Returns the object as stored.
pub async fn apply_object(
    client: &Client,
    object: &DynamicObject,
    default_namespace: &str,
) -> Result<DynamicObject> {
    let types = object.types.as_ref().ok_or_else(|| Error::Manifest {
        origin: object.metadata.name.clone().unwrap_or_default(),
        detail: "apiVersion and kind are required".into(),
    })?;
    let gvk = GroupVersionKind::try_from(types).map_err(|e| Error::Manifest {
        origin: types.kind.clone(),
        detail: e.to_string(),
    })?;
    let name = object
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::Manifest {
            origin: gvk.kind.clone(),
            detail: "metadata.name is required".into(),
        })?;
    let (resource, capabilities) =
        discovery::pinned_kind(client, &gvk)
            .await
            .map_err(Error::kube(format!(
                "discovering {}/{}",
                types.api_version, types.kind
            )))?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object
                .metadata
                .namespace
                .as_deref()
                .unwrap_or(default_namespace);
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let mut object = object.clone();
    object.metadata.resource_version = None;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(Error::kube(format!("applying {} {name}", gvk.kind)))
}

/// Server-side applies every object of a multi-document YAML text, in order.
pub async fn apply_yaml(
    client: &Client,
    yaml: &str,
    origin: &str,
    default_namespace: &str,
) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for object in parse_manifests(yaml, origin)? {
        applied.push(apply_object(client, &object, default_namespace).await?);
    }
    Ok(applied)
}

/// Server-side applies the objects of one YAML file (or, for a directory, of all its `*.yaml`
/// files in name order).
pub async fn apply_path(
    client: &Client,
    path: &Path,
    default_namespace: &str,
) -> Result<Vec<DynamicObject>> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path)
            .map_err(Error::io(format!("reading {}", path.display())))?
            .flatten()
        {
            let file = entry.path();
            if file.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(file);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut applied = Vec::new();
    for file in files {
        let yaml = std::fs::read_to_string(&file)
            .map_err(Error::io(format!("reading {}", file.display())))?;
        applied.extend(
            apply_yaml(
                client,
                &yaml,
                &file.display().to_string(),
                default_namespace,
            )
            .await?,
        );
    }
    Ok(applied)
}
