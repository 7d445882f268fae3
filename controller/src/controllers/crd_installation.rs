//! `crd-installation`: being implemented (placeholder so the crate builds).

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::context::{CacheKind, Context};

pub const NAME: &str = "crd-installation";

pub const CACHES: &[CacheKind] = &[];

pub fn run(
    _ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        tracing::error!(controller = NAME, "not implemented yet");
        shutdown.await
    })
}
