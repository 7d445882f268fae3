//! `inspect`: load a provider library as the controller would and describe it. Vendors use it
//! to check a build; it exits non-zero with the loader's error when the library would not load
//! (with `--json`, that error is a JSON document on stdout too).

use crate::cli::{InspectArgs, ProviderArgs};
use crate::provider::{error_json, load};

pub fn run(provider: &ProviderArgs, args: &InspectArgs) -> anyhow::Result<()> {
    let loaded = load(provider, args.target.as_deref());
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            if args.json {
                println!("{}", error_json(&e));
            }
            return Err(e);
        }
    };
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
