//! Command-line flags, named and defaulted like the Go original's, and their validation.
//!
//! Invalid combinations are reported together, before anything is loaded or connected.
//!
//! Every flag of the Go original is accepted (its generic flag set, Karmada's profile and
//! rate-limiter flags, component-base's logging flags and `--feature-gates`), with Go's value
//! semantics; flag names are normalized as component-base does (`--leader_elect` is
//! `--leader-elect`).
//!
//! `mod.rs` holds the command line's shape (global flags, subcommands), `manager.rs` the
//! controller manager's flags, `logging.rs` the logging flags and feature gates, `values.rs`
//! the Go-style value parsers, `validate.rs` the validation into [`Settings`].

mod logging;
mod manager;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::duration::GoDuration;

pub use logging::LoggingArgs;
pub use manager::ManagerArgs;

#[cfg(doc)]
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "multicluster-provider",
    version,
    // pflag's rule: a flag given twice takes its last value.
    args_override_self = true,
    about = "Karmada multicluster cloud provider controller manager",
    long_about = "Watches MultiClusterIngress and MultiClusterService objects in the Karmada control plane and asks the cloud provider library named by --cloud-provider to create, update and delete their load balancers."
)]
pub struct Cli {
    #[command(flatten)]
    pub provider: ProviderArgs,

    #[command(flatten)]
    pub manager: ManagerArgs,

    #[command(flatten)]
    pub logging: LoggingArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the process's arguments, with flag names normalized as the Go original's
    /// (component-base's `WordSepNormalizeFunc`: `_` in a flag name reads as `-`). Run as
    /// `multicluster-provider-NAME` (the Go original's binary names, e.g. the image's
    /// `/bin/multicluster-provider-fake`), the provider defaults to NAME.
    pub fn parse_normalized() -> Self {
        let args: Vec<OsString> = std::env::args_os().collect();
        let mut cli = Cli::parse_from(normalize(args.iter().cloned()));
        if cli.provider.cloud_provider.is_none() {
            cli.provider.cloud_provider = args.first().and_then(provider_of_program);
        }
        cli
    }
}

/// `fake` for a program named `multicluster-provider-fake` (any directory).
pub fn provider_of_program(program: &OsString) -> Option<String> {
    let name = std::path::Path::new(program).file_name()?.to_str()?;
    name.strip_prefix("multicluster-provider-")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// `--leader_elect=false` as `--leader-elect=false`: `_` in the name of a `--` flag becomes `-`;
/// values and everything after a bare `--` are left alone.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut rest_is_positional = false;
    args.into_iter()
        .map(|arg| {
            if rest_is_positional {
                return arg;
            }
            let Some(text) = arg.to_str() else {
                return arg;
            };
            if text == "--" {
                rest_is_positional = true;
                return arg;
            }
            match text.strip_prefix("--") {
                Some(flag) => {
                    let (name, value) = match flag.split_once('=') {
                        Some((name, value)) => (name, Some(value)),
                        None => (flag, None),
                    };
                    let name = name.replace('_', "-");
                    OsString::from(match value {
                        Some(value) => format!("--{name}={value}"),
                        None => format!("--{name}"),
                    })
                }
                None => arg,
            }
        })
        .collect()
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

    /// Load the provider library even if a user other than root and the controller's own (or a
    /// group, or everyone) can write it or a directory above it. Development only.
    #[arg(long, global = true)]
    pub allow_insecure_provider_permissions: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a provider library and print its name, versions and capabilities.
    Inspect(InspectArgs),
    /// Load a provider library and check that it honours the provider contract, without a
    /// cluster: a pass/fail table per capability and check, with per-method latencies.
    Verify(VerifyArgs),
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

/// `multicluster-provider verify` flags.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// A provider name or library path (same as --cloud-provider).
    #[arg(value_name = "NAME|PATH")]
    pub target: Option<String>,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// List the provider calls a run makes and make none (the library is loaded and its factory
    /// runs with --cloud-config, as with `inspect`).
    #[arg(long)]
    pub dry_run: bool,

    /// Delete every balancer a run with these flags can have created (after an interrupted
    /// run), then exit.
    #[arg(long, conflicts_with = "dry_run")]
    pub cleanup: bool,

    /// Keep the balancers that failed checks left behind (by default they are deleted).
    #[arg(long)]
    pub keep: bool,

    /// The namespace of the objects the suite uses (their names start with `mcp-verify-`).
    #[arg(long, default_value = "mcp-verify", value_name = "NAMESPACE")]
    pub namespace: String,

    /// How many objects the parallel check handles at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub parallel: u16,

    /// Bound on one provider call, as the controller's flag of the same name.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub provider_call_timeout: GoDuration,

    /// A capability the provider must offer (repeatable, or a comma list): the run fails when
    /// the provider does not report it. A capability neither offered nor expected is a warning.
    #[arg(long, value_delimiter = ',', value_name = "CAPABILITY")]
    pub expect: Vec<CapabilityName>,
}

/// A provider capability, as `verify --expect` and the verify report name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum CapabilityName {
    /// MultiClusterIngress load balancers.
    #[value(name = "multiclusteringress")]
    MultiClusterIngress,
    /// MultiClusterService load balancers.
    #[value(name = "multiclusterservice")]
    MultiClusterService,
}

impl CapabilityName {
    pub const ALL: [CapabilityName; 2] = [
        CapabilityName::MultiClusterIngress,
        CapabilityName::MultiClusterService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CapabilityName::MultiClusterIngress => "multiclusteringress",
            CapabilityName::MultiClusterService => "multiclusterservice",
        }
    }
}
