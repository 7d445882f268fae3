//! Provider side of the log bridge: a `tracing` subscriber, installed as the library's global
//! default, that asks the host whether an event is wanted and hands it over as a [`LogRecord`].
//!
//! A shared library carries its own copy of `tracing`'s globals, so without this the provider's
//! events would go nowhere. Filtering is the host's: `enabled` is asked for every event
//! (callsite interest is "sometimes"), so the host's level filter applies as it is at the time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use abi_stable::std_types::RStr;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Level, Metadata, Subscriber};

use crate::abi::{HostCallbacksRef, LogRecord, log_level};

pub(crate) fn install(host: HostCallbacksRef, provider: &'static str) {
    let bridge = Bridge {
        host,
        provider,
        next_id: AtomicU64::new(1),
        spans: Mutex::new(HashMap::new()),
    };
    // Fails only when a subscriber is already set (a second `install_host`): keep the first.
    let _ = tracing::subscriber::set_global_default(bridge);
}

fn level_code(level: &Level) -> u8 {
    match *level {
        Level::ERROR => log_level::ERROR,
        Level::WARN => log_level::WARN,
        Level::INFO => log_level::INFO,
        Level::DEBUG => log_level::DEBUG,
        Level::TRACE => log_level::TRACE,
    }
}

struct SpanData {
    name: &'static str,
    fields: String,
    refs: usize,
}

struct Bridge {
    host: HostCallbacksRef,
    provider: &'static str,
    next_id: AtomicU64,
    spans: Mutex<HashMap<u64, SpanData>>,
}

thread_local! {
    /// The spans this thread has entered, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Formats an event's or span's fields as `key=value` pairs, keeping `message` apart.
#[derive(Default)]
struct FieldFormatter {
    message: String,
    fields: String,
}

impl Visit for FieldFormatter {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push(field, format_args!("{value:?}"));
        }
    }
}

impl FieldFormatter {
    fn push(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={}", field.name(), value);
    }
}

impl Subscriber for Bridge {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Ask the host each time: its filter may change at run time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        if metadata.is_span() {
            // Spans only give events their context; keep them cheap and always on.
            return true;
        }
        (self.host.enabled())(
            level_code(metadata.level()),
            RStr::from_str(metadata.target()),
        )
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut formatter = FieldFormatter::default();
        attrs.record(&mut formatter);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fields = if formatter.message.is_empty() {
            formatter.fields
        } else {
            format!("message={:?} {}", formatter.message, formatter.fields)
        };
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).insert(
            id,
            SpanData {
                name: attrs.metadata().name(),
                fields,
                refs: 1,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut formatter = FieldFormatter::default();
        values.record(&mut formatter);
        if let Some(data) = self
            .spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&span.into_u64())
        {
            if !data.fields.is_empty() && !formatter.fields.is_empty() {
                data.fields.push(' ');
            }
            data.fields.push_str(&formatter.fields);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut formatter = FieldFormatter::default();
        event.record(&mut formatter);
        let spans = STACK.with(|stack| {
            let stack = stack.borrow();
            let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = String::new();
            for id in stack.iter() {
                if let Some(data) = spans.get(id) {
                    let _ = write!(out, "{}{{{}}}:", data.name, data.fields);
                }
            }
            out
        });
        let metadata = event.metadata();
        let record = LogRecord {
            level: level_code(metadata.level()),
            provider: RStr::from_str(self.provider),
            target: RStr::from_str(metadata.target()),
            message: RStr::from_str(&formatter.message),
            fields: RStr::from_str(&formatter.fields),
            spans: RStr::from_str(&spans),
            file: RStr::from_str(metadata.file().unwrap_or("")),
            line: metadata.line().unwrap_or(0),
        };
        (self.host.log())(&record);
    }

    fn enter(&self, span: &Id) {
        STACK.with(|stack| stack.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        STACK.with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(pos) = stack.iter().rposition(|id| *id == span.into_u64()) {
                stack.remove(pos);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(data) = self
            .spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id.into_u64())
        {
            data.refs += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        match spans.get_mut(&id.into_u64()) {
            Some(data) if data.refs > 1 => {
                data.refs -= 1;
                false
            }
            Some(_) => {
                spans.remove(&id.into_u64());
                true
            }
            None => false,
        }
    }
}
