//! The repository the tests run in: its target directory, cargo, and the fake provider library
//! the controller's and the loader's tests load (built once per test process).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::binaries::repo_root;

/// The workspace's target directory: `$CARGO_TARGET_DIR` when set, else `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Runs `cargo ARGS` in the repository; an error carries what cargo printed.
pub fn cargo(args: &[&str]) -> io::Result<()> {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(repo_root())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "cargo {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Builds `libmcp_provider_fake.so` (`--release` for benches) and returns its directory.
pub fn build_fake_provider(release: bool) -> io::Result<PathBuf> {
    if release {
        cargo(&["build", "--release", "-p", "mcp-fake-provider"])?;
        Ok(target_dir().join("release"))
    } else {
        // The whole workspace, as `make build` builds it: with `-p` alone the dependencies
        // would be built again with that package's own feature set.
        cargo(&["build", "--workspace"])?;
        Ok(target_dir().join("debug"))
    }
}

/// The directory holding the debug build of `libmcp_provider_fake.so`, built the first time it
/// is asked for in this process.
pub fn fake_provider_dir() -> io::Result<&'static Path> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir);
    }
    let dir = build_fake_provider(false)?;
    Ok(DIR.get_or_init(|| dir))
}
