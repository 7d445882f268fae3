//! Host side of the log bridge: providers' `tracing` events are re-emitted into the host's
//! subscriber under the target `provider`, so they share the host's format and filter
//! (`RUST_LOG=provider=debug` or `-v` select them like any other target).

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::prefix_type::WithMetadata;
use abi_stable::std_types::RStr;
use mcp_interface::abi::{HostCallbacks, HostCallbacksRef, LogRecord, log_level};
use tracing::Level;

static CALLBACKS: &WithMetadata<HostCallbacks> = &WithMetadata::new(HostCallbacks {
    enabled,
    log,
    interface_version,
});

/// Tells the library this host's interface version (1.2 and later): how it learns that the
/// host gives the backend view.
extern "C" fn interface_version() -> RStr<'static> {
    RStr::from_str(mcp_interface::INTERFACE_VERSION)
}

pub(crate) fn callbacks() -> HostCallbacksRef {
    HostCallbacksRef(CALLBACKS.static_as_prefix())
}

macro_rules! at_level {
    ($level:expr, $mac:ident ! ( $($args:tt)* )) => {
        match $level {
            log_level::ERROR => $mac!(target: "provider", Level::ERROR, $($args)*),
            log_level::WARN => $mac!(target: "provider", Level::WARN, $($args)*),
            log_level::INFO => $mac!(target: "provider", Level::INFO, $($args)*),
            log_level::DEBUG => $mac!(target: "provider", Level::DEBUG, $($args)*),
            _ => $mac!(target: "provider", Level::TRACE, $($args)*),
        }
    };
}

extern "C" fn enabled(level: u8, _target: RStr<'_>) -> bool {
    // A panic must not unwind into the library (it would abort); treat it as "not wanted".
    catch_unwind(|| at_level!(level, enabled_at!())).unwrap_or(false)
}

macro_rules! enabled_at {
    (target: $target:literal, $level:expr, ) => {
        tracing::enabled!(target: $target, $level)
    };
}
use enabled_at;

extern "C" fn log(record: &LogRecord<'_>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // The provider's own fields follow its message, as the host's formatter would put them.
        let fields = record.fields.as_str();
        let message = if fields.is_empty() {
            record.message.as_str().to_owned()
        } else {
            format!("{} {fields}", record.message)
        };
        let provider = record.provider.as_str();
        let target = record.target.as_str();
        let spans = record.spans.as_str();
        if spans.is_empty() {
            at_level!(
                record.level,
                event!(provider = %provider, provider.target = %target, "{message}")
            )
        } else {
            at_level!(
                record.level,
                event!(provider = %provider, provider.target = %target, provider.spans = spans, "{message}")
            )
        }
    }));
}

macro_rules! event {
    (target: $target:literal, $level:expr, $($rest:tt)*) => {
        tracing::event!(target: $target, $level, $($rest)*)
    };
}
use event;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_static_and_callable() {
        let cb = callbacks();
        // No subscriber in this test: nothing is enabled, and logging is a no-op.
        assert!(!(cb.enabled())(log_level::ERROR, RStr::from_str("x")));
        (cb.log())(&LogRecord {
            level: log_level::INFO,
            provider: RStr::from_str("p"),
            target: RStr::from_str("t"),
            message: RStr::from_str("m"),
            fields: RStr::from_str(""),
            spans: RStr::from_str(""),
            file: RStr::from_str(""),
            line: 0,
        });
    }
}
