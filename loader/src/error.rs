//! Load and call errors. Each load error's `Display` is one paragraph saying what is wrong and
//! what to do; the controller prints it and exits non-zero.

use std::path::PathBuf;
use std::time::Duration;

use mcp_interface::{ErrorKind, INTERFACE_VERSION, ProviderError};

use crate::kind::Method;
use crate::names::{SearchDir, display_available, display_dirs};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "no cloud provider was named: pass --cloud-provider=NAME (for example --cloud-provider=fake)"
    )]
    NoProviderName,

    #[error(
        "no cloud provider named {name:?}: looked for {file} in {}; {}. Install the provider library into one of these directories, or add its directory with --provider-dir.",
        display_dirs(searched),
        display_available(available)
    )]
    NotFound {
        name: String,
        file: String,
        searched: Vec<SearchDir>,
        available: Vec<(String, PathBuf)>,
    },

    #[error("the provider library {} does not exist or is not a file.", path.display())]
    NoSuchFile { path: PathBuf },

    #[error(
        "refusing to load the provider library {}: {} {problem} (owner uid {owner}, mode {mode:04o}; this controller runs as uid {euid}). Whoever can write it can make the controller run their code. Make it owned by root or uid {euid} and writable by its owner only (for example: chown root {path} && chmod go-w {path}), or, for development only, pass --allow-insecure-provider-permissions.",
        library.display(),
        path.display(),
        path = path.display(),
    )]
    InsecurePermissions {
        library: PathBuf,
        /// The file or directory that is not safe.
        path: PathBuf,
        problem: String,
        owner: u32,
        mode: u32,
        euid: u32,
    },

    #[error(
        "{} is not a shared library that this machine can load ({}, {}): {detail}. A provider must be a Linux shared library built for this architecture (cargo build --release of a cdylib crate).",
        path.display(),
        std::env::consts::OS,
        std::env::consts::ARCH
    )]
    NotALibrary { path: PathBuf, detail: String },

    #[error(
        "{} is a shared library but not a multicluster cloud provider: it has no provider root module (symbol {symbol}). Providers export one with mcp_interface::export_provider!.",
        path.display()
    )]
    MissingRootModule { path: PathBuf, symbol: String },

    #[error(
        "the provider library {} was built for provider interface {library}, but this controller speaks interface {host}: only libraries built against interface {host_major}.x load. Rebuild the provider against mcp-interface {host_major}.x, or use a controller release that speaks interface {library}.",
        path.display(),
        host = INTERFACE_VERSION,
        host_major = mcp_interface::abi::INTERFACE_MAJOR
    )]
    IncompatibleInterface { path: PathBuf, library: String },

    #[error(
        "the provider library {} claims provider interface {library} (this controller speaks {host}) but its types do not match the interface's layout: it was built against a modified or unreleased mcp-interface, or with an incompatible abi_stable. Rebuild it against a released mcp-interface {host_major}.x. (Run with -v=4 to log abi_stable's full layout report.)",
        path.display(),
        host = INTERFACE_VERSION,
        host_major = mcp_interface::abi::INTERFACE_MAJOR
    )]
    IncompatibleLayout {
        path: PathBuf,
        library: String,
        report: String,
    },

    #[error(
        "the provider library {} could not be initialised: {detail}. The library is broken or was built for another abi_stable release; rebuild it against mcp-interface {}.x.",
        path.display(),
        mcp_interface::abi::INTERFACE_MAJOR
    )]
    Initialisation { path: PathBuf, detail: String },

    #[error(
        "asked for cloud provider {requested:?}, but {} is provider {actual:?}. Rename the library to {}, or select it with --cloud-provider={actual}.",
        path.display(),
        crate::names::library_file_name(actual)
    )]
    NameMismatch {
        requested: String,
        actual: String,
        path: PathBuf,
    },

    #[error("cloud provider {name:?} failed to start ({kind}): {message}", kind = error.kind(), message = error.message())]
    Factory { name: String, error: ProviderError },
}

impl LoadError {
    /// A short stable name of the failure, for machine-readable output (`inspect --json`).
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::NoProviderName => "no_provider_name",
            LoadError::NotFound { .. } => "not_found",
            LoadError::NoSuchFile { .. } => "no_such_file",
            LoadError::InsecurePermissions { .. } => "insecure_permissions",
            LoadError::NotALibrary { .. } => "not_a_library",
            LoadError::MissingRootModule { .. } => "missing_root_module",
            LoadError::IncompatibleInterface { .. } => "incompatible_interface",
            LoadError::IncompatibleLayout { .. } => "incompatible_layout",
            LoadError::Initialisation { .. } => "initialisation",
            LoadError::NameMismatch { .. } => "name_mismatch",
            LoadError::Factory { .. } => "factory",
        }
    }
}

/// A failed provider call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("provider {provider:?} does not support {method}")]
    NotSupported { provider: String, method: Method },

    #[error("provider {provider:?} {method} failed ({kind}): {message}", kind = error.kind(), message = error.message())]
    Provider {
        provider: String,
        method: Method,
        error: ProviderError,
    },

    #[error("provider {provider:?} {method} did not return within {timeout:?}")]
    Timeout {
        provider: String,
        method: Method,
        timeout: Duration,
    },

    /// The call was not made: an earlier call about the same object outlived its timeout and
    /// is still running in the provider, and did not return within a further call timeout.
    #[error(
        "provider {provider:?} {method} not called: an earlier call about this object is still running in the provider (it outlived its timeout) and did not return within {timeout:?} more; calls about one object never overlap, so this one is retried later"
    )]
    Busy {
        provider: String,
        method: Method,
        timeout: Duration,
    },

    #[error(
        "provider {provider:?} {method} returned a result the controller cannot read: {detail}"
    )]
    InvalidResponse {
        provider: String,
        method: Method,
        detail: String,
    },

    #[error("provider {provider:?} {method}: the object could not be encoded: {detail}")]
    Encode {
        provider: String,
        method: Method,
        detail: String,
    },

    /// The call was not made: the handle was fenced ([`Provider::fence`](crate::Provider::fence)),
    /// because this replica lost its leadership or is shutting down.
    #[error(
        "provider {provider:?} {method} not called: this replica no longer leads (it lost the lease or is shutting down), and only the leader may reach the cloud"
    )]
    Fenced { provider: String, method: Method },
}

impl CallError {
    /// The error's kind, for backoff decisions and metric labels.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::NotSupported { .. } => ErrorKind::NotSupported,
            CallError::Provider { error, .. } => error.kind(),
            CallError::Timeout { .. } | CallError::Busy { .. } | CallError::Fenced { .. } => {
                ErrorKind::Retryable
            }
            CallError::InvalidResponse { .. } | CallError::Encode { .. } => ErrorKind::Permanent,
        }
    }

    /// When the provider said a retry makes sense (interface 1.2), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Provider { error, .. } => error.retry_after(),
            _ => None,
        }
    }

    /// A short label for metrics: the error kind, or `timeout` / `busy` / `invalid_response` /
    /// `encode` / `fenced`.
    pub fn label(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::Busy { .. } => "busy",
            CallError::InvalidResponse { .. } => "invalid_response",
            CallError::Encode { .. } => "encode",
            CallError::Fenced { .. } => "fenced",
            other => other.kind().as_str(),
        }
    }
}
