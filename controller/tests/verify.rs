//! `multicluster-provider verify`, the provider sanity suite, with the real binary and real
//! libraries: the fake and examples/provider pass it; the deliberately broken fixture
//! (tests/fixtures/broken-provider) fails it, each defect in the checks that cover it; dry runs
//! call nothing; `--cleanup` removes what an interrupted run left; a hung call is bounded;
//! `--expect` fails a provider that lacks a capability, and without it a lacking one is a warning.

#![forbid(unsafe_code)]

pub mod common;

use std::collections::BTreeSet;
use std::process::Output;

use common::verify::{binary, broken_library, failing_checks, report, verify};
use serde_json::Value;

fn assert_passes(out: &Output, capabilities: &[&str]) -> Value {
    let doc = report(out);
    assert!(
        out.status.success(),
        "{doc:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["summary"]["failed"], 0, "{doc:#}");
    assert_eq!(doc["summary"]["skipped"], 0, "{doc:#}");
    let checked: BTreeSet<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["capability"].as_str().unwrap())
        .collect();
    assert_eq!(checked, capabilities.iter().copied().collect());
    // Latency per method of every checked capability.
    let methods = doc["latency"].as_array().unwrap();
    assert_eq!(methods.len(), 4 * capabilities.len(), "{doc:#}");
    for m in methods {
        assert!(m["calls"].as_u64().unwrap() > 0, "{m}");
        assert!(
            m["minMs"].as_f64().unwrap() <= m["maxMs"].as_f64().unwrap(),
            "{m}"
        );
    }
    doc
}

#[test]
fn the_fake_provider_passes_verify() {
    let fake = common::fake_dir().join("libmcp_provider_fake.so");
    let out = verify(&["--json"], &fake, None);
    let doc = assert_passes(&out, &["multiclusteringress", "multiclusterservice"]);
    assert_eq!(doc["provider"]["name"], "fake");
    // 5 ingress and 4 service shapes, 10 checks each (the fake takes the backend view: the
    // backends-only update runs), and a parallel check per capability.
    assert_eq!(doc["summary"]["passed"], 5 * 10 + 4 * 10 + 2);
    // Without the view (a provider on the 1.0 traits) that check is skipped.
    let out = verify(&["--json"], &fake, Some("backendView: off\n"));
    let doc = report(&out);
    assert!(out.status.success(), "{doc:#}");
    assert_eq!(doc["summary"]["passed"], 5 * 9 + 4 * 9 + 2, "{doc:#}");
    assert_eq!(doc["summary"]["skipped"], 5 + 4, "{doc:#}");

    // The table for people, by name through --provider-dir.
    let out = binary()
        .args(["verify", "--cloud-provider=fake", "--provider-dir"])
        .arg(common::fake_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("multiclusteringress  tls  ") || text.contains("multiclusteringress  tls "),
        "{text}"
    );
    assert!(
        text.contains("PASS: 92 passed, 0 failed, 0 skipped"),
        "{text}"
    );
    assert!(text.contains("MEDIAN ms"), "{text}");
}

#[test]
fn the_example_provider_passes_verify() {
    let example =
        common::standalone_build("examples/provider/Cargo.toml").join("libmcp_provider_example.so");
    let out = verify(&["--json"], &example, None);
    assert_passes(&out, &["multiclusteringress", "multiclusterservice"]);
    // With an IPv6 address pool: the statuses hold IPv6 addresses, valid too.
    let out = verify(
        &["--json"],
        &example,
        Some(r#"{"addressPool": "2001:db8:1::/120"}"#),
    );
    let doc = assert_passes(&out, &["multiclusteringress", "multiclusterservice"]);
    assert!(
        doc["checks"].to_string().contains("2001:db8:1::1"),
        "{doc:#}"
    );
}

#[test]
fn the_broken_fixture_fails_verify_with_a_report_naming_each_broken_rule() {
    // Its default defects, as a table for people.
    let out = verify(&[], broken_library(), None);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    for needle in [
        "multiclusterservice: not supported by the provider, not checked",
        "get of an unknown object is absent",
        "`get` must return Ok(None) when the balancer does not exist, not an error",
        "ensure_deleted must succeed when the balancer is already gone",
        "update returned {\"ingress\":[{\"hostname\":\"mcp-verify-tls.g2.broken.example\"}]} but get returns {\"ingress\":[{\"hostname\":\"mcp-verify-tls.g1.broken.example\"}]}",
        "FAIL: ",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert!(
        stderr.contains("error: provider \"broken\" failed 21 of 51 checks"),
        "{stderr}"
    );

    // Each defect alone fails exactly the checks that cover it.
    let cases: [(&str, &[&str]); 9] = [
        (
            "get_unknown_not_found",
            &[
                "get of an unknown object is absent",
                "get after ensure_deleted is absent",
                "calls for different objects in parallel",
            ],
        ),
        (
            "delete_twice_not_found",
            &["ensure_deleted of a deleted balancer succeeds"],
        ),
        ("stale_get", &["get after update agrees with update"]),
        ("shared_state", &["calls for different objects in parallel"]),
        (
            "invalid_address",
            &[
                "ensure creates it with a valid status",
                "calls for different objects in parallel",
            ],
        ),
        (
            "invalid_get_address",
            &[
                "get after ensure agrees with ensure",
                "get after update agrees with update",
                "calls for different objects in parallel",
            ],
        ),
        (
            "ports_without_error",
            &[
                "ensure creates it with a valid status",
                "calls for different objects in parallel",
            ],
        ),
        (
            "update_missing_retryable",
            &["update of a missing balancer is not_found (or re-creates it)"],
        ),
        (
            "panic_on_update",
            &[
                "update of the changed object returns a valid status",
                "update of a missing balancer is not_found (or re-creates it)",
            ],
        ),
    ];
    for (defect, expected) in cases {
        let config = format!(r#"{{"defects": ["{defect}"]}}"#);
        let out = verify(&["--json"], broken_library(), Some(&config));
        let doc = report(&out);
        assert_eq!(out.status.code(), Some(1), "{defect}: {doc:#}");
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(failing_checks(&doc), expected, "{defect}: {doc:#}");
    }

    // The details say why, in the controller's own words.
    let out = verify(
        &["--json"],
        broken_library(),
        Some(r#"{"defects": ["invalid_address"]}"#),
    );
    let details = report(&out)["checks"].to_string();
    assert!(
        details.contains(r#"ingress[0].ip \"2001:db8::zz\" is not an IP address"#),
        "{details}"
    );
    assert!(details.contains("(invalid_response)"), "{details}");
    // The balancers the failed ensures may have made were deleted at the end.
    assert!(
        details.contains("clean-up: ensure_deleted of what this run created"),
        "{details}"
    );
    let out = verify(
        &["--json"],
        broken_library(),
        Some(r#"{"defects": ["panic_on_update"]}"#),
    );
    let details = report(&out)["checks"].to_string();
    assert!(
        details.contains("panicked in MultiClusterIngress update"),
        "{details}"
    );
}

#[test]
fn expect_fails_a_provider_that_lacks_a_capability_and_warns_without_it() {
    let fake = common::fake_dir().join("libmcp_provider_fake.so");
    let ingress_only = "capabilities: [multiclusteringress]\n";
    // Without --expect the run passes, with a warning that says how to make it a failure.
    let out = verify(&[], &fake, Some(ingress_only));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: provider \"fake\" does not offer multiclusterservice (MultiClusterService load balancers: its `multicluster_service()` returns None), so it is not checked; if it should, add --expect multiclusterservice"),
        "{text}"
    );
    // Expected: a failed check with the sentence, and the run fails naming it; the checks of
    // what the provider offers still run and pass.
    let out = verify(
        &[
            "--json",
            "--expect",
            "multiclusteringress,multiclusterservice",
        ],
        &fake,
        Some(ingress_only),
    );
    let doc = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let sentence = "provider \"fake\" does not offer multiclusterservice (MultiClusterService load balancers), which --expect multiclusterservice requires: its `multicluster_service()` returns None, so the controller would not hand it any";
    let expect_rows: Vec<_> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "the provider offers it (--expect)")
        .map(|c| {
            (
                c["capability"].clone(),
                c["outcome"].clone(),
                c["detail"].clone(),
            )
        })
        .collect();
    assert_eq!(
        expect_rows,
        [
            (
                "multiclusteringress".into(),
                "pass".into(),
                "offered".into()
            ),
            ("multiclusterservice".into(), "fail".into(), sentence.into()),
        ],
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["failed"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["passed"], 5 * 10 + 1 + 1, "{doc:#}");
    assert!(stderr.contains(&format!("error: {sentence}; ")), "{stderr}");
    // A provider that offers both passes with both expected (the flag is repeatable too).
    let out = verify(
        &[
            "--expect=multiclusterservice",
            "--expect=multiclusteringress",
        ],
        &fake,
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PASS: 94 passed, 0 failed"), "{text}");
    assert!(!text.contains("warning:"), "{text}");
    // One that offers neither: a warning line, and nothing passes.
    let out = verify(&[], &fake, Some("capabilities: []\n"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "warning: provider \"fake\" offers neither multiclusteringress nor multiclusterservice"
        ),
        "{stderr}"
    );
    // An unknown capability is refused by the flag's parser.
    let out = verify(&["--expect=loadbalancer"], &fake, None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_dry_run_lists_the_calls_and_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let config = format!("stateFile: {}\n", state.display());
    let fake = common::fake_dir().join("libmcp_provider_fake.so");
    let out = verify(
        &["--dry-run", "--json", "--parallel=3"],
        &fake,
        Some(&config),
    );
    let doc = report(&out);
    assert!(out.status.success(), "{doc:#}");
    let calls = doc["calls"].as_array().unwrap();
    // 10 calls per shape (5 + 4 shapes; the model takes the backend view), 4 per object of the
    // parallel check (twice).
    assert_eq!(calls.len(), 10 * 9 + 2 * 3 * 4, "{doc:#}");
    assert_eq!(calls[0]["method"], "multiclusteringress_get");
    assert_eq!(calls[0]["object"], "mcp-verify/mcp-verify-minimal");
    // The fake records every call it gets: none.
    let calls_made = common::fake_state(&state)["calls"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(calls_made, 0);

    let out = verify(&["--dry-run"], &fake, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would get these 154 calls (no call was made)"),
        "{text}"
    );
}

#[test]
fn cleanup_removes_what_an_interrupted_run_left() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fake-cloud.db");
    let fake = common::fake_dir().join("libmcp_provider_fake.so");
    let balancers = || {
        common::fake_state(&state)["balancers"]
            .as_object()
            .map(|b| b.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    // A run whose deletion of one balancer fails, told to keep what it leaves.
    let failing = format!(
        "stateFile: {}\nfaults:\n- {{method: mci_ensure_deleted, object: mcp-verify/mcp-verify-tls, action: fail, kind: retryable, message: cloud busy}}\n",
        state.display()
    );
    let out = verify(
        &["--json", "--keep", "--namespace=mcp-verify"],
        &fake,
        Some(&failing),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(balancers(), ["mci/mcp-verify/mcp-verify-tls"]);

    // The next run notices the leftover and says what to do.
    let healthy = format!("stateFile: {}\n", state.display());
    let out = verify(&["--json"], &fake, Some(&healthy));
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1));
    let leftover = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["outcome"] == "fail")
        .unwrap()
        .clone();
    assert_eq!(leftover["object"], "tls");
    assert!(
        leftover["detail"]
            .as_str()
            .unwrap()
            .contains("verify --cleanup"),
        "{leftover}"
    );

    // --cleanup deletes it; then the provider passes again.
    let out = verify(&["--cleanup", "--json"], &fake, Some(&healthy));
    assert!(out.status.success(), "{}", report(&out));
    assert!(balancers().is_empty(), "{:?}", balancers());
    let out = verify(&["--json"], &fake, Some(&healthy));
    assert_passes(&out, &["multiclusteringress", "multiclusterservice"]);
}

#[test]
fn a_hung_call_fails_its_check_after_the_call_timeout() {
    let fake = common::fake_dir().join("libmcp_provider_fake.so");
    let config = "capabilities: [multiclusteringress]\nfaults:\n- {method: mci_update, object: mcp-verify/mcp-verify-minimal, action: hang, hangMs: 600000, times: 1}\n";
    let out = verify(
        &["--json", "--provider-call-timeout=1s"],
        &fake,
        Some(config),
    );
    let doc = report(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let failing = failing_checks(&doc);
    assert_eq!(
        failing,
        BTreeSet::from(["update of the changed object returns a valid status".to_owned()]),
        "{doc:#}"
    );
    let details = doc["checks"].to_string();
    assert!(
        details.contains("did not return within 1s (timeout)"),
        "{details}"
    );
}

#[test]
fn inspect_and_verify_print_json_errors_when_the_library_does_not_load() {
    for command in ["inspect", "verify"] {
        let out = binary()
            .args([command, "--json", "/etc/hostname"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let doc = report(&out);
        assert_eq!(doc["error"]["reason"], "not_a_library", "{doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not a shared library"),
            "{doc}"
        );
        let out = binary()
            .args([command, "--json", "--cloud-provider=nope", "--provider-dir"])
            .arg(common::fake_dir())
            .output()
            .unwrap();
        let doc = report(&out);
        assert_eq!(doc["error"]["reason"], "not_found", "{doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().contains("fake"),
            "{doc}"
        );
    }
    let out = binary()
        .args(["inspect", "--json", "--cloud-config=/nonexistent", "fake"])
        .output()
        .unwrap();
    assert_eq!(report(&out)["error"]["reason"], "cloud_config");
}
