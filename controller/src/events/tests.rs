//! Unit tests of the event writer against a scripted API server (a client over a
//! `service_fn`), on a paused clock: retries wait client-go's 10 s without the test waiting.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::client::Body;
use serde_json::{Value, json};
use tower::BoxError;

use super::*;

/// One request the API server got.
#[derive(Debug)]
struct Sent {
    method: http::Method,
    path: String,
    body: Value,
    /// Since the test started, on Tokio's clock.
    at: Duration,
}

type Log = Arc<Mutex<Vec<Sent>>>;

/// A client whose API server answers with the status codes of `script` in turn, then 201.
fn scripted(script: &[u16]) -> (Client, Log) {
    let replies = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
    let log = Log::default();
    let record = log.clone();
    let start = tokio::time::Instant::now();
    let service = tower::service_fn(move |request: Request<Body>| {
        let (replies, record) = (replies.clone(), record.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = serde_json::from_slice(&body.collect_bytes().await?).unwrap_or(Value::Null);
            record.lock().unwrap().push(Sent {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                body,
                at: start.elapsed(),
            });
            let code = replies.lock().unwrap().pop_front().unwrap_or(201);
            let reason = match code {
                404 => "NotFound",
                422 => "Invalid",
                500 => "InternalError",
                503 => "ServiceUnavailable",
                _ => "",
            };
            let reply = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": if code < 300 { "Success" } else { "Failure" },
                "message": "scripted", "reason": reason, "code": code,
            });
            let reply = Body::from(serde_json::to_vec(&reply)?);
            Ok::<_, BoxError>(Response::builder().status(code).body(reply)?)
        }
    });
    (Client::new(service, "default"), log)
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn recorded(message: &str, time: Timestamp) -> Recorded {
    Recorded {
        component: "multiclusteringress-controller",
        type_: EventType::Warning,
        reason: "SyncLoadBalancerFailed",
        message: message.to_owned(),
        involved: ObjectReference {
            api_version: Some("networking.karmada.io/v1alpha1".into()),
            kind: Some("MultiClusterIngress".into()),
            namespace: Some("default".into()),
            name: Some("web".into()),
            uid: Some("uid-1".into()),
            ..ObjectReference::default()
        },
        at: Instant::now(),
        time,
    }
}

/// Runs the writer over `events` (all queued before it starts) until it has nothing left to do,
/// retries included.
async fn write(client: Client, events: Vec<Recorded>) {
    let (tx, rx) = mpsc::channel(MAX_QUEUED);
    for event in events {
        tx.try_send(Box::new(event)).unwrap();
    }
    drop(tx);
    write_events(client, rx, Arc::default(), RetryPolicy::CLIENT_GO).await;
}

const EVENTS: &str = "/api/v1/namespaces/default/events";

fn created(sent: &Sent) -> Event {
    assert_eq!(
        (&sent.method, sent.path.as_str()),
        (&http::Method::POST, EVENTS)
    );
    serde_json::from_value(sent.body.clone()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_is_retried() {
    let (client, log) = scripted(&[500]);
    write(client, vec![recorded("quota exceeded", at(0))]).await;
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    let (first, retry) = (created(&log[0]), created(&log[1]));
    assert_eq!(first, retry, "a retry sends the same Event");
    assert_eq!(retry.count, Some(1));
    // The first retry waits a random part of client-go's 10 s.
    assert!(log[1].at <= Duration::from_secs(10), "{:?}", log[1].at);
}

#[tokio::test(start_paused = true)]
async fn a_write_that_keeps_failing_is_given_up_after_12_tries() {
    let (client, log) = scripted(&[503; 12]);
    write(client, vec![recorded("quota exceeded", at(0))]).await;
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 12, "{log:?}");
    // After the randomized first wait, 10 s between tries (to the timer's millisecond).
    for pair in log[1..].windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_secs(10) && gap < Duration::from_millis(10_010));
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_event_is_not_retried() {
    let (client, log) = scripted(&[422]);
    write(client, vec![recorded("quota exceeded", at(0))]).await;
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_does_not_hold_back_the_next_event() {
    let (client, log) = scripted(&[500]);
    let other = Recorded {
        reason: "EnsuredLoadBalancer",
        ..recorded("Ensured load balancer", at(0))
    };
    write(client, vec![recorded("quota exceeded", at(0)), other]).await;
    let log = log.lock().unwrap();
    let written: Vec<_> = log.iter().map(|s| (created(s).reason, s.at)).collect();
    assert_eq!(written.len(), 3, "{written:?}");
    // The other event goes out at once; the failed one is retried after it.
    assert_eq!(
        written[1],
        (Some("EnsuredLoadBalancer".into()), Duration::ZERO)
    );
    assert_eq!(written[2].0.as_deref(), Some("SyncLoadBalancerFailed"));
}

#[tokio::test(start_paused = true)]
async fn an_expired_event_is_created_anew_with_its_count() {
    // Created, patched, then gone (Events expire): created again under its name, count 3.
    let (client, log) = scripted(&[201, 200, 404, 201, 200]);
    let events = (0..4).map(|i| recorded("quota exceeded", at(i))).collect();
    write(client, events).await;
    let log = log.lock().unwrap();
    let requests: Vec<_> = log.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(requests, ["POST", "PATCH", "PATCH", "POST", "PATCH"]);
    let first = created(&log[0]);
    let name = first.metadata.name.clone().unwrap();
    assert_eq!(log[2].path, format!("{EVENTS}/{name}"));
    let again = created(&log[3]);
    assert_eq!(again.metadata.name.as_deref(), Some(name.as_str()));
    assert_eq!(again.count, Some(3));
    assert_eq!(again.first_timestamp, Some(Time(at(0))));
    assert_eq!(again.last_timestamp, Some(Time(at(2))));
    // The next repeat patches it again, counting on.
    assert_eq!(log[4].path, format!("{EVENTS}/{name}"));
    assert_eq!(log[4].body["count"], 4);
}

#[tokio::test(start_paused = true)]
async fn a_newer_write_of_an_event_replaces_its_pending_retry() {
    // The create fails; the repeat's patch finds nothing and creates it, count 2; the pending
    // create (count 1) is not sent after it.
    let (client, log) = scripted(&[500, 404, 201]);
    let events = (0..2).map(|i| recorded("quota exceeded", at(i))).collect();
    write(client, events).await;
    let log = log.lock().unwrap();
    let requests: Vec<_> = log.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(requests, ["POST", "PATCH", "POST"]);
    assert_eq!(created(&log[2]).count, Some(2));
}
