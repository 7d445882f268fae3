//! Logging set-up: `tracing` with the level from `-v` (or `RUST_LOG` when set) and a text or
//! JSON format. Provider libraries' events arrive here too, under the target `provider`.

use tracing_subscriber::EnvFilter;

/// `--logging-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoggingFormat {
    Text,
    Json,
}

/// The level `-v N` selects (klog-like: 2 is the default info level).
pub fn level_for(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "error",
        1 => "warn",
        2 | 3 => "info",
        4 => "debug",
        _ => "trace",
    }
}

pub fn init(verbosity: u8, format: LoggingFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| anyhow::anyhow!("invalid RUST_LOG {spec:?}: {e}"))?,
        _ => EnvFilter::new(level_for(verbosity)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LoggingFormat::Text => builder.try_init(),
        LoggingFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
