//! Errors a provider returns, with a kind that tells the host how to react.

use std::fmt;
use std::time::Duration;

use crate::abi::{FfiError, error_code};

/// What went wrong in a failed provider call.
///
/// The controller retries every failed object the same way, whatever the kind: with its
/// per-object exponential backoff (`--rate-limiter-base-delay` doubling up to
/// `--rate-limiter-max-delay`), as the Go original does. The kind labels the `error` of the
/// provider-call and reconcile error metrics and appears in the log, so an operator can tell a
/// throttled cloud from a wrong object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Transient (a cloud API timeout, throttling): a retry may succeed. Metric label
    /// `retryable`.
    Retryable,
    /// Retrying the same object will not help until it or the cloud changes (an invalid spec, a
    /// quota). The controller still retries it with the same per-object backoff as any failure
    /// (it cannot know when the cloud changes); for MultiClusterServices the message also goes
    /// into a Warning event on the object. Metric label `permanent`.
    Permanent,
    /// The load balancer or a cloud resource it needs does not exist. Metric label `not_found`.
    /// (`get` of a balancer that does not exist returns `Ok(None)`, not this error.)
    NotFound,
    /// The provider panicked. Set by the SDK, never by a vendor. Metric label `panicked`.
    Panicked,
    /// The provider does not implement this capability or method. Set by the SDK or the host.
    /// Metric label `not_supported`.
    NotSupported,
    /// The provider could not decode the object the host sent. Set by the SDK. Metric label
    /// `invalid_input`.
    InvalidInput,
}

impl ErrorKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            ErrorKind::Retryable => error_code::RETRYABLE,
            ErrorKind::Permanent => error_code::PERMANENT,
            ErrorKind::NotFound => error_code::NOT_FOUND,
            ErrorKind::Panicked => error_code::PANICKED,
            ErrorKind::NotSupported => error_code::NOT_SUPPORTED,
            ErrorKind::InvalidInput => error_code::INVALID_INPUT,
        }
    }

    /// The kind of a wire code. Codes this version does not know (from a newer library) are
    /// permanent: the safe reading of an error we cannot classify.
    pub fn from_code(code: u8) -> ErrorKind {
        match code {
            error_code::RETRYABLE => ErrorKind::Retryable,
            error_code::NOT_FOUND => ErrorKind::NotFound,
            error_code::PANICKED => ErrorKind::Panicked,
            error_code::NOT_SUPPORTED => ErrorKind::NotSupported,
            error_code::INVALID_INPUT => ErrorKind::InvalidInput,
            _ => ErrorKind::Permanent,
        }
    }

    /// The kind of a name [`ErrorKind::as_str`] gives; names this version does not know are
    /// permanent, as unknown codes are.
    pub fn from_name(name: &str) -> ErrorKind {
        match name {
            "retryable" => ErrorKind::Retryable,
            "not_found" => ErrorKind::NotFound,
            "panicked" => ErrorKind::Panicked,
            "not_supported" => ErrorKind::NotSupported,
            "invalid_input" => ErrorKind::InvalidInput,
            _ => ErrorKind::Permanent,
        }
    }

    /// A short lower-case name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Permanent => "permanent",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Panicked => "panicked",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::InvalidInput => "invalid_input",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a provider: a kind, a message and, optionally, when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Interface 1.2: says when a retry makes sense, as a cloud that answers "throttled, retry
    /// in 30 s" does (Kubernetes' cloud-provider `RetryError`). The controller retries the
    /// object after this delay instead of its own backoff's, bounded by its
    /// `--rate-limiter-max-delay`. Controllers older than 1.2 ignore it.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The delay given with [`ProviderError::with_retry_after`].
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// A transient failure: the host retries with backoff.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Retryable, message)
    }

    /// A failure that retrying the same input will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }

    /// The load balancer (or something it needs) does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn into_ffi(self) -> FfiError {
        FfiError {
            kind: self.kind.code(),
            message: self.message.into(),
        }
    }

    /// The error a library sent across the boundary.
    pub fn from_ffi(error: FfiError) -> Self {
        Self::new(
            ErrorKind::from_code(error.kind),
            error.message.into_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_the_wire() {
        for kind in [
            ErrorKind::Retryable,
            ErrorKind::Permanent,
            ErrorKind::NotFound,
            ErrorKind::Panicked,
            ErrorKind::NotSupported,
            ErrorKind::InvalidInput,
        ] {
            let err = ProviderError::new(kind, "boom");
            assert_eq!(ProviderError::from_ffi(err.clone().into_ffi()), err);
        }
    }

    #[test]
    fn unknown_codes_read_as_permanent() {
        assert_eq!(ErrorKind::from_code(200), ErrorKind::Permanent);
    }
}
