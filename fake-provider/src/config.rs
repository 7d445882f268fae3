//! The fake provider's cloud-config.
//!
//! ```yaml
//! latencyMs: 20                 # added to every call
//! stateFile: /tmp/fake-cloud.db # keep balancers and the call log in this SQLite database
//!                               # (shared by processes, durable; see docs/fake-provider.md)
//! capabilities: [multiclusteringress, multiclusterservice]   # default: both
//! faults:
//!   - method: mci_ensure        # mci_get, mci_ensure, mci_update, mci_ensure_deleted, mcs_*,
//!                               # or a prefix such as "mci_" or "*" (default)
//!     object: default/broken    # namespace/name, or "*" (default)
//!     action: fail              # fail | panic | hang | garbage | noaddress (the call does
//!                               # its work but the status has no address) | absent (for get:
//!                               # recorded, but reports no balancer whatever exists)
//!     times: 2                  # fire this many times, then behave; default: always
//!     kind: retryable           # for fail: retryable | permanent | not_found
//!     message: quota exceeded   # for fail
//!     hangMs: 60000             # for hang (default one hour)
//! failFactory: "bad credentials" # make the factory itself fail with this message
//! ```
//! JSON is accepted too (it is YAML). Unknown keys are refused, so a typo is not silently ignored.

use std::path::PathBuf;

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
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub fail_factory: Option<String>,
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

impl Fault {
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
    }

    #[test]
    fn typos_and_bad_values_are_refused_clearly() {
        let err = Config::parse(b"latencyMS: 3").unwrap_err();
        assert!(err.message().contains("unknown field `latencyMS`"), "{err}");
        let err = Config::parse(b"faults: [{action: explode}]").unwrap_err();
        assert!(err.message().contains("explode"), "{err}");
        assert!(Config::parse(b"\xff").is_err());
        assert!(Config::parse(b"  \n").is_ok());
    }
}
