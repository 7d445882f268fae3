//! The binary's command line, without a control plane: invalid flags, provider errors at
//! start-up, `inspect`, and the refusal of a provider library others can write.

use std::process::Command;

use crate::common;

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// Fails with the command's stderr unless it exited 0.
fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn invalid_flags_are_reported_together_before_connecting() {
    let out = binary()
        .args([
            "--leader-elect-lease-duration=5s",
            "--leader-elect-renew-deadline=10s",
            "--controllers=multiclusteringress,bogus",
            // 0 is client-go's default, as in Go; a negative burst would fail every request.
            "--kube-api-burst=-1",
            "--kubeconfig=/nonexistent/kubeconfig",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "--cloud-provider is required",
        "--provider-ingress-class is required",
        "--leader-elect-lease-duration (5s) must be greater than --leader-elect-renew-deadline (10s)",
        "unknown controllers bogus",
        "--kube-api-burst must not be negative",
        "--kubeconfig /nonexistent/kubeconfig does not exist",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn provider_errors_stop_start_up_with_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let run = |extra: &[&str]| {
        let out = binary()
            .args(["--provider-ingress-class=karmada.io/fake", "--provider-dir"])
            .arg(common::fake_dir())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--cloud-provider=acme"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no cloud provider named \"acme\"") && err.contains("fake ("),
        "{err}"
    );

    let config = dir.path().join("cloud.yaml");
    std::fs::write(&config, "capabilities: [multiclusteringress]\n").unwrap();
    let (code, err) = run(&[
        "--cloud-provider=fake",
        "--cloud-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("does not support what the enabled controllers need")
            && err.contains("multiclusterservice"),
        "{err}"
    );

    std::fs::write(&config, "latencyMs: [oops\n").unwrap();
    let (code, err) = run(&[
        "--cloud-provider=fake",
        "--cloud-config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cloud provider \"fake\" failed to start"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn inspect_prints_name_versions_and_capabilities() {
    let out = binary()
        .args(["inspect", "--cloud-provider=fake", "--provider-dir"])
        .arg(common::fake_dir())
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("provider:           fake"), "{text}");
    assert!(
        text.contains(&format!(
            "interface version:  {}",
            mcp_interface::INTERFACE_VERSION
        )),
        "{text}"
    );
    assert!(text.contains("multiclusteringress:  supported"), "{text}");
    let out = binary()
        .args(["inspect", "--json", "--provider-dir"])
        .arg(common::fake_dir())
        .arg("fake")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["capabilities"]["multiclusterservice"], true);

    let out = binary()
        .args(["inspect", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a shared library"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one paragraph: {err}");
}

/// `inspect` (and the manager) refuse a library whose directory others may write, as the
/// loader does, naming the directory; the development flag loads it.
#[test]
fn inspect_and_the_manager_refuse_a_library_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::fake_dir().join("libmcp_provider_fake.so"),
        dir.path().join("libmcp_provider_fake.so"),
    )
    .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = binary()
        .args([
            "inspect",
            "--json",
            "--cloud-provider=fake",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["reason"], "insecure_permissions", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{} is writable by every user (owner uid",
            dir.path().display()
        )) && message.contains("mode 0777"),
        "{message}"
    );
    // The manager refuses it before connecting anywhere.
    let out = binary()
        .args([
            "--cloud-provider=fake",
            "--provider-ingress-class=karmada.io/fake",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to load the provider library"),
        "{err}"
    );
    let out = binary()
        .args([
            "inspect",
            "--cloud-provider=fake",
            "--allow-insecure-provider-permissions",
            "--provider-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
}
