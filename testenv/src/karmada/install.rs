//! Installing Karmada's API surface from the pinned Karmada module, as
//! `hack/deploy-karmada.sh` does: its CRDs through their kustomization (with the
//! conversion-webhook patches), the APIService of karmada-aggregated-apiserver, the webhook
//! configurations, and the RBAC manifests. Only addresses and `caBundle`s are filled in.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde::Deserialize as _;
use serde_json::Value;

use crate::apply::{apply_yaml, parse_manifests};
use crate::crds::apply_crds;
use crate::error::{Error, Result};

/// Where Karmada's CRD kustomization lives in the module.
const CRDS: &str = "charts/karmada/_crds";
/// Where Karmada's component manifests live in the module.
const MANIFESTS: &str = "artifacts/deploy";
/// The webhook address in Karmada's manifests (a Service in the host cluster).
const MANIFEST_WEBHOOK_URL: &str = "https://karmada-webhook.karmada-system.svc:443";
/// The conversion webhook address in the CRD patches.
const PATCH_WEBHOOK_URL: &str = "https://{{name}}.{{namespace}}.svc:443";
/// The APIService karmada-aggregated-apiserver serves.
pub(super) const CLUSTER_APISERVICE: &str = "v1alpha1.cluster.karmada.io";

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))
}

fn yaml_documents(text: &str, origin: &Path) -> Result<Vec<Value>> {
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| Error::Manifest {
            origin: origin.display().to_string(),
            detail: e.to_string(),
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// RFC 7386 JSON merge patch (what a kustomize patch of a CRD's maps amounts to).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Karmada's CRDs as its kustomization lists them, with its patches applied and the
/// conversion webhook pointed at `webhook_url` (trusting `ca_bundle`).
pub(super) fn karmada_crds(
    module_dir: &Path,
    webhook_url: &str,
    ca_bundle: &str,
) -> Result<Vec<CustomResourceDefinition>> {
    let base = module_dir.join(CRDS);
    let kustomization_file = base.join("kustomization.yaml");
    let kustomization: Value =
        serde_yaml::from_str(&read(&kustomization_file)?).map_err(|e| Error::Manifest {
            origin: kustomization_file.display().to_string(),
            detail: e.to_string(),
        })?;
    let list = |key: &str| -> Vec<String> {
        kustomization[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().or_else(|| item["path"].as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut crds = Vec::new();
    for resource in list("resources") {
        let path = base.join(&resource);
        crds.extend(yaml_documents(&read(&path)?, &path)?);
    }
    for patch_path in list("patches") {
        let path = base.join(&patch_path);
        let text = read(&path)?
            .replace(PATCH_WEBHOOK_URL, webhook_url)
            .replace("{{caBundle}}", ca_bundle);
        for patch in yaml_documents(&text, &path)? {
            let name = patch["metadata"]["name"].as_str().unwrap_or_default();
            let target = crds
                .iter_mut()
                .find(|crd| crd["metadata"]["name"].as_str() == Some(name))
                .ok_or_else(|| Error::Manifest {
                    origin: path.display().to_string(),
                    detail: format!("patches CRD {name}, which the kustomization does not list"),
                })?;
            merge(target, &patch);
        }
    }
    crds.into_iter()
        .map(|crd| {
            serde_json::from_value(crd).map_err(|e| Error::Manifest {
                origin: base.display().to_string(),
                detail: format!("not a CustomResourceDefinition: {e}"),
            })
        })
        .collect()
}

/// Applies Karmada's CRDs (see [`karmada_crds`]) and waits until they are Established.
pub(super) async fn install_crds(
    client: &Client,
    module_dir: &Path,
    webhook_url: &str,
    ca_bundle: &str,
) -> Result<Vec<String>> {
    let crds = karmada_crds(module_dir, webhook_url, ca_bundle)?;
    apply_crds(client, &crds).await
}

/// Applies one manifest of `artifacts/deploy/` as it is.
pub(super) async fn apply_module_manifest(
    client: &Client,
    module_dir: &Path,
    file: &str,
) -> Result<()> {
    let path = module_dir.join(MANIFESTS).join(file);
    apply_yaml(
        client,
        &read(&path)?,
        &path.display().to_string(),
        "default",
    )
    .await?;
    Ok(())
}

/// Registers karmada-aggregated-apiserver with Karmada's APIService manifest. The manifest's
/// Service is an ExternalName for the in-cluster name; here it names `localhost`, and the
/// APIService's port is the server's, so the API server reaches it on loopback while still
/// verifying the certificate for `karmada-aggregated-apiserver.karmada-system.svc`.
pub(super) async fn register_aggregated_apiserver(
    client: &Client,
    module_dir: &Path,
    port: u16,
    ca_bundle: &str,
) -> Result<()> {
    let path = module_dir
        .join(MANIFESTS)
        .join("karmada-aggregated-apiserver-apiservice.yaml");
    let text = read(&path)?.replace("{{caBundle}}", ca_bundle);
    let origin = path.display().to_string();
    for mut object in parse_manifests(&text, &origin)? {
        let kind = object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_default();
        match kind.as_str() {
            "APIService" => object.data["spec"]["service"]["port"] = port.into(),
            "Service" => object.data["spec"]["externalName"] = "localhost".into(),
            _ => {}
        }
        crate::apply::apply_object(client, &object, "karmada-system").await?;
    }
    Ok(())
}

/// `Ok` once the APIService of karmada-aggregated-apiserver is Available.
pub(super) async fn apiservice_available(client: &Client) -> std::result::Result<(), String> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService"),
        "apiservices",
    );
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let service = api
        .get(CLUSTER_APISERVICE)
        .await
        .map_err(|e| format!("reading APIService {CLUSTER_APISERVICE}: {e}"))?;
    let conditions = service.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match conditions.iter().find(|c| c["type"] == "Available") {
        Some(c) if c["status"] == "True" => Ok(()),
        Some(c) => Err(format!(
            "Available={} ({})",
            c["status"].as_str().unwrap_or("?"),
            c["message"].as_str().unwrap_or_default()
        )),
        None => Err("no Available condition yet".into()),
    }
}

/// Applies Karmada's Mutating- and ValidatingWebhookConfiguration, calling karmada-webhook at
/// `webhook_url` and trusting `ca_bundle`.
pub(super) async fn register_webhooks(
    client: &Client,
    module_dir: &Path,
    webhook_url: &str,
    ca_bundle: &str,
) -> Result<()> {
    let path = module_dir
        .join(MANIFESTS)
        .join("webhook-configuration.yaml");
    let text = read(&path)?
        .replace(MANIFEST_WEBHOOK_URL, webhook_url)
        .replace("{{caBundle}}", ca_bundle);
    if text.contains("{{") {
        return Err(Error::Manifest {
            origin: path.display().to_string(),
            detail: "has placeholders this Karmada mode does not know how to fill".into(),
        });
    }
    apply_yaml(client, &text, &path.display().to_string(), "default").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_replaces_adds_and_removes() {
        let mut target = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(
            &mut target,
            &serde_json::json!({"a": {"b": 3, "c": null, "e": 4}, "d": [2]}),
        );
        assert_eq!(target, serde_json::json!({"a": {"b": 3, "e": 4}, "d": [2]}));
    }
}
