//! Finding (or building) the etcd and kube-apiserver binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Environment variable naming a directory that holds `etcd` and `kube-apiserver`.
pub const BIN_DIR_ENV: &str = "MCP_TESTENV_BIN_DIR";

/// The repository this crate was compiled from.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testenv/ has a parent directory")
        .to_path_buf()
}

/// The script that builds the binaries from their Go modules and prints their directory.
pub fn build_script() -> PathBuf {
    repo_root().join("hack/testenv/build.sh")
}

/// Directory holding `etcd` and `kube-apiserver`: `$MCP_TESTENV_BIN_DIR` if set, else whatever
/// `hack/testenv/build.sh` prints (it builds the binaries the first time, then only checks them).
/// The answer is cached for the life of the process.
pub fn locate_binaries() -> Result<PathBuf> {
    static FOUND: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = found.as_ref() {
        return Ok(dir.clone());
    }
    let dir = match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            check_dir(&dir, "from MCP_TESTENV_BIN_DIR")?;
            dir
        }
        _ => {
            let dir = run_build_script()?;
            check_dir(&dir, "printed by hack/testenv/build.sh")?;
            dir
        }
    };
    *found = Some(dir.clone());
    Ok(dir)
}

pub(crate) fn check_dir(dir: &Path, origin: &'static str) -> Result<()> {
    for binary in ["etcd", "kube-apiserver"] {
        if !dir.join(binary).is_file() {
            return Err(Error::BinaryMissing {
                binary,
                dir: dir.to_path_buf(),
                origin,
            });
        }
    }
    Ok(())
}

fn run_build_script() -> Result<PathBuf> {
    let script = build_script();
    tracing::info!(script = %script.display(), "locating etcd and kube-apiserver (builds them on first use)");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(Error::io(format!("running {}", script.display())))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !output.status.success() {
        return Err(Error::BuildFailed {
            script,
            status: output.status.to_string(),
            stderr,
        });
    }
    if !stderr.is_empty() {
        tracing::info!("{stderr}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => Ok(PathBuf::from(line)),
        None => Err(Error::BuildFailed {
            script,
            status: "printed no directory".into(),
            stderr,
        }),
    }
}
