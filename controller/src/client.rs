//! The Kubernetes client: kubeconfig resolution, and a tower layer that enforces
//! `--kube-api-qps`/`--kube-api-burst` client-side (kube-client has no limiter of its own) and
//! counts requests.
//!
//! As in the Go original, where controller-runtime builds one REST client per resource kind,
//! each with its own client-go token bucket, every resource kind (group and resource, from the
//! request path) has its own bucket; so do the Events, as their own client does in Go (leader
//! election builds a client of its own). A busy kind (say the MultiClusterIngresses' status
//! patches) does not hold back another kind's requests. A kind's lists and watches (what its
//! cache sends) have a bucket of their own too, as controller-runtime's informers have their own
//! client: a relist or a watch reconnect never waits behind its kind's backlog of writes. A
//! request given up while it waits for its token gives the token back to the next one.

mod bucket;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::Context as _;
use http::{Request, Response};
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::buffer::Buffer;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::metrics::Metrics;
use crate::settings::ApiRateLimit;
use bucket::{BucketKey, KindBuckets};

/// Loads the client configuration: `--kubeconfig`, else `$KUBECONFIG` / `~/.kube/config`, else
/// the in-cluster service account.
pub async fn load_config(kubeconfig: Option<&Path>) -> anyhow::Result<Config> {
    match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read --kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("invalid --kubeconfig {}", path.display()))
        }
        None => Config::infer().await.context(
            "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run in a cluster",
        ),
    }
}

/// A client that sends at most `limit.qps` requests per second per resource kind on average,
/// `limit.burst` at once.
pub fn build(config: Config, limit: ApiRateLimit, metrics: Arc<Metrics>) -> anyhow::Result<Client> {
    let host = config
        .cluster_url
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // One API server per process: its name is a static metric label.
    let host: &'static str = Box::leak(host.into_boxed_str());
    let layer = ThrottleLayer::new(limit, host, metrics);
    let builder = ClientBuilder::try_from(config).context("cannot build the Kubernetes client")?;
    Ok(builder.with_layer(&layer).build())
}

/// What a request's path is about: a resource kind, and whether it names one object.
struct Target<'a> {
    group: &'a str,
    resource: &'a str,
    named: bool,
}

/// `None` for what is not a resource (`/version`, `/api`, `/apis`).
fn target(path: &str) -> Option<Target<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (resource, tail) = match rest {
        ["namespaces", _, resource, tail @ ..] => (*resource, tail),
        [resource, tail @ ..] if !resource.is_empty() => (*resource, tail),
        _ => return None,
    };
    Some(Target {
        group,
        resource,
        named: !tail.is_empty(),
    })
}

/// The bucket of `request`: its resource kind's, `group/resource` (`/resource` for the core
/// group, `discovery` for what is not a resource), and for a list or a watch (a GET of a
/// collection; a GET of one named object is not) that kind's informers'.
fn bucket_of<B>(request: &Request<B>) -> BucketKey {
    let target = target(request.uri().path());
    let informer = request.method() == http::Method::GET
        && (is_watch(request) || target.as_ref().is_some_and(|t| !t.named));
    let kind = match target {
        Some(Target {
            group, resource, ..
        }) => format!("{group}/{resource}"),
        None => "discovery".to_owned(),
    };
    BucketKey { kind, informer }
}

/// The buckets' clock: Tokio's, the clock the waits sleep on (and a paused test clock).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[derive(Clone)]
pub struct ThrottleLayer {
    buckets: Arc<KindBuckets>,
    host: &'static str,
    metrics: Arc<Metrics>,
}

impl ThrottleLayer {
    /// `host` is the API server's `host:port`, the `host` label of `rest_client_requests_total`.
    pub fn new(limit: ApiRateLimit, host: &'static str, metrics: Arc<Metrics>) -> Self {
        ThrottleLayer {
            buckets: Arc::new(KindBuckets::new(limit)),
            host,
            metrics,
        }
    }
}

/// Requests queued in the buffer between the throttle and the client stack.
const BUFFER: usize = 1024;

impl<S, B> Layer<S> for ThrottleLayer
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + Sync,
{
    type Service = Throttle<S::Future>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            // A buffer, so each request waits for its own kind's token in its own future
            // without holding back the others.
            inner: Buffer::new(inner, BUFFER),
            buckets: self.buckets.clone(),
            host: self.host,
            metrics: self.metrics.clone(),
        }
    }
}

pub struct Throttle<F> {
    inner: Buffer<Request<Body>, F>,
    buckets: Arc<KindBuckets>,
    host: &'static str,
    metrics: Arc<Metrics>,
}

impl<F, B, E> Service<Request<Body>> for Throttle<F>
where
    F: Future<Output = Result<Response<B>, E>> + Send + 'static,
    E: Into<BoxError> + Send + Sync,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each request waits for its bucket and the buffer in its own future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let reservation = self.buckets.reserve(bucket_of(&request), now());
        let (method, verb) = (method(&request), verb(&request));
        let mut inner = self.inner.clone();
        let (host, metrics) = (self.host, self.metrics.clone());
        Box::pin(async move {
            // From the reservation on, not from this future's first poll.
            if !reservation.delay().is_zero() {
                tokio::time::sleep_until(reservation.act_at().into()).await;
            }
            let inner = inner.ready().await?;
            // Sent from here on: the token is spent, and the request counts. One dropped before
            // (its caller gave up while it waited) is not counted, as client-go counts the
            // requests it sends.
            reservation.consume();
            metrics.count_api_request(verb);
            let response = inner.call(request).await;
            metrics.count_rest_client_request(
                response.as_ref().ok().map(|r| r.status().as_u16()),
                method,
                host,
            );
            response
        })
    }
}

/// The HTTP method, as client-go's `rest_client_requests_total` labels it.
fn method<B>(request: &Request<B>) -> &'static str {
    match *request.method() {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

fn is_watch<B>(request: &Request<B>) -> bool {
    request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

fn verb<B>(request: &Request<B>) -> &'static str {
    match *request.method() {
        http::Method::GET if is_watch(request) => "watch",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
