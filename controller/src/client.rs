//! The Kubernetes client: kubeconfig resolution, and a tower layer that enforces
//! `--kube-api-qps`/`--kube-api-burst` client-side (kube-client has no limiter of its own) and
//! counts requests by verb.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http::Request;
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::{Layer, Service};

use crate::metrics::Metrics;

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

/// A client that sends at most `qps` requests per second on average, `burst` at once.
pub fn build(
    config: Config,
    qps: f64,
    burst: u32,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Client> {
    let layer = ThrottleLayer::new(qps, burst, metrics);
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

    /// Takes a token, or says how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
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

#[derive(Clone)]
pub struct ThrottleLayer {
    bucket: Arc<Mutex<TokenBucket>>,
    metrics: Arc<Metrics>,
}

impl ThrottleLayer {
    pub fn new(qps: f64, burst: u32, metrics: Arc<Metrics>) -> Self {
        ThrottleLayer {
            bucket: Arc::new(Mutex::new(TokenBucket::new(qps, burst.max(1)))),
            metrics,
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            bucket: self.bucket.clone(),
            metrics: self.metrics.clone(),
            wait: None,
            has_token: false,
        }
    }
}

pub struct Throttle<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
    metrics: Arc<Metrics>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A token was taken for the next request and not yet spent.
    has_token: bool,
}

impl<S, B> Service<Request<B>> for Throttle<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.has_token {
            if let Some(wait) = self.wait.as_mut() {
                ready!(wait.as_mut().poll(cx));
                self.wait = None;
            }
            let taken = self
                .bucket
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_take(Instant::now());
            match taken {
                Ok(()) => self.has_token = true,
                Err(delay) => self.wait = Some(Box::pin(tokio::time::sleep(delay))),
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.has_token = false;
        let verb = verb(&request);
        self.metrics.count_api_request(verb);
        self.inner.call(request)
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
    fn bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10.0, 3);
        b.last = start;
        for _ in 0..3 {
            assert!(b.try_take(start).is_ok());
        }
        let wait = b.try_take(start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(b.try_take(start + Duration::from_millis(100)).is_ok());
    }

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
}
