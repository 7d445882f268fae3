//! `multicluster-provider`: the Karmada multicluster cloud provider controller manager, with
//! the cloud provider loaded from a shared library at start-up.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use multicluster_provider::cli::{Cli, Command};
use multicluster_provider::{inspect, manager, telemetry, verify, version_line};

fn main() -> ExitCode {
    let cli = Cli::parse_normalized();
    let logging = match cli.logging.settings() {
        Ok(logging) => logging,
        Err(errors) => return invalid_flags(errors),
    };
    let _logs = match telemetry::init(&logging) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Some(Command::Version) => {
            println!("{}", version_line());
            Ok(())
        }
        Some(Command::Inspect(args)) => inspect::run(&cli.provider, args),
        Some(Command::Verify(args)) => verify::run(&cli.provider, args),
        None => {
            let settings = match cli.settings() {
                Ok(settings) => settings,
                Err(errors) => return invalid_flags(errors),
            };
            match tokio::runtime::Runtime::new() {
                Ok(runtime) => {
                    let result = runtime.block_on(manager::run(settings));
                    // Provider calls run on threads of their own (a hung one does not hold up
                    // the exit); a blocking task still running must not either.
                    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
                    result
                }
                Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One paragraph, no backtrace: the errors say what to do.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every problem with the flags at once, exit code 2.
fn invalid_flags(errors: Vec<String>) -> ExitCode {
    eprintln!("error: invalid flags:");
    for e in errors {
        eprintln!("  - {e}");
    }
    eprintln!("Run with --help for the flags and their defaults.");
    ExitCode::from(2)
}
