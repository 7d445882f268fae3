//! A provider call made by a reconcile: awaited, and a failure also reported as a Warning Event
//! on the object.

use std::future::Future;

use kube::Resource;
use mcp_loader::{CallError, ObjectKind};

use crate::context::Context;
use crate::error::Result;
use crate::events::Reporter;

/// Awaits one provider call about `obj`; a failure is also reported as a Warning with the
/// reporter's failure reason, naming the call (`action`, e.g. `EnsureLoadBalancer`).
pub async fn provider_call<K, T>(
    ctx: &Context,
    reporter: Reporter,
    obj: &K,
    action: &str,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T>
where
    K: Resource<DynamicType = ()> + ObjectKind,
{
    match call.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let mut note = format!("{action} failed for the load balancer: {error}");
            if let Some(delay) = error.retry_after() {
                // Interface 1.2: the tracker retries after this delay instead of the backoff's.
                ctx.metrics.provider_hint(K::KIND, "retry_after");
                note.push_str(&format!(" (the provider asked to retry in {delay:?})"));
            }
            ctx.events
                .warn(reporter, obj, reporter.failure_reason, &note);
            Err(error.into())
        }
    }
}
