//! Reconcile errors. Each has a short label for the error metric.

use mcp_loader::CallError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),

    #[error(transparent)]
    Provider(#[from] CallError),

    /// The object or its surroundings are invalid (e.g. several default IngressClasses).
    #[error("{0}")]
    Invalid(String),

    #[error("could not encode a request: {0}")]
    Serialization(#[from] serde_json::Error),
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(e)) if e.code == 409 => "conflict",
            Error::Kube(_) => "kube_api",
            Error::Provider(e) => e.label(),
            Error::Invalid(_) => "invalid",
            Error::Serialization(_) => "serialization",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
