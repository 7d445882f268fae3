//! The health (`/healthz`, `/readyz`) and metrics (`/metrics`) endpoints, plain HTTP/1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// What the probes report.
#[derive(Default)]
pub struct Health {
    /// Caches synced and, when leading, controllers running.
    pub ready: AtomicBool,
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

/// Binds now (so a port clash fails start-up with a clear error) and serves in the background.
pub async fn spawn<F>(
    addr: SocketAddr,
    what: &'static str,
    handler: F,
) -> anyhow::Result<SocketAddr>
where
    F: Fn(&str) -> Response<Full<Bytes>> + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    let local = listener.local_addr()?;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req.uri().path())) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tracing::info!(address = %local, "serving {what}");
    Ok(local)
}

pub async fn serve_health(addr: SocketAddr, health: Arc<Health>) -> anyhow::Result<SocketAddr> {
    spawn(
        addr,
        "health probes (/healthz, /readyz)",
        move |path| match path {
            "/healthz" | "/livez" => text(StatusCode::OK, "ok"),
            "/readyz" => {
                if health.ready.load(Ordering::Relaxed) {
                    text(StatusCode::OK, "ok")
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: caches syncing or controllers starting",
                    )
                }
            }
            _ => text(StatusCode::NOT_FOUND, "not found"),
        },
    )
    .await
}

pub async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    spawn(addr, "metrics (/metrics)", move |path| match path {
        "/metrics" => Response::builder()
            .status(StatusCode::OK)
            .header(
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(Full::new(Bytes::from(metrics.encode())))
            .expect("static response parts are valid"),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    })
    .await
}

pub fn set_ready(health: &Health, ready: bool) {
    health.ready.store(ready, Ordering::Relaxed);
}
