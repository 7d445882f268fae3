//! What a vendor does outside this repository, as docs/vendors.md tells it: a provider crate in
//! a directory of its own that vendors the `mcp-interface` crate `cargo package` makes (the copy
//! the release tarball ships, hack/release-tarball.sh) and depends on it with the documented
//! path line, built with cargo `--locked`, checked with `inspect` (whose output the docs show as
//! it is) and passing `verify`; and `mcp-try-provider` run from a directory of its own, which
//! reads each balancer back and names the object and method that failed.

#![forbid(unsafe_code)]

pub mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn vendors_md() -> String {
    std::fs::read_to_string(common::repo_root().join("docs/vendors.md")).unwrap()
}

/// The `mcp-interface = { path = "vendor/mcp-interface-<version>", ... }` line of
/// docs/vendors.md, and the vendored directory it names (relative to the vendor's crate).
fn documented_dependency(docs: &str) -> (String, String) {
    let line = docs
        .lines()
        .find(|l| l.starts_with("mcp-interface = { path = \"vendor/"))
        .expect("docs/vendors.md shows the path dependency on a vendored mcp-interface")
        .to_owned();
    let dir = format!("vendor/mcp-interface-{}", mcp_interface::INTERFACE_VERSION);
    assert!(
        line.contains(&format!("path = \"{dir}\"")),
        "the documented line names this release's crate, {dir}: {line}"
    );
    (line, dir)
}

/// `cargo package -p mcp-interface`, as hack/release-tarball.sh runs it, into `dir`: the
/// `.crate` file the tarball ships.
fn packaged_interface(dir: &Path) -> PathBuf {
    let target = dir.join("package-target");
    run(Command::new(env!("CARGO"))
        .args([
            "package",
            "--locked",
            "--allow-dirty",
            "--no-verify",
            "-p",
            "mcp-interface",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(common::repo_root()));
    target.join(format!(
        "package/mcp-interface-{}.crate",
        mcp_interface::INTERFACE_VERSION
    ))
}

/// The fenced block that follows `command` in `docs`.
fn documented_output<'a>(docs: &'a str, command: &str) -> &'a str {
    let after = &docs[docs
        .find(command)
        .unwrap_or_else(|| panic!("docs/vendors.md shows `{command}`"))..];
    let block = &after[after.find("```text\n").expect("its output follows") + "```text\n".len()..];
    &block[..block.find("```").unwrap()]
}

/// A log line without its timestamp (`2026-01-01T00:00:00.000000Z  INFO ...`), or None for a
/// line that is not one.
fn without_timestamp(line: &str) -> Option<&str> {
    let (stamp, rest) = line.split_once(' ')?;
    (stamp.len() > 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T')
        .then(|| rest.trim_start())
}

#[test]
fn a_vendor_crate_outside_the_repository_builds_against_the_packaged_crate_and_passes_verify() {
    let docs = vendors_md();
    let (documented, vendored) = documented_dependency(&docs);
    // The crate in a directory of this run's own (two runs at once do not collide), beside one
    // target directory all runs share (cargo locks it), so the vendor crate's dependencies stay
    // built from run to run.
    let work = common::target_dir().join("vendor-kit");
    std::fs::create_dir_all(&work).unwrap();
    let run_dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&work)
        .unwrap();

    // The vendor's crate: examples/provider's sources and lock file, copied out, the packaged
    // interface unpacked into vendor/ as the docs say, and the documented dependency line.
    let vendor = run_dir.path().join("mycloud");
    std::fs::create_dir_all(vendor.join("src")).unwrap();
    std::fs::create_dir_all(vendor.join("vendor")).unwrap();
    let example = common::repo_root().join("examples/provider");
    for file in ["src/lib.rs", "Cargo.lock"] {
        std::fs::copy(example.join(file), vendor.join(file)).unwrap();
    }
    let crate_file = packaged_interface(run_dir.path());
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(vendor.join("vendor")));
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    let path_dependency = manifest
        .lines()
        .find(|l| l.starts_with("mcp-interface = { path = "))
        .expect("examples/provider depends on the interface by path");
    std::fs::write(
        vendor.join("Cargo.toml"),
        manifest.replace(path_dependency, &documented),
    )
    .unwrap();

    // --locked: the documented line resolves to examples/provider's own Cargo.lock.
    let target = work.join("target");
    run(Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(vendor.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .current_dir(&vendor));
    // The interface came from the vendored crate, not from this working tree.
    let metadata: serde_json::Value = serde_json::from_str(&run(Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--locked",
            "--format-version=1",
            "--manifest-path",
        ])
        .arg(vendor.join("Cargo.toml"))))
    .unwrap();
    let interface = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mcp-interface")
        .expect("mcp-interface is a dependency");
    assert_eq!(
        Path::new(interface["manifest_path"].as_str().unwrap()),
        vendor.join(&vendored).join("Cargo.toml"),
        "mcp-interface does not come from the vendored crate"
    );

    // Copied out at once (a concurrent run's build of the same sources replaces the shared
    // target's copy), to where `cargo build --release` in the vendor's crate puts it.
    let library = vendor.join("target/release/libmcp_provider_example.so");
    std::fs::create_dir_all(library.parent().unwrap()).unwrap();
    std::fs::copy(target.join("release/libmcp_provider_example.so"), &library).unwrap();

    // `inspect` prints what docs/vendors.md shows for this command, run in the crate.
    let command = "multicluster-provider inspect target/release/libmcp_provider_example.so";
    let out = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
        .args(["inspect", "target/release/libmcp_provider_example.so"])
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .current_dir(&vendor)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown = documented_output(&docs, command);
    let (shown_log, shown_stdout): (Vec<&str>, Vec<&str>) =
        shown.lines().partition(|l| without_timestamp(l).is_some());
    assert_eq!(
        shown_stdout,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        "docs/vendors.md shows another output for `{command}`"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        shown_log
            .iter()
            .filter_map(|l| without_timestamp(l))
            .collect::<Vec<_>>(),
        stderr
            .lines()
            .filter_map(without_timestamp)
            .collect::<Vec<_>>(),
        "docs/vendors.md shows other log lines for `{command}`"
    );

    let doc: serde_json::Value = serde_json::from_str(&run(Command::new(env!(
        "CARGO_BIN_EXE_multicluster-provider"
    ))
    .args(["inspect", "--json"])
    .arg(&library)))
    .unwrap();
    assert_eq!(doc["interfaceVersion"], mcp_interface::INTERFACE_VERSION);

    let out = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
        .args(["-v=1", "verify", "--json"])
        .args(["--expect", "multiclusteringress,multiclusterservice"])
        .arg(&library)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    assert_eq!(
        report["provider"]["capabilities"]["multiclusterservice"],
        true
    );
}

/// Runs `mcp-try-provider` (built once per test binary) with `library` copied into a directory
/// of its own, as its working directory, and with `cloud_config` as the provider's cloud-config.
fn try_provider(library: &Path, args: &[&str], cloud_config: Option<&str>) -> (Output, TempDir) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::cargo(&[
            "build".as_ref(),
            "-p".as_ref(),
            "mcp-testenv".as_ref(),
            "--bin".as_ref(),
            "mcp-try-provider".as_ref(),
        ])
    });
    let vendor = tempfile::tempdir().unwrap();
    std::fs::copy(library, vendor.path().join(library.file_name().unwrap())).unwrap();
    let mut cmd = Command::new(common::target_dir().join("debug/mcp-try-provider"));
    cmd.current_dir(vendor.path())
        .arg("--provider-dir=.")
        .args(args)
        .arg("--controller")
        .arg(env!("CARGO_BIN_EXE_multicluster-provider"))
        .arg("--work-dir")
        .arg(vendor.path().join("work"));
    if let Some(config) = cloud_config {
        let path = vendor.path().join("cloud-config.json");
        std::fs::write(&path, config).unwrap();
        cmd.arg("--cloud-config").arg(path);
    }
    (cmd.output().unwrap(), vendor)
}

/// `mcp-try-provider`, run from a directory outside the repository with the vendor's library:
/// control plane up, sample MCI and MCS of the provider's class, controller with the library,
/// statuses printed after each balancer read back, everything stopped.
#[test]
fn the_try_command_shows_the_statuses_the_provider_gives_from_any_directory() {
    let library =
        common::standalone_build("examples/provider/Cargo.toml").join("libmcp_provider_example.so");
    let (out, vendor) = try_provider(&library, &["--cloud-provider=example"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "MultiClusterIngress default/minimal-ingress:\n  status.loadBalancer: {\"ingress\":[{\"hostname\":\"minimal-ingress.default.lb.example.com\"}]}\n  get after ensure and after update: valid"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "MultiClusterService default/web:\n  status.loadBalancer: {\"ingress\":[{\"ip\":\"198.51.100.1\",\"ipMode\":\"VIP\"}]}\n  get after ensure and after update: valid"
        ),
        "{stdout}"
    );
    // The controller was stopped cleanly and logged the provider's events: the balancers were
    // created, then read back and updated.
    let log = std::fs::read_to_string(vendor.path().join("work/controller.log")).unwrap();
    assert!(log.contains("created a service load balancer"), "{log}");
}

/// A provider whose `ensure` returns a valid address but whose `get` returns an invalid one
/// fails when the balancer is read back; one whose `ensure` returns an invalid address gets
/// none. Either error names the object and the provider method.
#[test]
fn the_try_command_reads_each_balancer_back_and_names_the_object_and_method_that_failed() {
    // (defect, --timeout, what stderr says). The balancer the invalid `ensure` made is invalid
    // too: its last failed reconcile is in `get` or `ensure`, whichever came last.
    let cases = [
        (
            "invalid_get_address",
            "--timeout=60",
            &[
                "mcp-try-provider: MultiClusterIngress default/minimal-ingress after ensure: the controller refused a status: provider \"broken\" multiclusteringress_get returned a result the controller cannot read: ingress[0].ip \"198.51.100.300\" is not an IP address\n",
            ][..],
        ),
        (
            "invalid_address",
            "--timeout=10",
            &[
                "not every sample object got an address within 10s:\n  MultiClusterIngress default/minimal-ingress got no address; its last reconcile failed: provider \"broken\" multiclusteringress_",
                "ingress[0].ip \"2001:db8::zz\" is not an IP address\n",
            ],
        ),
    ];
    for (defect, timeout, needles) in cases {
        let config = format!(r#"{{"defects": ["{defect}"]}}"#);
        let (out, _dir) = try_provider(
            common::verify::broken_library(),
            &["--cloud-provider=broken", timeout],
            Some(&config),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{defect}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{defect}: {needle:?} not in {stderr}"
            );
        }
    }
}
