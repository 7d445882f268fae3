//! Installing the Karmada API surface (the project's CRDs) into a control plane.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::Deserialize as _;

use crate::binaries::repo_root;
use crate::error::{Error, Result};

/// Field manager used for everything this crate applies.
pub const FIELD_MANAGER: &str = "mcp-testenv";
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// The project's CRD manifests: `deploy/crds/` of this repository.
pub fn crd_dir() -> PathBuf {
    repo_root().join("deploy/crds")
}

/// Reads every CRD in the `*.yaml` files of `dir` (sorted by file name).
pub fn load_crds(dir: &Path) -> Result<Vec<CustomResourceDefinition>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(Error::io(format!(
            "reading CRD directory {}",
            dir.display()
        )))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(Error::io(format!("reading {}", file.display())))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(document).map_err(|e| Error::Manifest {
                origin: file.display().to_string(),
                detail: e.to_string(),
            })?;
            if value.is_null() {
                continue;
            }
            let crd: CustomResourceDefinition =
                serde_json::from_value(value).map_err(|e| Error::Manifest {
                    origin: file.display().to_string(),
                    detail: format!("not a CustomResourceDefinition: {e}"),
                })?;
            crds.push(crd);
        }
    }
    Ok(crds)
}

/// Applies the project's CRDs ([`crd_dir`]) and waits until they are Established.
/// Returns the CRD names.
pub async fn install_crds(client: &Client) -> Result<Vec<String>> {
    install_crds_from(client, &crd_dir()).await
}

/// Applies the CRDs found in `dir` and waits until they are Established.
pub async fn install_crds_from(client: &Client, dir: &Path) -> Result<Vec<String>> {
    let crds = load_crds(dir)?;
    apply_crds(client, &crds).await
}

/// Server-side applies `crds` and waits until every one is Established.
pub async fn apply_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut crd = crd.clone();
        crd.metadata.resource_version = None;
        crd.status = None;
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(Error::kube(format!("applying CRD {name}")))?;
        names.push(name);
    }
    for name in &names {
        wait_established(&api, name).await?;
    }
    Ok(names)
}

async fn wait_established(api: &Api<CustomResourceDefinition>, name: &str) -> Result<()> {
    let deadline = Instant::now() + ESTABLISH_TIMEOUT;
    loop {
        let crd = api
            .get(name)
            .await
            .map_err(Error::kube(format!("reading CRD {name}")))?;
        let conditions = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            let detail = conditions
                .iter()
                .map(|c| {
                    format!(
                        "{}={} ({})",
                        c.type_,
                        c.status,
                        c.message.as_deref().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::CrdNotEstablished {
                name: name.into(),
                timeout: ESTABLISH_TIMEOUT,
                detail,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
