//! `multicluster-provider`: the Karmada multicluster cloud provider controller manager, with
//! the cloud provider loaded from a shared library at start-up.

mod cli;
mod inspect;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = telemetry::init(cli.verbosity, cli.logging_format) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Some(Command::Version) => {
            println!("{}", version_line());
            Ok(())
        }
        Some(Command::Inspect(args)) => inspect::run(&cli.provider, args),
        None => Err(anyhow::anyhow!(
            "no subcommand given: use `inspect` to check a provider library (the controllers are not part of this build yet)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One paragraph, no backtrace: the loader's errors say what to do.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn version_line() -> String {
    format!(
        "multicluster-provider {} (provider interface {})",
        env!("CARGO_PKG_VERSION"),
        mcp_interface::INTERFACE_VERSION
    )
}
