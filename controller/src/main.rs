//! `multicluster-provider`: the Karmada multicluster cloud provider controller manager, with
//! the cloud provider loaded from a shared library at start-up.

// One `unsafe` item, jemalloc's settings (see `MALLOC_CONF`); the library crate forbids it.
#![deny(unsafe_code)]

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
/// and the connections and caches on the workers, and the scale bench took more CPU and longer
/// to converge than on one thread (docs/performance.md, "The third pass"). A thread that does
/// not keep up would show in `workqueue_queue_duration_seconds`.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The allocator of the whole process: jemalloc, built in, which the C library and provider
/// libraries use too (it provides `malloc` and `free` themselves).
///
/// With glibc's malloc the resident memory stayed well above the live heap after a start-up
/// burst: freed memory stayed spread over holes and per-thread arenas. jemalloc, with the
/// settings of [`MALLOC_CONF`], keeps the peak lower, the more so the more objects
/// (docs/performance.md, "The third pass").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: one arena (the controller runs on one thread; the
/// provider-call threads allocate little), and freed pages handed back to the system at once
/// instead of after 10 s, so a burst's garbage does not add to the peak. `MALLOC_CONF` in the
/// environment is read after these and wins (docs/operators.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
// SAFETY: jemalloc reads this symbol as a `const char *malloc_conf`: a reference to a byte
// array is one pointer, to a NUL-terminated string that lives as long as the process.
#[unsafe(export_name = "malloc_conf")]
static MALLOC_CONF: &[u8; 44] = b"dirty_decay_ms:0,muzzy_decay_ms:0,narenas:1\0";

/// Every problem with the flags at once, exit code 2.
fn invalid_flags(errors: Vec<String>) -> ExitCode {
    eprintln!("error: invalid flags:");
    for e in errors {
        eprintln!("  - {e}");
    }
    eprintln!("Run with --help for the flags and their defaults.");
    ExitCode::from(2)
}
