use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use super::values::{listen_address, quantity};
use super::{Cli, normalize};
use crate::settings::{ApiRateLimit, ListenAddress, LogFormat, LoggingSettings};

fn try_parse(args: &[&str]) -> Result<Cli, clap::Error> {
    let args = std::iter::once("multicluster-provider")
        .chain(args.iter().copied())
        .map(OsString::from);
    Cli::try_parse_from(normalize(args))
}

fn parse(args: &[&str]) -> Cli {
    try_parse(args).unwrap()
}

/// The flags every test needs.
const REQUIRED: [&str; 2] = [
    "--multicluster-provider=fake",
    "--provider-ingress-class=karmada.io/fake",
];

fn with_required(args: &[&'static str]) -> Vec<&'static str> {
    REQUIRED.iter().chain(args).copied().collect()
}

fn logging(args: &[&'static str]) -> Result<LoggingSettings, Vec<String>> {
    parse(&with_required(args)).logging.settings()
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
    // Go listens on every address family for 0.0.0.0 and :PORT.
    assert_eq!(s.health_address, Some(ListenAddress::Wildcard(10368)));
    assert_eq!(s.metrics_address, Some(ListenAddress::Wildcard(8080)));
    assert_eq!(s.profiling_address, None);
    assert_eq!(
        s.api_rate_limit,
        ApiRateLimit {
            qps: Some(40.0),
            burst: 60
        }
    );
    assert_eq!(s.backoff.base_delay, Duration::from_millis(5));
    assert_eq!(s.backoff.max_delay, Duration::from_secs(1000));
    assert_eq!(s.backoff.qps, 10);
    assert_eq!(s.backoff.bucket_size, 100);
    assert_eq!(s.resync_period, None);
    assert!(s.controllers.is_enabled("multiclusteringress"));
    let log = cli.logging.settings().unwrap();
    assert_eq!(log.format, LogFormat::Text);
    assert_eq!(log.verbosity, 0);
    assert_eq!(log.flush_frequency, Duration::from_secs(5));
    assert!(!log.split_stream && log.notes.is_empty());
}

/// Every flag of the Go binary's `--help` (options.go, Karmada's profileflag and
/// ratelimiterflag, component-base's logs flags and feature gates), with a value of its type:
/// all accepted together.
#[test]
fn every_go_flag_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config");
    std::fs::write(&file, "x").unwrap();
    let cloud_config = format!("--cloud-config={}", file.display());
    let kubeconfig = format!("--kubeconfig={}", file.display());
    let go_flags = [
        "--bind-address=0.0.0.0",
        &cloud_config,
        "--enable-pprof",
        "--feature-gates=AllAlpha=false,AllBeta=false,ContextualLogging=true,LoggingAlphaOptions=true,LoggingBetaOptions=true",
        "--kube-api-burst=60",
        "--kube-api-qps=40",
        &kubeconfig,
        "--leader-elect=true",
        "--leader-elect-lease-duration=15s",
        "--leader-elect-renew-deadline=10s",
        "--leader-elect-resource-namespace=karmada-system",
        "--leader-elect-retry-period=2s",
        "--metrics-bind-address=:8080",
        "--multicluster-provider=fake",
        "--profiling-bind-address=:6060",
        "--provider-ingress-class=karmada.io/fake",
        "--rate-limiter-base-delay=5ms",
        "--rate-limiter-bucket-size=100",
        "--rate-limiter-max-delay=16m40s",
        "--rate-limiter-qps=10",
        "--resync-period=0s",
        "--secure-port=10368",
        "--log-flush-frequency=5s",
        "--log-json-info-buffer-size=0",
        "--log-json-split-stream=false",
        "--log-text-info-buffer-size=4Ki",
        "--log-text-split-stream",
        "--logging-format=text",
        "-v=4",
        "--vmodule=leader=5,cache=4",
    ];
    let cli = try_parse(&go_flags).unwrap_or_else(|e| panic!("{e}"));
    let s = cli.settings().unwrap();
    assert_eq!(s.profiling_address, Some(ListenAddress::Wildcard(6060)));
    assert_eq!(s.backoff.max_delay, Duration::from_secs(1000));
    let log = cli.logging.settings().unwrap();
    assert_eq!(log.verbosity, 4);
    assert_eq!(log.vmodule.len(), 2);
    assert!(log.split_stream);
    assert_eq!(log.info_buffer_bytes, 4096);
    // The Go Deployment's own arguments, and its `--v 4` form.
    let deployment = [
        "--kubeconfig",
        file.to_str().unwrap(),
        "--bind-address=0.0.0.0",
        "--secure-port=10368",
        "--multicluster-provider=fake",
        "--provider-ingress-class=karmada.io/fake",
        "--v",
        "4",
    ];
    assert_eq!(parse(&deployment).logging.verbosity, 4);
    // A flag given twice takes its last value, as with pflag.
    assert_eq!(parse(&["--v=4", "--v=0"]).logging.verbosity, 0);
}

#[test]
fn the_go_binary_name_selects_its_provider() {
    let of = |p: &str| super::provider_of_program(&OsString::from(p));
    assert_eq!(
        of("/bin/multicluster-provider-fake").as_deref(),
        Some("fake")
    );
    assert_eq!(of("multicluster-provider-acme").as_deref(), Some("acme"));
    assert_eq!(of("/usr/local/bin/multicluster-provider"), None);
    assert_eq!(of("multicluster-provider-"), None);
}

#[test]
fn flag_names_are_normalized_as_go_does() {
    let cli = parse(&with_required(&[
        "--leader_elect=false",
        "--kube_api_qps",
        "7",
    ]));
    let s = cli.settings().unwrap();
    assert!(s.leader_election.is_none());
    assert_eq!(s.api_rate_limit.qps, Some(7.0));
    // Values and positional arguments are left alone.
    let normalized = normalize(["x", "--a_b=c_d", "e_f", "--", "--g_h"].map(OsString::from));
    assert_eq!(normalized, ["x", "--a-b=c_d", "e_f", "--", "--g_h"]);
}

#[test]
fn values_mean_what_they_mean_in_go() {
    // Karmada's ratelimiterflag: zero or negative is the default; base above max is allowed.
    let s = parse(&with_required(&[
        "--rate-limiter-base-delay=0",
        "--rate-limiter-max-delay=-1s",
        "--rate-limiter-qps=0",
        "--rate-limiter-bucket-size=-5",
    ]))
    .settings()
    .unwrap();
    assert_eq!(s.backoff.base_delay, Duration::from_millis(5));
    assert_eq!(s.backoff.max_delay, Duration::from_secs(1000));
    assert_eq!((s.backoff.qps, s.backoff.bucket_size), (10, 100));
    let s = parse(&with_required(&[
        "--rate-limiter-base-delay=2s",
        "--rate-limiter-max-delay=1s",
    ]))
    .settings()
    .unwrap();
    assert_eq!(s.backoff.base_delay, Duration::from_secs(2));
    // client-go: 0 is its default (5 QPS, burst 10), a negative QPS no limit.
    let s = parse(&with_required(&["--kube-api-qps=0", "--kube-api-burst=0"]))
        .settings()
        .unwrap();
    assert_eq!(
        s.api_rate_limit,
        ApiRateLimit {
            qps: Some(5.0),
            burst: 10
        }
    );
    let s = parse(&with_required(&["--kube-api-qps", "-1"]))
        .settings()
        .unwrap();
    assert_eq!(s.api_rate_limit.qps, None);
    let errors = parse(&with_required(&["--kube-api-burst=-1"]))
        .settings()
        .unwrap_err();
    assert!(errors.join("").contains("--kube-api-burst"), "{errors:?}");
    // Go's bools.
    for (value, elect) in [("F", false), ("0", false), ("True", true), ("1", true)] {
        let arg = format!("--leader-elect={value}");
        let cli = try_parse(&[REQUIRED[0], REQUIRED[1], &arg]).unwrap();
        assert_eq!(cli.settings().unwrap().leader_election.is_some(), elect);
    }
    assert!(try_parse(&["--leader-elect=yes"]).is_err());
    // A negative resync period is no resync, as in client-go.
    let s = parse(&with_required(&["--resync-period=-1m"]))
        .settings()
        .unwrap();
    assert_eq!(s.resync_period, None);
}

#[test]
fn listen_addresses_as_go_listens() {
    let wildcard = |v: &str| listen_address(v).unwrap();
    assert_eq!(wildcard(":8080"), ListenAddress::Wildcard(8080));
    assert_eq!(wildcard("0.0.0.0:8080"), ListenAddress::Wildcard(8080));
    assert_eq!(wildcard("[::]:8080"), ListenAddress::Wildcard(8080));
    assert_eq!(
        wildcard("127.0.0.1:8080"),
        ListenAddress::Ip("127.0.0.1:8080".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(
        wildcard("[::1]:8080"),
        ListenAddress::Ip("[::1]:8080".parse::<SocketAddr>().unwrap())
    );
    assert!(matches!(wildcard("localhost:8080"), ListenAddress::Ip(a) if a.ip().is_loopback()));
    for bad in ["nope", "8080", ":http", "1.2.3.4:99999"] {
        assert!(listen_address(bad).is_err(), "{bad}");
    }
    let s = parse(&with_required(&["--bind-address=::"]))
        .settings()
        .unwrap();
    assert_eq!(s.health_address, Some(ListenAddress::Wildcard(10368)));
    let errors = parse(&with_required(&[
        "--enable-pprof=true",
        "--profiling-bind-address=:8080",
    ]))
    .settings()
    .unwrap_err();
    assert!(
        errors
            .join("")
            .contains("--metrics-bind-address and --profiling-bind-address"),
        "{errors:?}"
    );
}

#[test]
fn quantities_as_kubernetes_reads_them() {
    for (value, bytes) in [
        ("0", 0),
        ("512", 512),
        ("1k", 1000),
        ("2Ki", 2048),
        ("3M", 3_000_000),
        ("5Mi", 5 * 1024 * 1024),
        ("1e3", 1000),
        ("0.5Ki", 512),
        ("500m", 1),
    ] {
        assert_eq!(quantity(value), Ok(bytes), "{value}");
    }
    // The Go binary refuses 1K too (k8s quantities spell kilo in lower case).
    for bad in ["1K", "x", "1Kb", ""] {
        assert!(quantity(bad).is_err(), "{bad}");
    }
}

#[test]
fn logging_flags_and_gates_are_validated_as_go_does() {
    // JSON is a beta format: on by default, off with LoggingBetaOptions=false (or AllBeta=false
    // does not turn it off: an explicit gate wins over AllBeta, AllBeta over the default).
    assert_eq!(
        logging(&["--logging-format=json"]).unwrap().format,
        LogFormat::Json
    );
    let errors = logging(&[
        "--logging-format=json",
        "--feature-gates=LoggingBetaOptions=false",
    ])
    .unwrap_err();
    assert!(errors[0].contains("LoggingBetaOptions"), "{errors:?}");
    assert!(logging(&["--logging-format=json", "--feature-gates=AllBeta=false"]).is_err());
    assert!(
        logging(&[
            "--logging-format=json",
            "--feature-gates=AllBeta=false",
            "--feature-gates=LoggingBetaOptions=true"
        ])
        .is_ok()
    );
    // Split streams and buffers are alpha: refused without the gate, even for the other format.
    for flag in [
        "--log-text-split-stream",
        "--log-json-split-stream=true",
        "--log-text-info-buffer-size=1Mi",
        "--log-json-info-buffer-size=1k",
    ] {
        let errors = logging(&[flag]).unwrap_err();
        assert!(
            errors[0].contains("LoggingAlphaOptions"),
            "{flag}: {errors:?}"
        );
    }
    let split = logging(&[
        "--feature-gates=AllAlpha=true",
        "--logging-format=json",
        "--log-json-split-stream",
        "--log-json-info-buffer-size=64Ki",
    ])
    .unwrap();
    assert!(split.split_stream);
    assert_eq!(split.info_buffer_bytes, 64 * 1024);
    // A buffer without a split stream buffers nothing, as in Go.
    let unsplit = logging(&[
        "--feature-gates=LoggingAlphaOptions=true",
        "--log-text-info-buffer-size=1Mi",
    ])
    .unwrap();
    assert_eq!(unsplit.info_buffer_bytes, 0);
    // --vmodule only with text; unknown formats refused.
    assert!(logging(&["--logging-format=json", "--vmodule=leader=4"]).is_err());
    let errors = logging(&["--logging-format=xml"]).unwrap_err();
    assert!(errors[0].contains("\"xml\" is not supported"), "{errors:?}");
    // ContextualLogging means nothing here: accepted, said once.
    let notes = logging(&["--feature-gates=ContextualLogging=false"])
        .unwrap()
        .notes;
    assert!(notes[0].contains("ContextualLogging"), "{notes:?}");
}

#[test]
fn unknown_gates_and_bad_values_are_refused_while_parsing() {
    for (args, needle) in [
        (
            &["--feature-gates=Foo=true"][..],
            "unrecognized feature gate: Foo",
        ),
        (
            &["--feature-gates=LoggingAlphaOptions"],
            "missing bool value",
        ),
        (
            &["--feature-gates=AllAlpha=maybe"],
            "invalid value of AllAlpha=maybe",
        ),
        (&["--vmodule=leader"], "pattern=N"),
        (&["-v=x"], "verbosity level"),
        (&["--log-text-info-buffer-size=1K"], "not a quantity"),
        (&["--enable-pprof=yes"], "not a bool"),
    ] {
        let error = try_parse(args).unwrap_err().to_string();
        assert!(error.contains(needle), "{args:?}: {error}");
    }
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
        "--kube-api-qps=NaN",
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
        "--metrics-bind-address",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}
