//! What one call sends through and gets back from the library: the entry it goes through
//! (interface 1.2's `call`, or a per-method entry), the raw output, and the decoded reply.

use std::time::Duration;

use abi_stable::std_types::{RResult, RStr, RString};
use mcp_interface::abi::{CallReply, FfiResult, InstanceId, ProviderMethod};
use mcp_interface::{ErrorKind, ProviderError};
use serde::de::DeserializeOwned;

use crate::error::CallError;
use crate::kind::Method;
use crate::payload::Encoded;

/// What `ensure` and `update` return: the balancer's status and, when the provider is still
/// provisioning it (interface 1.2), when to check back.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<S> {
    pub status: S,
    /// `Some`: the status is what the balancer has so far; call `update` again after this.
    pub check_after: Option<Duration>,
}

impl<S> From<Reply<S>> for Applied<S> {
    fn from(reply: Reply<S>) -> Self {
        Applied {
            status: reply.result,
            check_after: reply.check_after,
        }
    }
}

/// A decoded reply: the result, and the provider's "check back after" for `ensure`/`update`.
pub(crate) struct Reply<O> {
    pub(crate) result: O,
    pub(crate) check_after: Option<Duration>,
}

/// The library entry a call goes through: interface 1.2's `call`, or a per-method entry.
#[derive(Clone, Copy)]
pub(crate) enum Entry {
    Call(CallEntry, u8, u8),
    Method(ProviderMethod),
}

type CallEntry = extern "C" fn(InstanceId, u8, u8, RStr<'_>, RStr<'_>) -> RString;

/// What the entry returned.
pub(crate) enum Output {
    Call(RString),
    Method(FfiResult),
}

impl Output {
    /// The reply of `provider`'s `method`, or the error it stands for: the provider's own, or
    /// an output that is not the JSON the method returns.
    pub(crate) fn decode<O: DeserializeOwned>(
        self,
        provider: &str,
        method: Method,
    ) -> Result<Reply<O>, CallError> {
        let provider = || provider.to_owned();
        let invalid = |e: serde_json::Error, output: &str| CallError::InvalidResponse {
            provider: provider(),
            method,
            detail: format!("{e} in {:?}", &output[..output.floor_char_boundary(200)]),
        };
        let failed = |error| CallError::Provider {
            provider: provider(),
            method,
            error,
        };
        match self {
            Output::Method(RResult::RErr(error)) => Err(failed(ProviderError::from_ffi(error))),
            Output::Method(RResult::ROk(output)) => serde_json::from_str(output.as_str())
                .map(|result| Reply {
                    result,
                    check_after: None,
                })
                .map_err(|e| invalid(e, output.as_str())),
            Output::Call(reply) => match serde_json::from_str(reply.as_str()) {
                Ok(CallReply::Ok {
                    result,
                    check_after_ms,
                }) => Ok(Reply {
                    result,
                    check_after: check_after_ms.map(Duration::from_millis),
                }),
                Ok(CallReply::Err {
                    kind,
                    message,
                    retry_after_ms,
                }) => {
                    let mut error = ProviderError::new(ErrorKind::from_name(&kind), message);
                    if let Some(ms) = retry_after_ms {
                        error = error.with_retry_after(Duration::from_millis(ms));
                    }
                    Err(failed(error))
                }
                Err(e) => Err(invalid(e, reply.as_str())),
            },
        }
    }
}

impl Entry {
    /// Runs the entry with the object (and, through `call`, its backend view or `null`).
    pub(crate) fn run<K>(self, instance: InstanceId, object: &Encoded<K>) -> Output {
        let json = RStr::from_str(object.json().unwrap_or_default());
        match self {
            Entry::Call(call, kind, method) => {
                let backends = match object.backends_json() {
                    Some(Ok(view)) => view,
                    _ => "null",
                };
                Output::Call(call(instance, kind, method, json, RStr::from_str(backends)))
            }
            Entry::Method(raw) => Output::Method(raw(instance, json)),
        }
    }
}
