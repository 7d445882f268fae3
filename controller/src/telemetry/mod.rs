//! Logging set-up with component-base's flags: `-v` and `--vmodule` as klog's verbosity
//! ([`filter`]), text or Kubernetes-shaped JSON lines ([`json`]), to stderr or split between
//! stdout and stderr with an optional info buffer ([`output`]). `RUST_LOG`, when set, replaces
//! `-v` and `--vmodule` with a tracing filter. Provider libraries' events arrive here too, under
//! the target `provider`.

pub mod filter;
pub mod json;
pub mod output;

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{LogFormat, LoggingSettings};
use filter::KlogFilter;
use output::Output;

/// Flushes buffered log lines when dropped (at the end of `main`).
pub struct LogGuard(Output);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Sets up the global subscriber; then says once which accepted flags change nothing here.
pub fn init(settings: &LoggingSettings) -> anyhow::Result<LogGuard> {
    let env_filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => Some(
            EnvFilter::try_new(&spec)
                .map_err(|e| anyhow::anyhow!("invalid RUST_LOG {spec:?}: {e}"))?,
        ),
        _ => None,
    };
    let klog = env_filter
        .is_none()
        .then(|| KlogFilter::new(settings.verbosity, settings.vmodule.clone()));
    let output = match (settings.split_stream, settings.format) {
        (false, _) => Output::stderr(),
        // klog's text router sends every non-info line (W, E) to the error stream; zap only
        // errors.
        (true, LogFormat::Text) => Output::split(Level::WARN, settings.info_buffer_bytes),
        (true, LogFormat::Json) => Output::split(Level::ERROR, settings.info_buffer_bytes),
    };
    if !settings.flush_frequency.is_zero() {
        output.start_flushing(settings.flush_frequency);
    }
    // Colours only for a terminal: a file or a log collector would get escape codes.
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry().with(env_filter).with(klog);
    let result = match settings.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(output.clone()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(json::KubernetesJson)
                    .with_writer(output.clone()),
            )
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;
    for note in &settings.notes {
        tracing::info!("{note}");
    }
    Ok(LogGuard(output))
}
