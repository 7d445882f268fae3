//! Reconcile errors, each with a short label for the error metric, and the one place that reads
//! a Kubernetes API error's status code.

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
            Error::Kube(e) if is_conflict(e) => "conflict",
            Error::Kube(_) => "kube_api",
            Error::Provider(e) => e.label(),
            Error::Invalid(_) => "invalid",
            Error::Serialization(_) => "serialization",
        }
    }

    /// A write lost a race (see [`is_conflict`]): the object is retried, and it is no failure
    /// worth a warning.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube(e) if is_conflict(e))
    }

    /// The object is gone (see [`is_not_found`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Kube(e) if is_not_found(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 404: the object does not exist (any more).
pub fn is_not_found(e: &kube::Error) -> bool {
    api_code(e) == Some(404)
}

/// 409, whatever the reason: an update's resourceVersion precondition failed (`Conflict`) or a
/// create found the object there (`AlreadyExists`). Either way someone else wrote first.
pub fn is_conflict(e: &kube::Error) -> bool {
    api_code(e) == Some(409)
}

/// 409 `AlreadyExists`: a create found the object there.
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("test", reason)
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn status_codes_are_classified() {
        assert!(is_not_found(&api_error(404, "NotFound")));
        assert!(!is_not_found(&api_error(409, "Conflict")));
        assert!(is_conflict(&api_error(409, "Conflict")));
        assert!(is_conflict(&api_error(409, "AlreadyExists")));
        assert!(is_already_exists(&api_error(409, "AlreadyExists")));
        assert!(!is_already_exists(&api_error(409, "Conflict")));
        let conflict = Error::from(api_error(409, "Conflict"));
        assert!(conflict.is_conflict());
        assert_eq!(conflict.metric_label(), "conflict");
        assert_eq!(
            Error::from(api_error(500, "InternalError")).metric_label(),
            "kube_api"
        );
    }
}
