//! Unit tests of request routing and of the throttle, through the layer over a `service_fn`.

use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;

use super::*;

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
        let request = Request::post(path).body(()).unwrap();
        assert_eq!(bucket_of(&request).kind, kind, "{path}");
    }
}

#[test]
fn lists_and_watches_are_informer_traffic() {
    let informer = |method: http::Method, uri: &str| {
        let request = Request::builder().method(method).uri(uri).body(()).unwrap();
        bucket_of(&request).informer
    };
    let get = http::Method::GET;
    let mcis = "/apis/networking.karmada.io/v1alpha1/namespaces/a/multiclusteringresses";
    assert!(informer(
        get.clone(),
        &format!("{mcis}?watch=true&resourceVersion=7")
    ));
    assert!(informer(get.clone(), &format!("{mcis}?limit=500")));
    assert!(informer(get.clone(), "/api/v1/services?watch=1"));
    assert!(informer(get.clone(), "/api/v1/namespaces"));
    // One named object, a write, discovery: the kind's own client.
    assert!(!informer(get.clone(), &format!("{mcis}/web")));
    assert!(!informer(get.clone(), "/api/v1/namespaces/karmada-system"));
    assert!(!informer(http::Method::POST, mcis));
    assert!(!informer(
        http::Method::PATCH,
        &format!("{mcis}/web/status")
    ));
    assert!(!informer(get, "/apis"));
}

/// What reached the API server: method, path and query, and when (on Tokio's clock).
type Sent = Arc<Mutex<Vec<(http::Method, String, tokio::time::Instant)>>>;

/// A throttled client over a `service_fn` that answers every request at once.
fn throttled(
    limit: ApiRateLimit,
    metrics: Arc<Metrics>,
) -> (
    Throttle<impl Future<Output = Result<Response<()>, BoxError>> + Send + 'static>,
    Sent,
) {
    let sent = Sent::default();
    let record = sent.clone();
    let inner = tower::service_fn(move |req: Request<Body>| {
        let uri = req.uri().to_string();
        let at = tokio::time::Instant::now();
        record.lock().unwrap().push((req.method().clone(), uri, at));
        async { Ok::<_, BoxError>(Response::new(())) }
    });
    let layer = ThrottleLayer::new(limit, "127.0.0.1:6443", metrics);
    (layer.layer(inner), sent)
}

fn request(method: http::Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

/// Through the layer: while one kind waits for its bucket, another kind's request is sent.
#[tokio::test]
async fn a_waiting_kind_does_not_hold_back_another() {
    // One request per 1000 s: the second MCI request waits, the test never does.
    let limit = ApiRateLimit {
        qps: Some(0.001),
        burst: 1,
    };
    let (mut client, sent) = throttled(limit, Arc::new(Metrics::new()));
    let mci = "/apis/networking.karmada.io/v1alpha1/namespaces/a/multiclusteringresses/b";
    let service = "/api/v1/namespaces/a/services/b";
    client.call(request(http::Method::GET, mci)).await.unwrap();
    let mut second_mci = client.call(request(http::Method::GET, mci));
    client
        .call(request(http::Method::GET, service))
        .await
        .unwrap();
    assert!((&mut second_mci).now_or_never().is_none(), "the MCI waits");
    let paths: Vec<String> = sent.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(paths, [mci, service]);
}

/// 3000 status writes of the MCIs are queued at the default limits (73.5 s of backlog); a watch
/// reconnect and a relist of the MCIs are sent at once all the same. The clock is paused, so a
/// request that waited would show the virtual time it waited.
#[tokio::test(start_paused = true)]
async fn a_watch_reconnect_does_not_wait_behind_its_kinds_writes() {
    // --kube-api-qps and --kube-api-burst's defaults.
    let limit = ApiRateLimit {
        qps: Some(40.0),
        burst: 60,
    };
    let (mut client, sent) = throttled(limit, Arc::new(Metrics::new()));
    let start = tokio::time::Instant::now();
    let mcis = "/apis/networking.karmada.io/v1alpha1/namespaces/a/multiclusteringresses";
    let writes: Vec<_> = (0..3000)
        .map(|i| {
            let status = format!("{mcis}/mci-{i}/status");
            tokio::spawn(client.call(request(http::Method::PATCH, &status)))
        })
        .collect();
    // The writes start: the burst is sent, the rest wait for their tokens.
    tokio::task::yield_now().await;

    let watch = format!("{mcis}?watch=true&resourceVersion=42&allowWatchBookmarks=true");
    client
        .call(request(http::Method::GET, &watch))
        .await
        .unwrap();
    let list = format!("{mcis}?limit=500");
    client
        .call(request(http::Method::GET, &list))
        .await
        .unwrap();
    {
        let sent = sent.lock().unwrap();
        let sent_at = |uri: &str| sent.iter().find(|s| s.1 == uri).map(|s| s.2 - start);
        assert_eq!(sent_at(&watch), Some(Duration::ZERO), "the watch waited");
        assert_eq!(sent_at(&list), Some(Duration::ZERO), "the list waited");
        let patches = sent.iter().filter(|s| s.0 == http::Method::PATCH).count();
        assert!(
            patches <= 60,
            "{patches} writes sent: the backlog should still wait"
        );
    }

    // The writes keep their own pace: the last one goes out once the backlog has drained.
    for write in writes {
        write.await.unwrap().unwrap();
    }
    let last = sent.lock().unwrap().iter().map(|s| s.2 - start).max();
    assert!(last >= Some(Duration::from_secs(73)), "{last:?}");
}

/// A request dropped while it waits for its token gives the token back, and is not counted.
#[tokio::test(start_paused = true)]
async fn a_request_dropped_while_waiting_gives_its_token_back() {
    let limit = ApiRateLimit {
        qps: Some(1.0),
        burst: 1,
    };
    let metrics = Arc::new(Metrics::new());
    let (mut client, sent) = throttled(limit, metrics.clone());
    let start = tokio::time::Instant::now();
    let service = "/api/v1/namespaces/a/services/b";
    client
        .call(request(http::Method::DELETE, service))
        .await
        .unwrap();
    let mut dropped = client.call(request(http::Method::DELETE, service));
    assert!((&mut dropped).now_or_never().is_none(), "the second waits");
    drop(dropped);
    client
        .call(request(http::Method::DELETE, service))
        .await
        .unwrap();
    let times: Vec<Duration> = sent.lock().unwrap().iter().map(|s| s.2 - start).collect();
    // The third waits one token (1 s, to the timer's millisecond), not two: the dropped one's
    // is back.
    assert_eq!(times.len(), 2);
    assert_eq!(times[0], Duration::ZERO);
    assert!(
        times[1] >= Duration::from_secs(1) && times[1] < Duration::from_millis(1010),
        "{times:?}"
    );
    let counted = metrics
        .encode()
        .lines()
        .find(|l| l.starts_with("multicluster_provider_kube_api_requests_total{verb=\"delete\"}"))
        .map(str::to_owned);
    assert_eq!(
        counted.as_deref(),
        Some("multicluster_provider_kube_api_requests_total{verb=\"delete\"} 2")
    );
}
