//! `inspect`: load a provider library as the controller would and describe it. Vendors use it
//! to check a build; it exits non-zero with the loader's error when the library would not load.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mcp_loader::{Provider, SearchPath};

use crate::cli::{InspectArgs, ProviderArgs};

pub fn run(provider: &ProviderArgs, args: &InspectArgs) -> anyhow::Result<()> {
    let target = args
        .target
        .as_deref()
        .or(provider.cloud_provider.as_deref())
        .ok_or(mcp_loader::LoadError::NoProviderName)?;
    let loaded = load_provider(
        target,
        &provider.provider_dirs,
        provider.cloud_config.as_deref(),
    )?;
    let info = loaded.info();
    let capability = |supported: bool| {
        if supported {
            "supported"
        } else {
            "not supported"
        }
    };
    if args.json {
        let doc = serde_json::json!({
            "name": info.name,
            "library": info.path,
            "providerVersion": info.provider_version,
            "interfaceVersion": info.interface_version,
            "hostInterfaceVersion": mcp_interface::INTERFACE_VERSION,
            "capabilities": {
                "multiclusteringress": loaded.supports_multicluster_ingress(),
                "multiclusterservice": loaded.supports_multicluster_service(),
            },
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("provider:           {}", info.name);
        println!("library:            {}", info.path.display());
        println!("provider version:   {}", info.provider_version);
        println!(
            "interface version:  {} (this controller speaks {})",
            info.interface_version,
            mcp_interface::INTERFACE_VERSION
        );
        println!("capabilities:");
        println!(
            "  multiclusteringress:  {}",
            capability(loaded.supports_multicluster_ingress())
        );
        println!(
            "  multiclusterservice:  {}",
            capability(loaded.supports_multicluster_service())
        );
    }
    Ok(())
}

/// Loads provider `name` (a name or a library path) as `--provider-dir` and `--cloud-config`
/// say: what the controller manager does at start-up and `inspect` does to describe it.
pub fn load_provider(
    name: &str,
    provider_dirs: &[PathBuf],
    cloud_config: Option<&Path>,
) -> anyhow::Result<Provider> {
    let config = read_cloud_config(cloud_config)?;
    let search = SearchPath::new(provider_dirs);
    Ok(mcp_loader::load(name, &search, config.as_deref())?)
}

/// The `--cloud-config` file's contents, or `None` without the flag.
pub fn read_cloud_config(path: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|path| {
        std::fs::read(path)
            .with_context(|| format!("cannot read the --cloud-config file {}", path.display()))
    })
    .transpose()
}
