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
            let dir = run_script(&[], "etcd and kube-apiserver")?;
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

/// Runs build.sh with `args` and returns the directory it prints last.
fn run_script(args: &[&str], what: &'static str) -> Result<PathBuf> {
    let script = build_script();
    tracing::info!(script = %script.display(), "locating {what} (builds them on first use)");
    let output = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .map_err(Error::io(format!("running {}", script.display())))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !output.status.success() {
        return Err(Error::BuildFailed {
            what,
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
            what,
            script,
            status: "printed no directory".into(),
            stderr,
        }),
    }
}

/// Environment variable naming a directory that holds Karmada's components
/// (`karmada-aggregated-apiserver`, `karmada-controller-manager`, `karmada-scheduler`,
/// `karmada-webhook`) and `kube-controller-manager`.
pub const KARMADA_BIN_DIR_ENV: &str = "MCP_TESTENV_KARMADA_BIN_DIR";
/// Environment variable naming the source of the pinned Karmada module (its CRDs and
/// manifests); default: the path in `<karmada bin dir>/karmada-module-dir` (build.sh writes it).
pub const KARMADA_MODULE_DIR_ENV: &str = "MCP_TESTENV_KARMADA_MODULE_DIR";

/// The binaries of the Karmada mode, and the Karmada module they were built from.
#[derive(Debug, Clone)]
pub struct KarmadaBinaries {
    /// Directory with the five binaries.
    pub dir: PathBuf,
    /// `github.com/karmada-io/karmada@<pinned version>` in the Go module cache: Karmada's CRDs
    /// (`charts/karmada/_crds/`) and manifests (`artifacts/deploy/`) are read from here.
    pub module_dir: PathBuf,
}

const KARMADA_BINARIES: [&str; 5] = [
    "karmada-aggregated-apiserver",
    "karmada-controller-manager",
    "karmada-scheduler",
    "karmada-webhook",
    "kube-controller-manager",
];

/// The Karmada mode's binaries: `$MCP_TESTENV_KARMADA_BIN_DIR` if set, else what
/// `hack/testenv/build.sh karmada` prints (it builds them the first time, about 5 minutes on 2
/// cores, then only checks them). Cached for the life of the process.
pub fn locate_karmada_binaries() -> Result<KarmadaBinaries> {
    static FOUND: Mutex<Option<KarmadaBinaries>> = Mutex::new(None);
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(binaries) = found.as_ref() {
        return Ok(binaries.clone());
    }
    let (dir, origin) = match std::env::var_os(KARMADA_BIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => (PathBuf::from(dir), "from MCP_TESTENV_KARMADA_BIN_DIR"),
        _ => (
            run_script(&["karmada"], "Karmada's components")?,
            "printed by hack/testenv/build.sh karmada",
        ),
    };
    for binary in KARMADA_BINARIES {
        if !dir.join(binary).is_file() {
            return Err(Error::BinaryMissing {
                binary,
                dir,
                origin,
            });
        }
    }
    let module_dir = match std::env::var_os(KARMADA_MODULE_DIR_ENV) {
        Some(module) if !module.is_empty() => PathBuf::from(module),
        _ => {
            let record = dir.join("karmada-module-dir");
            let text = std::fs::read_to_string(&record).map_err(Error::io(format!(
                "reading {} (written by hack/testenv/build.sh karmada; or set {KARMADA_MODULE_DIR_ENV})",
                record.display()
            )))?;
            PathBuf::from(text.trim())
        }
    };
    if !module_dir
        .join("charts/karmada/_crds/kustomization.yaml")
        .is_file()
    {
        return Err(Error::Io {
            context: format!(
                "the Karmada module at {} has no charts/karmada/_crds/kustomization.yaml",
                module_dir.display()
            ),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "run `bash hack/testenv/build.sh karmada` to download it into the Go module cache again",
            ),
        });
    }
    let binaries = KarmadaBinaries { dir, module_dir };
    *found = Some(binaries.clone());
    Ok(binaries)
}
