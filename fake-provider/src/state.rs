//! What the fake's cloud holds ([`State`]: balancers, creations, deletions and the call log) and
//! what one provider call may do to it ([`Cloud`]), whichever store keeps it ([`crate::store`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use mcp_interface::ProviderError;
use serde::{Deserialize, Serialize};

use crate::key::{BalancerKey, Method};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balancer {
    pub status: serde_json::Value,
    /// Which process created it.
    pub created_by: u32,
    /// The backend view (interface 1.2) of the balancer's last `ensure` or `update`, as JSON,
    /// with each TLS `privateKey` replaced by `sha256:<hex>` of the key; `None` when that call
    /// had no view (a fake with `backendView: off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub seq: u64,
    pub pid: u32,
    pub method: String,
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many other calls about the same object this process was still running when this one
    /// started (a host must never overlap them: see docs/vendors.md).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overlapping: u32,
    /// Whether the call was given a resolved backend view (interface 1.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub view: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The fake cloud as one value: its balancers, the balancers created and deleted (in order) and
/// the call log. What [`crate::FakeProvider::state`], [`read_state_file`] and the
/// `mcp-fake-state` command return, as JSON:
///
/// ```json
/// {"balancers": {"mci/default/web": {"status": {"ingress": [{"ip": "1.2.3.4"}]}, "createdBy": 4242,
///                                    "backends": {"resolved": true, "services": [...], "tls": []}}},
///  "created": ["mci/default/web"], "deleted": [],
///  "calls": [{"seq": 1, "pid": 4242, "method": "mci_ensure", "object": "default/web", "view": true}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub balancers: BTreeMap<String, Balancer>,
    /// Keys in creation order; a key appearing twice without a deletion in between can't happen
    /// (ensure refuses), so tests count creations per key from here.
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    pub calls: Vec<CallRecord>,
}

impl State {
    /// How many times `key` was created.
    pub fn creations(&self, key: &str) -> usize {
        self.created.iter().filter(|k| *k == key).count()
    }
}

/// What one provider call may do to the cloud; statuses and backend views are JSON text (views
/// already without private keys, see [`crate::view`]). The implementations are
/// the storage edge: they keep keys as `key.to_string()` (`mci/<namespace>/<name>`) and log
/// calls as `method.name(key.kind)` about `key.object()`.
pub(crate) trait Cloud {
    /// The balancer's status, if it exists.
    fn status(&mut self, key: &BalancerKey) -> Result<Option<String>, ProviderError>;
    /// Creates the balancer (the caller checked that it does not exist).
    fn create(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<(), ProviderError>;
    /// Replaces an existing balancer's status and backend view; `false` when there is none.
    fn set_status(&mut self, key: &BalancerKey, new: Written<'_>) -> Result<bool, ProviderError>;
    /// Removes the balancer, if it exists.
    fn delete(&mut self, key: &BalancerKey) -> Result<(), ProviderError>;
    /// Appends a call to the call log.
    fn record(&mut self, call: Call<'_>) -> Result<(), ProviderError>;
}

/// What `ensure` and `update` write for a balancer: its status and the call's backend view (if
/// it had one), as JSON text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written<'a> {
    pub status: &'a str,
    pub backends: Option<&'a str>,
}

impl<'a> Written<'a> {
    /// A status without view (for tests of the stores).
    #[cfg(test)]
    pub fn status(status: &'a str) -> Self {
        Written {
            status,
            backends: None,
        }
    }
}

/// One call, as [`Cloud::record`] logs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub method: Method,
    pub key: &'a BalancerKey,
    /// The error message, when the call failed.
    pub error: Option<&'a str>,
    /// How many other calls about the same object this process was still running when it
    /// started.
    pub overlapping: u32,
    /// Whether the call had a resolved backend view.
    pub view: bool,
}

impl<'a> Call<'a> {
    /// A successful call without view, none overlapping (for tests of the stores).
    #[cfg(test)]
    pub fn plain(method: Method, key: &'a BalancerKey) -> Self {
        Call {
            method,
            key,
            error: None,
            overlapping: 0,
            view: false,
        }
    }
}

/// This process's id, asked once (`getpid` is a system call, and each call records it).
pub(crate) fn pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}
