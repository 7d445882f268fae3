//! `--logging-format=json`: one object per line in the shape Kubernetes components print
//! (component-base's zap encoder): `ts` (milliseconds since the epoch), `caller` (`dir/file:line`),
//! `msg`, `v` (the klog verbosity; absent on errors), `err` (on errors), then the spans' fields
//! (controller, namespace, name) and the event's.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::filter::klog_level;

pub struct KubernetesJson;

/// An event's fields: the message apart, `error`/`err` as `err`, the rest in order.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    error: Option<String>,
    rest: Vec<(String, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = Some(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            "error" | "err" => {
                self.error = Some(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            // `log` crate metadata carried by tracing-log; the caller says the same.
            name if name.starts_with("log.") => {}
            name => self.rest.push((name.to_owned(), value)),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

/// `dir/file.rs:line`, as zap's short caller encoder (`pkg/file.go:line`).
fn caller(file: Option<&str>, line: Option<u32>) -> Option<String> {
    let file = file?;
    let mut parts = file.rsplitn(3, '/');
    let name = parts.next()?;
    let short = match parts.next() {
        Some(dir) => format!("{dir}/{name}"),
        None => name.to_owned(),
    };
    Some(match line {
        Some(line) => format!("{short}:{line}"),
        None => short,
    })
}

impl<S, N> FormatEvent<S, N> for KubernetesJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);

        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as f64 / 1e6)
            .unwrap_or_default();
        let mut line = Line::default();
        line.set("ts", Value::from(ts));
        if let Some(caller) = caller(meta.file(), meta.line()) {
            line.set("caller", Value::String(caller));
        }
        line.set(
            "msg",
            Value::String(fields.message.take().unwrap_or_default()),
        );
        if *meta.level() != Level::ERROR {
            line.set("v", Value::from(klog_level(meta)));
        }
        if let Some(error) = fields.error.take() {
            line.set("err", Value::String(error));
        }
        // The spans' fields, outermost first (JsonFields stored each span's as an object).
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str(stored.as_str()) {
                    for (k, v) in span_fields {
                        line.set(&k, v);
                    }
                }
            }
        }
        for (k, v) in fields.rest {
            line.set(&k, v);
        }
        writeln!(writer, "{line}")
    }
}

/// A JSON object that keeps its keys in insertion order (Kubernetes' order: ts, caller, msg,
/// v, err, fields); a key set twice keeps its place and takes the later value.
#[derive(Default)]
struct Line(Vec<(String, Value)>);

impl Line {
    fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{v}", Value::String(k.clone()))?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_is_short() {
        assert_eq!(
            caller(Some("controller/src/controllers/runtime.rs"), Some(12)).as_deref(),
            Some("controllers/runtime.rs:12")
        );
        assert_eq!(
            caller(Some("main.rs"), Some(3)).as_deref(),
            Some("main.rs:3")
        );
    }

    #[test]
    fn keys_keep_their_order() {
        let mut line = Line::default();
        line.set("ts", Value::from(1.5));
        line.set("msg", Value::from("a \"quoted\" word"));
        line.set("name", Value::from("x"));
        line.set("name", Value::from("y"));
        assert_eq!(
            line.to_string(),
            r#"{"ts":1.5,"msg":"a \"quoted\" word","name":"y"}"#
        );
    }
}
