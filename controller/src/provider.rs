//! Loading the provider library the flags name (`--cloud-provider`, `--provider-dir`,
//! `--cloud-config`, `--allow-insecure-provider-permissions`): what the manager does at start-up
//! and what `inspect` and `verify` do before they describe or exercise it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mcp_loader::{LoadError, Provider, SearchPath};

use crate::cli::ProviderArgs;

/// Loads provider `name` (a name or a library path) as `--provider-dir`, `--cloud-config` and
/// `--allow-insecure-provider-permissions` say: what the controller manager does at start-up and
/// `inspect` does to describe it.
pub fn load_provider(
    name: &str,
    provider_dirs: &[PathBuf],
    cloud_config: Option<&Path>,
    allow_insecure_permissions: bool,
) -> anyhow::Result<Provider> {
    let config = read_cloud_config(cloud_config)?;
    let search =
        SearchPath::new(provider_dirs).allow_insecure_permissions(allow_insecure_permissions);
    Ok(mcp_loader::load(name, &search, config.as_deref())?)
}

/// Loads the provider `target` (a name or path; else `--cloud-provider`) as the controller
/// would: search path, checks, name, factory with the `--cloud-config` contents.
pub fn load(provider: &ProviderArgs, target: Option<&str>) -> anyhow::Result<Provider> {
    let target = target
        .or(provider.cloud_provider.as_deref())
        .ok_or(LoadError::NoProviderName)?;
    load_provider(
        target,
        &provider.provider_dirs,
        provider.cloud_config.as_deref(),
        provider.allow_insecure_provider_permissions,
    )
}

/// `{"error": {"reason": ..., "message": ...}}` for a failure to load: the loader's reason
/// (`not_found`, `incompatible_interface`, `factory`, ...) or `cloud_config`.
pub fn error_json(error: &anyhow::Error) -> serde_json::Value {
    let reason = error
        .downcast_ref::<LoadError>()
        .map_or("cloud_config", LoadError::reason);
    serde_json::json!({"error": {"reason": reason, "message": format!("{error:#}")}})
}

/// The `--cloud-config` file's contents, or `None` without the flag.
pub fn read_cloud_config(path: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|path| {
        std::fs::read(path)
            .with_context(|| format!("cannot read the --cloud-config file {}", path.display()))
    })
    .transpose()
}
