use std::time::Duration;

use clap::Parser;

use super::Cli;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("multicluster-provider").chain(args.iter().copied()))
        .unwrap()
}

#[test]
fn defaults_match_the_go_original() {
    let cli = parse(&[
        "--cloud-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
    ]);
    let s = cli.settings().unwrap();
    let le = s.leader_election.unwrap();
    assert_eq!(le.namespace, "karmada-system");
    assert_eq!(le.name, "multicluster-controller-manager");
    assert_eq!(le.lease_duration, Duration::from_secs(15));
    assert_eq!(le.renew_deadline, Duration::from_secs(10));
    assert_eq!(le.retry_period, Duration::from_secs(2));
    assert_eq!(s.health_address.unwrap().to_string(), "0.0.0.0:10368");
    assert_eq!(s.metrics_address.unwrap().to_string(), "0.0.0.0:8080");
    assert_eq!(s.kube_api_qps, 40.0);
    assert_eq!(s.kube_api_burst, 60);
    assert_eq!(s.backoff.base_delay, Duration::from_millis(5));
    assert_eq!(s.backoff.max_delay, Duration::from_secs(1000));
    assert_eq!(s.backoff.qps, 10);
    assert_eq!(s.backoff.bucket_size, 100);
    assert_eq!(s.resync_period, None);
    assert!(s.controllers.is_enabled("multiclusteringress"));
}

#[test]
fn the_go_flag_names_work() {
    let cli = parse(&[
        "--multicluster-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
        "--leader-elect=false",
        "--metrics-bind-address=0",
        "--controllers=*,-crd-installation",
    ]);
    let s = cli.settings().unwrap();
    assert_eq!(s.cloud_provider, "fake");
    assert!(s.leader_election.is_none());
    assert!(s.metrics_address.is_none());
    assert!(!s.controllers.is_enabled("crd-installation"));
    assert!(s.controllers.is_enabled("multiclusterservice"));
}

#[test]
fn invalid_combinations_are_reported_together() {
    let cli = parse(&[
        "--leader-elect-lease-duration=5s",
        "--leader-elect-renew-deadline=10s",
        "--controllers=multiclusteringress,nonsense",
        "--kube-api-qps=0",
        "--rate-limiter-base-delay=2s",
        "--rate-limiter-max-delay=1s",
        "--metrics-bind-address=nope",
    ]);
    let errors = cli.settings().unwrap_err();
    let all = errors.join("\n");
    for needle in [
        "--cloud-provider is required",
        "--provider-ingress-class is required",
        "must be greater than --leader-elect-renew-deadline",
        "nonsense",
        "--kube-api-qps",
        "--rate-limiter-base-delay",
        "--metrics-bind-address",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}
