//! Unit tests of the metrics bookkeeping.

use super::*;

fn value(metrics: &Metrics, series: &str) -> Option<f64> {
    metrics
        .encode()
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn a_reconcile_is_an_active_worker_until_it_ends() {
    use futures::FutureExt;

    let metrics = Metrics::new();
    metrics.controller_started("multiclusteringress-controller", 10);
    let workers =
        r#"controller_runtime_active_workers{controller="multiclusteringress-controller"}"#;
    assert_eq!(value(&metrics, workers), Some(0.0));
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let mut reconcile = Box::pin(metrics.count_and_measure(
        "multiclusteringress",
        "multiclusteringress-controller",
        wait,
    ));
    assert!((&mut reconcile).now_or_never().is_none());
    assert_eq!(value(&metrics, workers), Some(1.0));
    release.send(()).unwrap();
    reconcile.await.unwrap();
    assert_eq!(value(&metrics, workers), Some(0.0));
    let timed = r#"controller_runtime_reconcile_time_seconds_count{controller="multiclusteringress-controller"}"#;
    assert_eq!(value(&metrics, timed), Some(1.0));
    // Dropped half-way (leadership lost): no longer active, not counted.
    let (_keep, never) = tokio::sync::oneshot::channel::<()>();
    let mut dropped = Box::pin(metrics.count_and_measure(
        "multiclusteringress",
        "multiclusteringress-controller",
        never,
    ));
    assert!((&mut dropped).now_or_never().is_none());
    drop(dropped);
    assert_eq!(value(&metrics, workers), Some(0.0));
    assert_eq!(value(&metrics, timed), Some(1.0));
    metrics.reconcile_ended("multiclusteringress-controller", ReconcileResult::Error);
    let errors = r#"controller_runtime_reconcile_total{controller="multiclusteringress-controller",result="error"}"#;
    assert_eq!(value(&metrics, errors), Some(1.0));
}
