//! The health (`/healthz`, `/readyz`) and metrics (`/metrics`) endpoints, plain HTTP/1, and the
//! listener every endpoint (these and profiling's) binds as Go's `net.Listen` does.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
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
use crate::settings::ListenAddress;

/// What the probes report.
#[derive(Default)]
pub struct Health {
    /// Caches synced and, when leading, controllers running.
    pub ready: AtomicBool,
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
        by_path(move |path| match path {
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
        }),
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

    #[tokio::test]
    async fn an_ip_listens_on_that_address_only() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = bind(ListenAddress::Ip(addr)).unwrap();
        assert_eq!(listener.local_addr().unwrap().ip(), addr.ip());
    }
}
