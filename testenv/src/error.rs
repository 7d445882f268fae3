//! The one error type of the test environment.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while building, starting, using or stopping the control plane.
///
/// Messages name what failed and how to fix it; errors about a server carry the last lines of
/// that server's log. `Debug` prints the same text as `Display` (plus the cause chain), so
/// `.unwrap()` and `.expect()` in tests show a readable log tail instead of an escaped string.
#[derive(thiserror::Error)]
pub enum Error {
    /// `MCP_TESTENV_BIN_DIR` (or the directory build.sh printed) lacks a binary.
    #[error(
        "{binary} not found in {dir} ({origin}). Unset MCP_TESTENV_BIN_DIR (MCP_TESTENV_KARMADA_BIN_DIR for Karmada's components) to let hack/testenv/build.sh build it, or point the variable at a directory holding it."
    )]
    BinaryMissing {
        binary: &'static str,
        dir: PathBuf,
        origin: &'static str,
    },
    /// hack/testenv/build.sh failed; `stderr` is what it printed.
    #[error("building {what} with {script} failed ({status}):\n{stderr}")]
    BuildFailed {
        what: &'static str,
        script: PathBuf,
        status: String,
        stderr: String,
    },
    /// A server could not bind its port: another process holds it.
    #[error(
        "{server} could not listen on its port: another process took it (port clash). Run again, or stop whatever listens there.\n--- last lines of {} ---\n{log_tail}",
        log.display()
    )]
    PortInUse {
        server: &'static str,
        log: PathBuf,
        log_tail: String,
    },
    /// A server exited on its own (crashed, or was killed by someone else).
    #[error(
        "{server} exited unexpectedly ({status})\n--- last lines of {} ---\n{log_tail}",
        log.display()
    )]
    ServerExited {
        server: &'static str,
        status: String,
        log: PathBuf,
        log_tail: String,
    },
    /// The control plane did not become ready in time.
    #[error(
        "{what} was not ready after {timeout:?} (last check: {last_error})\n--- last lines of {} ---\n{log_tail}",
        log.display()
    )]
    NotReady {
        what: String,
        timeout: Duration,
        last_error: String,
        log: PathBuf,
        log_tail: String,
    },
    /// A CRD did not reach `Established`.
    #[error("CRD {name} was not Established after {timeout:?}: {detail}")]
    CrdNotEstablished {
        name: String,
        timeout: Duration,
        detail: String,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A call to the API server failed.
    #[error("{context}: {source}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A kubeconfig could not be built or loaded.
    #[error("kubeconfig for {user}: {source}")]
    Kubeconfig {
        user: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A manifest could not be parsed or applied.
    #[error("manifest {origin}: {detail}")]
    Manifest { origin: String, detail: String },
    /// Certificates could not be made.
    #[error("making the certificate {what}: {detail}")]
    Pki { what: String, detail: String },
    /// A step of the Karmada mode failed; `logs` holds every process's log tail.
    #[error("Karmada mode: {what}: {detail}\n{logs}")]
    Karmada {
        what: String,
        detail: String,
        logs: String,
    },
    /// No such member cluster in the Karmada mode.
    #[error("no member cluster named {0:?} (known: {1})")]
    UnknownMember(String, String),
    /// No such user in the token file.
    #[error("no user named {0:?} in this control plane (known: admin and restricted users)")]
    UnknownUser(String),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\ncaused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    pub(crate) fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
