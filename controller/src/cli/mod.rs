//! Command-line flags, named and defaulted like the Go original's, and their validation.
//!
//! Invalid combinations are reported together, before anything is loaded or connected.
//!
//! `mod.rs` holds the command line's shape (global flags, subcommands), `manager.rs` the
//! controller manager's flags, `validate.rs` their validation into [`Settings`].

mod manager;
#[cfg(test)]
mod tests;
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use manager::ManagerArgs;

#[cfg(doc)]
use crate::settings::Settings;
use crate::telemetry::LoggingFormat;

#[derive(Debug, Parser)]
#[command(
    name = "multicluster-provider",
    version,
    about = "Karmada multicluster cloud provider controller manager",
    long_about = "Watches MultiClusterIngress and MultiClusterService objects in the Karmada control plane and asks the cloud provider library named by --cloud-provider to create, update and delete their load balancers."
)]
pub struct Cli {
    #[command(flatten)]
    pub provider: ProviderArgs,

    #[command(flatten)]
    pub manager: ManagerArgs,

    /// Log verbosity, klog style: 0 errors, 1 warnings, 2 info (default), 4 debug, 5+ trace.
    /// RUST_LOG, when set, overrides it.
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        default_value_t = 2,
        value_name = "LEVEL"
    )]
    pub verbosity: u8,

    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LoggingFormat::Text)]
    pub logging_format: LoggingFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which provider library to load and how.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// The cloud provider to load: a name, looked up as libmcp_provider_<name>.so in the provider
    /// directories, or a path to a library.
    #[arg(
        long = "cloud-provider",
        visible_alias = "multicluster-provider",
        global = true,
        value_name = "NAME|PATH"
    )]
    pub cloud_provider: Option<String>,

    /// A directory to search for provider libraries; repeatable, searched in order before
    /// $MULTICLUSTER_PROVIDER_DIR and /usr/local/lib/multicluster-provider.
    #[arg(long = "provider-dir", global = true, value_name = "DIR")]
    pub provider_dirs: Vec<PathBuf>,

    /// The cloud provider configuration file, passed to the provider's factory.
    #[arg(long = "cloud-config", global = true, value_name = "FILE")]
    pub cloud_config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a provider library and print its name, versions and capabilities.
    Inspect(InspectArgs),
    /// Load a provider library and check that it honours the provider contract, without a
    /// cluster: a pass/fail table per capability and check, with per-method latencies.
    Verify(crate::verify::VerifyArgs),
    /// Print the version of this binary and of the provider interface it speaks.
    Version,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A provider name or library path (same as --cloud-provider).
    #[arg(value_name = "NAME|PATH")]
    pub target: Option<String>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
