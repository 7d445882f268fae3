//! The fake provider's cloud-config.
//!
//! ```yaml
//! latencyMs: 20                 # added to every call
//! stateFile: /tmp/fake-cloud.db # keep balancers and the call log in this SQLite database
//!                               # (shared by processes, durable; see docs/fake-provider.md)
//! capabilities: [multiclusteringress, multiclusterservice]   # default: both
//! backendView: optional         # required | optional (default) | off: whether the fake asks
//!                               # for interface 1.2's backend view (see below)
//! faults:
//!   - method: mci_ensure        # mci_get, mci_ensure, mci_update, mci_ensure_deleted, mcs_*,
//!                               # or a prefix such as "mci_" or "*" (default)
//!     object: default/broken    # namespace/name, or "*" (default)
//!     action: fail              # fail | panic | hang | garbage | noaddress (the call does
//!                               # its work but the status has no address) | absent (for get:
//!                               # recorded, but reports no balancer whatever exists) |
//!                               # inprogress (ensure/update do their work and answer "still
//!                               # provisioning": the status so far, without an address, and
//!                               # check back after checkAfterMs)
//!     times: 2                  # fire this many times, then behave; default: always
//!     kind: retryable           # for fail: retryable | permanent | not_found
//!     message: quota exceeded   # for fail
//!     retryAfterMs: 30000       # for fail: the error's retry hint ("try again in 30 s")
//!     hangMs: 60000             # for hang (default one hour)
//!     checkAfterMs: 5000        # for inprogress (default one second)
//! failFactory: "bad credentials" # make the factory itself fail with this message
//! ```
//! JSON is accepted too (it is YAML). Unknown keys are refused, so a typo is not silently ignored.
//!
//! `backendView`: with `optional` (the default) or `required` the fake offers interface 1.2's
//! balancers, so a 1.2 controller gives it the backend view with every call and the fake keeps
//! the view of each balancer's last `ensure`/`update`; `required` makes a controller older than
//! 1.2 refuse it, `optional` lets it run there without the view. `off` offers the 1.0 traits
//! only: the fake then behaves exactly as fake provider 1.1 (no view, no progress; an
//! `inprogress` fault only takes the address away).

use std::path::PathBuf;
use std::time::Duration;

use mcp_interface::{ErrorKind, ProviderError};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    #[serde(default)]
    pub capabilities: Option<Vec<Capability>>,
    #[serde(default)]
    pub backend_view: BackendView,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub fail_factory: Option<String>,
}

/// Whether the fake asks for interface 1.2's backend view (`backendView`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendView {
    /// Offers the 1.2 balancers and needs the view: a controller older than 1.2 refuses it.
    Required,
    /// Offers the 1.2 balancers; a controller older than 1.2 calls them without the view.
    #[default]
    Optional,
    /// Offers the 1.0 traits only, as fake provider 1.1 did.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    MultiClusterIngress,
    MultiClusterService,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    #[serde(default = "any")]
    pub method: String,
    #[serde(default = "any")]
    pub object: String,
    pub action: FaultAction,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub kind: FaultKind,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub hang_ms: Option<u64>,
    /// For `fail`: the retry hint the error carries.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// For `inprogress`: when the controller is told to check back.
    #[serde(default)]
    pub check_after_ms: Option<u64>,
}

fn any() -> String {
    "*".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultAction {
    Fail,
    Panic,
    Hang,
    Garbage,
    /// The call does its work, but the returned status has no address (a balancer still being
    /// provisioned, or one whose addresses were released).
    #[serde(rename = "noaddress")]
    NoAddress,
    /// For `get`: the call is made and recorded, but reports no balancer whatever the cloud
    /// holds (a cloud whose reads lag behind its writes). Other methods behave.
    Absent,
    /// For `ensure` and `update`: the call does its work and answers that the balancer is still
    /// being provisioned, with a status without address and `checkAfterMs` (interface 1.2's
    /// `Progress::in_progress`). Other methods behave.
    #[serde(rename = "inprogress", alias = "inProgress")]
    InProgress,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    #[default]
    Retryable,
    Permanent,
    NotFound,
}

impl From<FaultKind> for ErrorKind {
    fn from(kind: FaultKind) -> Self {
        match kind {
            FaultKind::Retryable => ErrorKind::Retryable,
            FaultKind::Permanent => ErrorKind::Permanent,
            FaultKind::NotFound => ErrorKind::NotFound,
        }
    }
}

/// How long `inprogress` tells the controller to wait when the fault does not say.
const DEFAULT_CHECK_AFTER_MS: u64 = 1_000;

impl Fault {
    /// The error a `fail` fault makes of a call of `method` about `object`.
    pub(crate) fn error(&self, method: &str, object: &str) -> ProviderError {
        let message = self
            .message
            .clone()
            .unwrap_or_else(|| format!("injected failure of {method} for {object}"));
        let error = ProviderError::new(self.kind.into(), message);
        match self.retry_after_ms {
            Some(ms) => error.with_retry_after(Duration::from_millis(ms)),
            None => error,
        }
    }

    /// What an `inprogress` fault tells the controller to wait.
    pub(crate) fn check_after(&self) -> Duration {
        Duration::from_millis(self.check_after_ms.unwrap_or(DEFAULT_CHECK_AFTER_MS))
    }

    pub(crate) fn matches(&self, method: &str, object: &str) -> bool {
        let method_ok = self.method == "*"
            || self.method == method
            || (self.method.ends_with('_') && method.starts_with(&self.method));
        method_ok && (self.object == "*" || self.object == object)
    }
}

impl Config {
    pub fn parse(bytes: &[u8]) -> Result<Config, ProviderError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ProviderError::permanent(format!("invalid fake cloud-config: not UTF-8 text: {e}"))
        })?;
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text)
            .map_err(|e| ProviderError::permanent(format!("invalid fake cloud-config: {e}")))
    }

    pub(crate) fn offers(&self, capability: Capability) -> bool {
        self.capabilities
            .as_ref()
            .is_none_or(|c| c.contains(&capability))
    }

    /// Whether `capability` is offered through interface 1.2's balancer (with the view).
    pub(crate) fn offers_with_view(&self, capability: Capability) -> bool {
        self.backend_view != BackendView::Off && self.offers(capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = Config::parse(
            br#"
latencyMs: 20
stateFile: /tmp/x.json
capabilities: [multiclusteringress]
faults:
  - method: mci_ensure
    object: default/broken
    action: fail
    times: 2
    kind: permanent
    message: quota exceeded
  - method: mcs_
    action: hang
    hangMs: 10
"#,
        )
        .unwrap();
        assert_eq!(c.latency_ms, Some(20));
        assert!(c.offers(Capability::MultiClusterIngress));
        assert!(!c.offers(Capability::MultiClusterService));
        assert!(c.faults[0].matches("mci_ensure", "default/broken"));
        assert!(!c.faults[0].matches("mci_ensure", "default/other"));
        assert!(c.faults[1].matches("mcs_get", "a/b"));
        assert!(!c.faults[1].matches("mci_get", "a/b"));
        assert_eq!(c.backend_view, BackendView::Optional);
        assert!(c.offers_with_view(Capability::MultiClusterIngress));
        assert!(!c.offers_with_view(Capability::MultiClusterService));
    }

    #[test]
    fn backend_view_and_the_interface_1_2_faults_parse() {
        let c = Config::parse(
            br#"
backendView: off
faults:
  - action: fail
    retryAfterMs: 30000
  - action: inprogress
    checkAfterMs: 5000
  - action: inProgress
"#,
        )
        .unwrap();
        assert_eq!(c.backend_view, BackendView::Off);
        assert!(c.offers(Capability::MultiClusterIngress));
        assert!(!c.offers_with_view(Capability::MultiClusterIngress));
        let error = c.faults[0].error("mci_ensure", "a/b");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(error.kind(), ErrorKind::Retryable);
        assert_eq!(c.faults[1].action, FaultAction::InProgress);
        assert_eq!(c.faults[1].check_after(), Duration::from_secs(5));
        assert_eq!(c.faults[2].action, FaultAction::InProgress);
        assert_eq!(c.faults[2].check_after(), Duration::from_secs(1));
        assert_eq!(
            Config::parse(b"backendView: required")
                .unwrap()
                .backend_view,
            BackendView::Required
        );
        // Without a hint, a fail fault's error has none.
        let plain = Config::parse(b"faults: [{action: fail}]").unwrap();
        assert_eq!(plain.faults[0].error("mci_get", "a/b").retry_after(), None);
    }

    #[test]
    fn typos_and_bad_values_are_refused_clearly() {
        let err = Config::parse(b"latencyMS: 3").unwrap_err();
        assert!(err.message().contains("unknown field `latencyMS`"), "{err}");
        let err = Config::parse(b"faults: [{action: explode}]").unwrap_err();
        assert!(err.message().contains("explode"), "{err}");
        let err = Config::parse(b"faults: [{action: fail, retryAfter: 3}]").unwrap_err();
        assert!(
            err.message().contains("unknown field `retryAfter`"),
            "{err}"
        );
        let err = Config::parse(b"backendView: sometimes").unwrap_err();
        assert!(err.message().contains("sometimes"), "{err}");
        assert!(Config::parse(b"\xff").is_err());
        assert!(Config::parse(b"  \n").is_ok());
    }
}
