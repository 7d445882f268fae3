//! Builds the real libraries the loader tests load: the fake provider (workspace build) and the
//! fixtures workspace (broken and future-shaped libraries, built into `target/fixtures`).
//! Each test binary declares it `pub mod common;`, so a helper one binary does not use is
//! exported there rather than reported dead.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mcp_testenv::target_dir;

fn cargo(args: &[&str]) {
    mcp_testenv::cargo(args).unwrap_or_else(|e| panic!("{e}"));
}

/// Directory holding `libmcp_provider_fake.so`, built for this test run.
pub fn fake_dir() -> &'static Path {
    mcp_testenv::fake_provider_dir().unwrap_or_else(|e| panic!("building the fake provider: {e}"))
}

pub fn fake_library() -> PathBuf {
    fake_dir().join("libmcp_provider_fake.so")
}

/// Builds the fixture workspace `loader/tests/<name>` into `target/<name>`; its output directory.
fn build_fixtures(name: &str) -> PathBuf {
    let target = target_dir().join(name);
    let manifest = mcp_testenv::repo_root().join(format!("loader/tests/{name}/Cargo.toml"));
    cargo(&[
        "build",
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
    ]);
    target.join("debug")
}

/// Directory of the fixtures workspace's build output.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_fixtures("fixtures"))
}

/// Directory of the interface 1.1 fixtures' build output (`fixtures-prev`: a 1.1 provider and
/// a 1.1 host).
pub fn prev_fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_fixtures("fixtures-prev"))
}

/// Runs the interface 1.1 host on `library` with `cloud_config`; its output, one `key=value`
/// per line.
pub fn prev_host(library: &Path, cloud_config: Option<&str>) -> String {
    let mut host = std::process::Command::new(prev_fixtures_dir().join("fixture-prev-host"));
    host.arg(library);
    if let Some(config) = cloud_config {
        host.arg(config);
    }
    let out = host.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the 1.1 host failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A directory of its own holding `file_name` with `contents`.
pub fn lone_file(file_name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

/// Writes a cloud-config file and returns its bytes (the loader takes the contents).
pub fn config(yaml: &str) -> Vec<u8> {
    yaml.as_bytes().to_vec()
}

/// The fake's state file as JSON, read by `mcp-fake-state` (built beside the library) in a
/// process of its own: this test process has the fake library loaded, with its own copy of
/// SQLite, and a second copy in the same process would break its file locks.
pub fn fake_state(path: &Path) -> serde_json::Value {
    let out = std::process::Command::new(fake_dir().join("mcp-fake-state"))
        .arg(path)
        .output()
        .expect("run mcp-fake-state");
    assert!(
        out.status.success(),
        "mcp-fake-state failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("mcp-fake-state prints JSON")
}
