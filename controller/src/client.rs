//! The Kubernetes client: kubeconfig resolution, and a tower layer that enforces
//! `--kube-api-qps`/`--kube-api-burst` client-side (kube-client has no limiter of its own) and
//! counts requests.
//!
//! As in the Go original, where controller-runtime builds one REST client per resource kind,
//! each with its own client-go token bucket, every resource kind (group and resource, from the
//! request path) has its own bucket; so do the Lease of leader election and Events, as their
//! own clients do in Go. A busy kind (say the MultiClusterIngresses' status patches) does not
//! hold back another kind's requests.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http::{Request, Response};
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::buffer::Buffer;
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::metrics::Metrics;
use crate::settings::ApiRateLimit;

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

/// A token bucket: `rate` tokens per second, at most `capacity` stored.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, capacity: u32) -> Self {
        TokenBucket {
            rate,
            capacity: f64::from(capacity),
            tokens: f64::from(capacity),
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Starts over at `now` with a full bucket.
    pub fn reset(&mut self, now: Instant) {
        self.tokens = self.capacity;
        self.last = now;
    }

    /// Takes a token if there is one (client-go's `TryAccept`).
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Reserves a token now and returns how long the caller must wait before using it (client-go
    /// `rate.Limiter.Reserve().Delay()`): the token count may go negative.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// The token buckets, one per resource kind, created on first use.
pub struct KindBuckets {
    limit: ApiRateLimit,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl KindBuckets {
    pub fn new(limit: ApiRateLimit) -> Self {
        KindBuckets {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves a token of `kind`'s bucket; how long the request must wait for it.
    pub fn reserve(&self, kind: &str, now: Instant) -> Duration {
        let Some(qps) = self.limit.qps else {
            return Duration::ZERO;
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = buckets.get_mut(kind) {
            return bucket.reserve(now);
        }
        let mut bucket = TokenBucket::new(qps, self.limit.burst.max(1));
        bucket.reset(now);
        let delay = bucket.reserve(now);
        buckets.insert(kind.to_owned(), bucket);
        delay
    }
}

/// The resource kind a request is about, `group/resource` (`/resource` for the core group), or
/// `discovery` for what is not a resource (`/version`, `/api`, `/apis`).
pub fn kind_of(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return "discovery".to_owned(),
    };
    let resource = match rest {
        ["namespaces", _, resource, ..] => *resource,
        [resource, ..] if !resource.is_empty() => *resource,
        _ => return "discovery".to_owned(),
    };
    format!("{group}/{resource}")
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
        let delay = self
            .buckets
            .reserve(&kind_of(request.uri().path()), Instant::now());
        let method = method(&request);
        self.metrics.count_api_request(verb(&request));
        let mut inner = self.inner.clone();
        let (host, metrics) = (self.host, self.metrics.clone());
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let response = inner.ready().await?.call(request).await;
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

fn verb<B>(request: &Request<B>) -> &'static str {
    match *request.method() {
        http::Method::GET => {
            if request
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
            {
                "watch"
            } else {
                "get"
            }
        }
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_queue_up() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10.0, 1);
        b.last = start;
        assert_eq!(b.reserve(start), Duration::ZERO);
        let second = b.reserve(start);
        let third = b.reserve(start);
        assert!((second.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((third.as_secs_f64() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn watch_requests_are_told_apart() {
        let r = Request::get("/api/v1/services?watch=true&resourceVersion=1")
            .body(())
            .unwrap();
        assert_eq!(verb(&r), "watch");
        let r = Request::get("/api/v1/services?limit=500").body(()).unwrap();
        assert_eq!(verb(&r), "get");
    }

    #[test]
    fn requests_are_sorted_by_kind() {
        for (path, kind) in [
            ("/api/v1/services", "/services"),
            ("/api/v1/namespaces/default/services/web", "/services"),
            ("/api/v1/namespaces/default/events", "/events"),
            ("/api/v1/namespaces", "/namespaces"),
            ("/api/v1/namespaces/karmada-system", "/namespaces"),
            (
                "/apis/networking.karmada.io/v1alpha1/namespaces/a/multiclusteringresses/b/status",
                "networking.karmada.io/multiclusteringresses",
            ),
            (
                "/apis/coordination.k8s.io/v1/namespaces/karmada-system/leases/x",
                "coordination.k8s.io/leases",
            ),
            (
                "/apis/policy.karmada.io/v1alpha1/clusterpropagationpolicies",
                "policy.karmada.io/clusterpropagationpolicies",
            ),
            ("/version", "discovery"),
            ("/apis", "discovery"),
            ("/apis/networking.karmada.io/v1alpha1", "discovery"),
        ] {
            assert_eq!(kind_of(path), kind, "{path}");
        }
    }

    #[test]
    fn each_kind_has_its_own_bucket() {
        let start = Instant::now();
        let buckets = KindBuckets::new(ApiRateLimit {
            qps: Some(10.0),
            burst: 2,
        });
        let mci = "networking.karmada.io/multiclusteringresses";
        assert_eq!(buckets.reserve(mci, start), Duration::ZERO);
        assert_eq!(buckets.reserve(mci, start), Duration::ZERO);
        // The MCIs' burst is spent: the next one waits 100 ms, the Services' none.
        assert!((buckets.reserve(mci, start).as_secs_f64() - 0.1).abs() < 1e-9);
        assert_eq!(buckets.reserve("/services", start), Duration::ZERO);
        assert_eq!(
            buckets.reserve("coordination.k8s.io/leases", start),
            Duration::ZERO
        );
        let unlimited = KindBuckets::new(ApiRateLimit {
            qps: None,
            burst: 0,
        });
        for _ in 0..1000 {
            assert_eq!(unlimited.reserve(mci, start), Duration::ZERO);
        }
    }

    /// Through the layer: while one kind waits for its bucket, another kind's request is sent.
    #[tokio::test]
    async fn a_waiting_kind_does_not_hold_back_another() {
        use futures::FutureExt;

        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let record = sent.clone();
        let inner = tower::service_fn(move |req: Request<Body>| {
            record.lock().unwrap().push(req.uri().path().to_owned());
            async { Ok::<_, BoxError>(Response::new(())) }
        });
        // One request per 1000 s: the second MCI request waits, the test never does.
        let layer = ThrottleLayer::new(
            ApiRateLimit {
                qps: Some(0.001),
                burst: 1,
            },
            "127.0.0.1:6443",
            Arc::new(Metrics::new()),
        );
        let mut client = layer.layer(inner);
        let mci = "/apis/networking.karmada.io/v1alpha1/namespaces/a/multiclusteringresses/b";
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        client.call(get(mci)).await.unwrap();
        let mut second_mci = client.call(get(mci));
        client
            .call(get("/api/v1/namespaces/a/services/b"))
            .await
            .unwrap();
        assert!((&mut second_mci).now_or_never().is_none(), "the MCI waits");
        assert_eq!(
            *sent.lock().unwrap(),
            [mci, "/api/v1/namespaces/a/services/b"]
        );
    }
}
