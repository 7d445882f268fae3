//! Command-line flags, named like the Go original's where it has them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "multicluster-provider",
    version,
    about = "Karmada multicluster cloud provider controller manager"
)]
pub struct Cli {
    #[command(flatten)]
    pub provider: ProviderArgs,

    /// Log verbosity: 0-1 warnings and errors... 2 info (default), 4 debug, 5+ trace.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoggingFormat {
    Text,
    Json,
}

/// Which provider library to load and how.
#[derive(Debug, Args)]
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
