//! `multicluster-provider`: the Karmada multicluster cloud provider controller manager, with
//! the cloud provider loaded from a shared library at start-up.

// One `unsafe` call, into the C library (see `limit_malloc_arenas`); the library crate forbids it.
#![deny(unsafe_code)]

use std::process::ExitCode;

use multicluster_provider::cli::{Cli, Command};
use multicluster_provider::{inspect, manager, telemetry, verify, version_line};

fn main() -> ExitCode {
    limit_malloc_arenas();
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
            match runtime() {
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

/// The async runtime: one thread.
///
/// The controller's work is I/O bound (the API server's requests and watches; provider calls run
/// on threads of their own, `mcp_loader`), and on one thread no task is ever woken across
/// threads. With tokio's default of a worker per core, the controllers ran on the main thread
/// and the connections and caches on the workers: at 3000 MCIs + MCSs + Services (the scale
/// bench) that took 7.4 CPU seconds and 26.9 s to converge, on one thread 5.3 and 21.6-23.3 s
/// (docs/performance.md). A thread that does not keep up would show in
/// `workqueue_queue_duration_seconds`; at 10 000 objects it is busy about a fifth of the time.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// How many malloc arenas glibc may create (its default is 8 per core).
const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`], unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives each new thread that allocates its own arena, up to 8 per core, and an arena
/// keeps the memory it once held. Provider calls run on threads of their own, a dozen of them
/// in a start-up burst, so freed memory was spread over a dozen arenas none of which could
/// reuse the others': at 3000 MCIs + MCSs + Services the peak RSS was 58.6 MiB with the default and
/// 53.6 MiB with two arenas (see docs/performance.md). The controller allocates little per
/// second, so two arenas cost no measurable time in lock contention.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    // glibc's M_ARENA_MAX (malloc.h).
    const M_ARENA_MAX: i32 = -8;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc tunable; it is called first thing in main, before
        // any thread exists, and a refused value (return 0) leaves glibc's default in place.
        unsafe {
            mallopt(M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Every problem with the flags at once, exit code 2.
fn invalid_flags(errors: Vec<String>) -> ExitCode {
    eprintln!("error: invalid flags:");
    for e in errors {
        eprintln!("  - {e}");
    }
    eprintln!("Run with --help for the flags and their defaults.");
    ExitCode::from(2)
}
