//! Kubernetes Events the controllers record on their objects (through `Context::recorder`).

use std::future::Future;

use kube::Resource;
use kube::runtime::events::{Event, EventType};
use mcp_loader::CallError;

use crate::context::Context;
use crate::error::Result;

/// Event notes are limited to 1 kB.
const NOTE_MAX_BYTES: usize = 1024;

/// Records a Warning Event with `reason` and `action` on `obj`. A failure to record is logged,
/// never an error: the Event only reports.
pub async fn warn<K>(ctx: &Context, obj: &K, reason: &str, action: &str, note: &str)
where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_: EventType::Warning,
        reason: reason.to_owned(),
        note: Some(mcp_loader::truncate(note, NOTE_MAX_BYTES).to_owned()),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!("could not record a {reason} event: {e}");
    }
}

/// Awaits one provider call about `obj`; a failure is also reported as a Warning Event with
/// `reason`, the call named by `action` (e.g. `EnsureLoadBalancer`).
pub async fn provider_call<K, T>(
    ctx: &Context,
    obj: &K,
    reason: &str,
    action: &str,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T>
where
    K: Resource<DynamicType = ()>,
{
    match call.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let note = format!("{action} failed for the load balancer: {error}");
            warn(ctx, obj, reason, action, &note).await;
            Err(error.into())
        }
    }
}
