//! The health (`/healthz`, `/readyz`) and metrics (`/metrics`) endpoints, plain HTTP/1, and the
//! listener every endpoint (these and profiling's) binds as Go's `net.Listen` does.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::settings::ListenAddress;

/// What the probes report.
#[derive(Default)]
pub struct Health {
    /// Caches synced and, when leading, controllers running.
    pub ready: AtomicBool,
    /// Why the process cannot go on (a cache's watch task ended), once it cannot.
    failed: OnceLock<String>,
}

impl Health {
    /// Fails every probe with `reason`, for good: the process is about to exit, and until it does
    /// the kubelet must not read it as alive or ready. The first reason is kept.
    pub fn fail(&self, reason: impl Into<String>) {
        let _ = self.failed.set(reason.into());
    }

    /// The reason given to [`Health::fail`], if it was called.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// The answer to a probe on `path`.
    fn probe(&self, path: &str) -> Response<Full<Bytes>> {
        match (path, self.failure()) {
            ("/healthz" | "/livez", Some(reason)) => {
                text(StatusCode::INTERNAL_SERVER_ERROR, reason.to_owned())
            }
            ("/healthz" | "/livez", None) => text(StatusCode::OK, "ok"),
            ("/readyz", Some(reason)) => text(StatusCode::SERVICE_UNAVAILABLE, reason.to_owned()),
            ("/readyz", None) if self.ready.load(Ordering::Relaxed) => text(StatusCode::OK, "ok"),
            ("/readyz", None) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: caches syncing or controllers starting",
            ),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

/// Binds `addr`. A wildcard listens on every address family as Go does: one IPv6 socket that
/// also accepts IPv4 (`IPV6_V6ONLY` off), or, where the host has no IPv6, an IPv4 socket.
pub fn bind(addr: ListenAddress) -> std::io::Result<TcpListener> {
    let listen = |addr: SocketAddr, dual_stack: bool| -> std::io::Result<TcpListener> {
        let domain = socket2::Domain::for_address(addr);
        let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
        if dual_stack {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    };
    match addr {
        ListenAddress::Ip(addr) => listen(addr, false),
        ListenAddress::Wildcard(port) => {
            listen(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), true).or_else(|v6| {
                listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false).map_err(|_| v6)
            })
        }
    }
}

/// Binds now (so a port clash fails start-up with a clear error) and serves in the background;
/// `handler` answers each request.
pub async fn spawn<F, Fut>(
    addr: ListenAddress,
    what: &'static str,
    handler: F,
) -> anyhow::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = bind(addr).with_context(|| format!("cannot listen on {addr} for {what}"))?;
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
                    let response = handler(req);
                    async move { Ok::<_, Infallible>(response.await) }
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

/// A handler that answers from the path alone, at once.
fn by_path(
    answer: impl Fn(&str) -> Response<Full<Bytes>> + Send + Sync + 'static,
) -> impl Fn(Request<Incoming>) -> std::future::Ready<Response<Full<Bytes>>> + Send + Sync + 'static
{
    move |req| std::future::ready(answer(req.uri().path()))
}

pub async fn serve_health(addr: ListenAddress, health: Arc<Health>) -> anyhow::Result<SocketAddr> {
    spawn(
        addr,
        "health probes (/healthz, /readyz)",
        by_path(move |path| health.probe(path)),
    )
    .await
}

pub async fn serve_metrics(
    addr: ListenAddress,
    metrics: Arc<Metrics>,
) -> anyhow::Result<SocketAddr> {
    spawn(
        addr,
        "metrics (/metrics)",
        by_path(move |path| match path {
            "/metrics" => Response::builder()
                .status(StatusCode::OK)
                .header(
                    "content-type",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
                .body(Full::new(Bytes::from(metrics.encode())))
                .expect("static response parts are valid"),
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }),
    )
    .await
}

pub fn set_ready(health: &Health, ready: bool) {
    health.ready.store(ready, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, TcpStream};

    use super::*;

    fn ipv6_loopback_works() -> bool {
        std::net::TcpListener::bind("[::1]:0").is_ok()
    }

    #[tokio::test]
    async fn a_wildcard_listens_on_every_address_family() {
        let listener = bind(ListenAddress::Wildcard(0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut families = vec![IpAddr::from(Ipv4Addr::LOCALHOST)];
        if ipv6_loopback_works() {
            assert!(
                listener.local_addr().unwrap().is_ipv6(),
                "one dual-stack socket"
            );
            families.push(IpAddr::from(Ipv6Addr::LOCALHOST));
        }
        for ip in families {
            let client = std::thread::spawn(move || TcpStream::connect((ip, port)).map(drop));
            let (_, peer) = listener.accept().await.unwrap();
            client.join().unwrap().unwrap();
            assert_eq!(peer.ip().to_canonical(), ip, "accepted from {ip}");
        }
    }

    /// `(status, body)` of the probe on `path`.
    async fn probe(health: &Health, path: &str) -> (u16, String) {
        use http_body_util::BodyExt;
        let response = health.probe(path);
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_failed_health_fails_every_probe_with_its_reason() {
        let health = Health::default();
        set_ready(&health, true);
        for path in ["/healthz", "/livez", "/readyz"] {
            assert_eq!(probe(&health, path).await, (200, "ok".to_owned()), "{path}");
        }
        health.fail("the watch of Service stopped: its stream ended");
        health.fail("a later reason");
        let reason = "the watch of Service stopped: its stream ended".to_owned();
        assert_eq!(probe(&health, "/healthz").await, (500, reason.clone()));
        assert_eq!(probe(&health, "/livez").await, (500, reason.clone()));
        assert_eq!(probe(&health, "/readyz").await, (503, reason));
        assert_eq!(probe(&health, "/other").await.0, 404);
    }

    #[tokio::test]
    async fn an_ip_listens_on_that_address_only() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = bind(ListenAddress::Ip(addr)).unwrap();
        assert_eq!(listener.local_addr().unwrap().ip(), addr.ip());
    }
}
