//! Builds the real libraries the loader tests load: the fake provider (workspace build) and the
//! fixtures workspace (broken and future-shaped libraries, built into `target/fixtures`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo(args: &[&str]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Directory holding `libmcp_provider_fake.so`, built for this test run.
pub fn fake_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        cargo(&["build", "-p", "mcp-fake-provider"]);
        target_dir().join("debug")
    })
}

pub fn fake_library() -> PathBuf {
    fake_dir().join("libmcp_provider_fake.so")
}

/// Directory of the fixtures workspace's build output.
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("fixtures");
        let manifest = workspace_root().join("loader/tests/fixtures/Cargo.toml");
        cargo(&[
            "build",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--target-dir",
            target.to_str().unwrap(),
        ]);
        target.join("debug")
    })
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
