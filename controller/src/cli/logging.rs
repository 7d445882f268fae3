//! component-base's logging flags (`-v`, `--vmodule`, `--logging-format`, `--log-*`) and the
//! `--feature-gates` the Go original registers for them, validated as `logsapi.Validate` does.

use clap::{ArgAction, Args};

use super::values::{self, VModuleList};
use crate::duration::GoDuration;
use crate::settings::{LogFormat, LoggingSettings};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logs flags")]
pub struct LoggingArgs {
    /// Number for the log level verbosity, as klog: errors, warnings and info are always
    /// written, debug from 4, trace from 5. RUST_LOG, when set, overrides it and --vmodule.
    #[arg(short = 'v', long = "v", global = true, default_value = "0", value_name = "LEVEL", value_parser = values::level)]
    pub verbosity: u32,

    /// Comma-separated list of pattern=N settings for file-filtered logging (only works for the
    /// text log format). A pattern is matched against the source file's name without `.rs`
    /// (`leader`), with a `/` against its path (`multicluster_ingress/*`), with `::` against the
    /// module (`multicluster_provider::controllers::*`).
    #[arg(long, global = true, value_name = "pattern=N,...", value_parser = values::vmodule, action = ArgAction::Append)]
    pub vmodule: Vec<VModuleList>,

    /// Sets the log format. Permitted formats: "json" (gated by LoggingBetaOptions), "text".
    #[arg(long, global = true, default_value = "text", value_name = "FORMAT")]
    pub logging_format: String,

    /// Maximum time between flushes of the buffered info stream (see --log-*-info-buffer-size).
    #[arg(long, global = true, default_value = "5s", value_name = "DURATION")]
    pub log_flush_frequency: GoDuration,

    /// [Alpha] In text format, write error and warning messages to stderr and info messages to
    /// stdout (default: everything to stderr). Enable the LoggingAlphaOptions feature gate to
    /// use this.
    #[arg(long, global = true, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", value_parser = values::go_bool)]
    pub log_text_split_stream: bool,

    /// [Alpha] In text format with split output streams, buffer this many bytes of info
    /// messages (512, 1k, 2Ki, 3M, 5Mi, ...; 0 disables). Enable the LoggingAlphaOptions
    /// feature gate to use this.
    #[arg(long, global = true, default_value = "0", value_name = "QUANTITY", value_parser = values::quantity)]
    pub log_text_info_buffer_size: i64,

    /// [Alpha] In JSON format, write error messages to stderr and info messages to stdout
    /// (default: everything to stderr). Enable the LoggingAlphaOptions feature gate to use this.
    #[arg(long, global = true, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", value_parser = values::go_bool)]
    pub log_json_split_stream: bool,

    /// [Alpha] In JSON format with split output streams, buffer this many bytes of info
    /// messages. Enable the LoggingAlphaOptions feature gate to use this.
    #[arg(long, global = true, default_value = "0", value_name = "QUANTITY", value_parser = values::quantity)]
    pub log_json_info_buffer_size: i64,

    /// A set of key=value pairs that describe feature gates for alpha/experimental features.
    /// Options are: AllAlpha=true|false (ALPHA - default=false), AllBeta=true|false (BETA -
    /// default=false), ContextualLogging=true|false (BETA - default=true),
    /// LoggingAlphaOptions=true|false (ALPHA - default=false), LoggingBetaOptions=true|false
    /// (BETA - default=true).
    #[arg(long, global = true, value_name = "KEY=BOOL,...", value_parser = feature_gates, action = ArgAction::Append)]
    pub feature_gates: Vec<FeatureGates>,
}

/// The gates the Go original knows: `featuregate.NewFeatureGate()` plus component-base's
/// logging gates. Each is alpha or beta, with its default at Kubernetes 1.34.
const GATES: [(&str, Stage, bool); 5] = [
    ("AllAlpha", Stage::Alpha, false),
    ("AllBeta", Stage::Beta, false),
    ("ContextualLogging", Stage::Beta, true),
    ("LoggingAlphaOptions", Stage::Alpha, false),
    ("LoggingBetaOptions", Stage::Beta, true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Alpha,
    Beta,
}

/// One `--feature-gates` value: gates known to the Go original, each set to a bool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGates(Vec<(&'static str, bool)>);

/// Parses `Key=bool,...`, refusing a gate the Go original does not know, as it does.
pub fn feature_gates(value: &str) -> Result<FeatureGates, String> {
    let mut set = Vec::new();
    for item in value.split(',').filter(|i| !i.is_empty()) {
        let Some((key, v)) = item.split_once('=') else {
            return Err(format!("missing bool value for {}", item.trim()));
        };
        let (key, v) = (key.trim(), v.trim());
        let enabled =
            values::go_bool(v).map_err(|_| format!("invalid value of {key}={v}: not a bool"))?;
        let Some((name, ..)) = GATES.iter().find(|(name, ..)| *name == key) else {
            let known: Vec<&str> = GATES.iter().map(|(n, ..)| *n).collect();
            return Err(format!(
                "unrecognized feature gate: {key} (known: {})",
                known.join(", ")
            ));
        };
        set.push((*name, enabled));
    }
    Ok(FeatureGates(set))
}

impl LoggingArgs {
    /// Whether `gate` is on: set explicitly (the last value wins), else by AllAlpha/AllBeta for
    /// its stage, else its default.
    fn gate(&self, gate: &str) -> bool {
        let explicit = |name: &str| {
            self.feature_gates
                .iter()
                .flat_map(|g| g.0.iter())
                .rev()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
        };
        let Some((_, stage, default)) = GATES.iter().find(|(n, ..)| *n == gate) else {
            return false;
        };
        let all = match stage {
            Stage::Alpha => "AllAlpha",
            Stage::Beta => "AllBeta",
        };
        explicit(gate).or_else(|| explicit(all)).unwrap_or(*default)
    }

    /// Validates the logging flags as component-base's `logsapi.Validate` does.
    pub fn settings(&self) -> Result<LoggingSettings, Vec<String>> {
        let mut errors = Vec::new();
        let format = match self.logging_format.as_str() {
            "text" => LogFormat::Text,
            "json" => {
                if !self.gate("LoggingBetaOptions") {
                    errors.push("--logging-format=json is disabled: it needs the LoggingBetaOptions feature gate (on by default)".to_owned());
                }
                LogFormat::Json
            }
            other => {
                errors.push(format!(
                    "--logging-format {other:?} is not supported: use \"text\" or \"json\""
                ));
                LogFormat::Text
            }
        };
        let vmodule: Vec<_> = self.vmodule.iter().flat_map(|l| l.0.clone()).collect();
        if !vmodule.is_empty() && format != LogFormat::Text {
            errors.push("--vmodule only works for the text log format".to_owned());
        }
        let alpha = self.gate("LoggingAlphaOptions");
        for (set, flag) in [
            (self.log_text_split_stream, "--log-text-split-stream"),
            (
                self.log_text_info_buffer_size != 0,
                "--log-text-info-buffer-size",
            ),
            (self.log_json_split_stream, "--log-json-split-stream"),
            (
                self.log_json_info_buffer_size != 0,
                "--log-json-info-buffer-size",
            ),
        ] {
            if set && !alpha {
                errors.push(format!(
                    "{flag} needs the LoggingAlphaOptions feature gate: add --feature-gates=LoggingAlphaOptions=true"
                ));
            }
        }
        let (split_stream, buffer) = match format {
            LogFormat::Text => (self.log_text_split_stream, self.log_text_info_buffer_size),
            LogFormat::Json => (self.log_json_split_stream, self.log_json_info_buffer_size),
        };
        let mut notes = Vec::new();
        if self
            .feature_gates
            .iter()
            .flat_map(|g| g.0.iter())
            .any(|(n, _)| *n == "ContextualLogging")
        {
            notes.push("--feature-gates=ContextualLogging is accepted for the Go controller's sake and changes nothing here: every log line carries its controller and object".to_owned());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(LoggingSettings {
            format,
            verbosity: self.verbosity,
            vmodule,
            split_stream,
            // Only split streams are buffered, as in Go; at most 2 GiB, as Go caps it.
            info_buffer_bytes: if split_stream {
                usize::try_from(buffer.clamp(0, 2 << 30)).unwrap_or(0)
            } else {
                0
            },
            flush_frequency: self.log_flush_frequency.0,
            notes,
        })
    }
}
