//! What a vendor does outside this repository, as docs/vendors.md tells it: a provider crate in
//! a directory of its own that depends on `mcp-interface` with the documented git dependency
//! (tag-pinned), built with cargo, checked with `inspect` and passing `verify`.
//!
//! GitHub is not reachable here, so the documented line is used with its URL pointed at a local
//! clone of this working tree, tagged with the documented tag: the same form, from a file URL.

#![forbid(unsafe_code)]

pub mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository URL docs/vendors.md gives.
const REPOSITORY: &str = "https://github.com/karmada-io/multicluster-cloud-provider";

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

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_AUTHOR_NAME", "vendor-kit test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "vendor-kit test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

/// The `mcp-interface = { git = ... }` line of docs/vendors.md and the tag it pins.
fn documented_dependency() -> (String, String) {
    let docs = std::fs::read_to_string(common::repo_root().join("docs/vendors.md")).unwrap();
    let line = docs
        .lines()
        .find(|l| l.starts_with("mcp-interface = { git = "))
        .expect("docs/vendors.md shows the git dependency on mcp-interface")
        .to_owned();
    assert!(line.contains(REPOSITORY), "{line}");
    let tag = line
        .split("tag = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the git dependency is pinned to a tag")
        .to_owned();
    assert_eq!(
        tag,
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "the documented tag is this release's"
    );
    (line, tag)
}

/// A git repository holding this working tree (tracked and new files), tagged `tag`: what the
/// GitHub repository holds at that release. `name` is its directory's name.
fn local_origin(dir: &Path, name: &str, tag: &str) -> PathBuf {
    let root = common::repo_root();
    let files = run(git(&root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    let origin = dir.join(name);
    for file in files.split('\0').filter(|f| !f.is_empty()) {
        let source = root.join(file);
        if !source.is_file() {
            continue; // deleted in the working tree
        }
        let target = origin.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
    run(git(&origin).args(["init", "--quiet", "--initial-branch=main"]));
    run(git(&origin).args(["add", "--all"]));
    run(git(&origin).args(["commit", "--quiet", "-m", "release"]));
    run(git(&origin).args(["tag", tag]));
    origin
}

/// Removes, when dropped, what cargo keeps in `$CARGO_HOME/git` for the origin repository named
/// `.0` (cargo names its clones `<last segment of the URL>-<hash>`): each run's origin has a URL
/// of its own, so its clones would otherwise pile up run after run.
struct GitCache(String);

impl Drop for GitCache {
    fn drop(&mut self) {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
        let Some(home) = home else { return };
        let prefix = format!("{}-", self.0);
        for kind in ["db", "checkouts"] {
            let Ok(entries) = std::fs::read_dir(home.join("git").join(kind)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

#[test]
fn a_vendor_crate_outside_the_repository_builds_with_the_documented_dependency_and_passes_verify() {
    let (documented, tag) = documented_dependency();
    // The crate and its origin in a directory of this run's own (two runs at once do not
    // collide), beside one target directory all runs share (cargo locks it), so the vendor
    // crate's dependencies stay built from run to run.
    let work = common::target_dir().join("vendor-kit");
    std::fs::create_dir_all(&work).unwrap();
    let run_dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&work)
        .unwrap();
    let run_name = run_dir.path().file_name().unwrap().to_string_lossy();
    let origin_name = format!("multicluster-cloud-provider-{run_name}");
    let _git_cache = GitCache(origin_name.clone());
    let origin = local_origin(run_dir.path(), &origin_name, &tag);

    // The vendor's crate: examples/provider, copied out, with the documented dependency line.
    let vendor = run_dir.path().join("mycloud");
    std::fs::create_dir_all(vendor.join("src")).unwrap();
    let example = common::repo_root().join("examples/provider");
    for file in ["src/lib.rs", "Cargo.lock"] {
        std::fs::copy(example.join(file), vendor.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    let path_dependency = manifest
        .lines()
        .find(|l| l.starts_with("mcp-interface = { path = "))
        .expect("examples/provider depends on the interface by path");
    let dependency = documented.replace(REPOSITORY, &format!("file://{}", origin.display()));
    std::fs::write(
        vendor.join("Cargo.toml"),
        manifest.replace(path_dependency, &dependency),
    )
    .unwrap();

    let target = work.join("target");
    run(Command::new(env!("CARGO"))
        .args(["build", "--release", "--manifest-path"])
        .arg(vendor.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .current_dir(&vendor));
    // The interface came from the tag, not from this working tree.
    let metadata = run(Command::new(env!("CARGO"))
        .args(["metadata", "--format-version=1", "--manifest-path"])
        .arg(vendor.join("Cargo.toml")));
    assert!(
        metadata.contains(&format!("git+file://{}?tag={tag}", origin.display())),
        "mcp-interface does not come from the tagged git repository"
    );

    // Copied out at once: a concurrent run's build (of the same sources) replaces the shared
    // target's copy.
    let library = run_dir.path().join("libmcp_provider_example.so");
    std::fs::copy(target.join("release/libmcp_provider_example.so"), &library).unwrap();
    let inspect = run(Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
        .args(["inspect", "--json"])
        .arg(&library));
    let doc: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(doc["interfaceVersion"], mcp_interface::INTERFACE_VERSION);

    let out = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"))
        .args(["-v=1", "verify", "--json"])
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

/// `mcp-try-provider`, run from a directory outside the repository with the vendor's library:
/// control plane up, sample MCI and MCS of the provider's class, controller with the library,
/// statuses printed, everything stopped.
#[test]
fn the_try_command_shows_the_statuses_the_provider_gives_from_any_directory() {
    common::cargo(&[
        "build".as_ref(),
        "-p".as_ref(),
        "mcp-testenv".as_ref(),
        "--bin".as_ref(),
        "mcp-try-provider".as_ref(),
    ]);
    let try_provider = common::target_dir().join("debug/mcp-try-provider");
    let library =
        common::standalone_build("examples/provider/Cargo.toml").join("libmcp_provider_example.so");
    let vendor = tempfile::tempdir().unwrap();
    std::fs::copy(&library, vendor.path().join("libmcp_provider_example.so")).unwrap();
    let out = Command::new(&try_provider)
        .current_dir(vendor.path())
        .args(["--cloud-provider=example", "--provider-dir=."])
        .arg("--controller")
        .arg(env!("CARGO_BIN_EXE_multicluster-provider"))
        .arg("--work-dir")
        .arg(vendor.path().join("work"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "MultiClusterIngress default/minimal-ingress:\n  status.loadBalancer: {\"ingress\":[{\"hostname\":\"minimal-ingress.default.lb.example.com\"}]}"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "MultiClusterService default/web:\n  status.loadBalancer: {\"ingress\":[{\"ip\":\"198.51.100.1\",\"ipMode\":\"VIP\"}]}"
        ),
        "{stdout}"
    );
    // The controller was stopped cleanly and logged the provider's events.
    let log = std::fs::read_to_string(vendor.path().join("work/controller.log")).unwrap();
    assert!(log.contains("created a service load balancer"), "{log}");
}
