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
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(e) if is_conflict(e) => "conflict",
            Error::Kube(_) => "kube_api",
            Error::Provider(e) => e.label(),
            Error::Invalid(_) => "invalid",
        }
    }

    /// When the provider said to retry (interface 1.2): the tracker retries then instead of
    /// after its own backoff's delay.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Provider(e) => e.retry_after(),
            _ => None,
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

    /// The same request again may succeed (see [`is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Kube(e) if is_transient(e))
    }

    /// Refused because the namespace is being deleted (see [`is_namespace_terminating`]).
    pub fn is_namespace_terminating(&self) -> bool {
        matches!(self, Error::Kube(e) if is_namespace_terminating(e))
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

/// The same request sent again may succeed: the API server was not reached or its reply not
/// read (client-go's transport errors, credentials that could not be refreshed included), it
/// was overloaded or failing (429, 5xx), it timed out (408), or a write lost a race (409
/// `Conflict`). Any other answer (an invalid object, a namespace being deleted, an object
/// already there) or a request that could not be made would fail the same way again.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code >= 500 || matches!(s.code, 408 | 429) || (s.code == 409 && !is_already_exists(e))
        }
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)
        | kube::Error::Auth(_) => true,
        _ => false,
    }
}

/// 403 with the cause `NamespaceTerminating`: nothing can be created in that namespace any more.
pub fn is_namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.details.as_ref().is_some_and(|d| {
        d.causes.iter().any(|c| c.reason == "NamespaceTerminating")
    }))
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

    #[test]
    fn transient_errors_are_told_from_refusals() {
        for (code, reason) in [
            (500, "InternalError"),
            (503, "ServiceUnavailable"),
            (504, "Timeout"),
            (408, "Timeout"),
            (429, "TooManyRequests"),
            (409, "Conflict"),
        ] {
            assert!(is_transient(&api_error(code, reason)), "{code} {reason}");
        }
        for (code, reason) in [
            (400, "BadRequest"),
            (403, "Forbidden"),
            (404, "NotFound"),
            (409, "AlreadyExists"),
            (422, "Invalid"),
        ] {
            assert!(!is_transient(&api_error(code, reason)), "{code} {reason}");
        }
        assert!(is_transient(&kube::Error::Service(
            "connection refused".into()
        )));
        assert!(!Error::Invalid("no".into()).is_transient());

        let mut terminating =
            kube::core::Status::failure("namespace is terminating", "Forbidden").with_code(403);
        terminating.details = Some(kube::core::response::StatusDetails {
            name: "web.1".into(),
            group: String::new(),
            kind: "events".into(),
            uid: String::new(),
            causes: vec![kube::core::response::StatusCause {
                reason: "NamespaceTerminating".into(),
                message: "namespace a is being terminated".into(),
                field: String::new(),
            }],
            retry_after_seconds: 0,
        });
        assert!(is_namespace_terminating(&kube::Error::Api(
            terminating.boxed()
        )));
        assert!(!is_namespace_terminating(&api_error(403, "Forbidden")));
    }
}
