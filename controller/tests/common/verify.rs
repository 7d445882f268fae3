//! Running `multicluster-provider verify` on a library and reading its report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The controller binary, its provider logs from warnings up: reports are on stdout.
pub fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multicluster-provider"));
    // Provider logs only from warnings up: the report is on stdout.
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG").arg("-v=1");
    cmd
}

/// tests/fixtures/broken-provider's library, built once per test binary.
pub fn broken_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        super::standalone_build("controller/tests/fixtures/broken-provider/Cargo.toml")
            .join("libmcp_provider_broken.so")
    })
}

/// `verify ARGS [--cloud-config FILE] LIBRARY`, with the cloud-config's text in a file.
pub fn verify(args: &[&str], library: &Path, cloud_config: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = binary();
    cmd.arg("verify").args(args);
    if let Some(config) = cloud_config {
        let path = dir.path().join("cloud-config");
        std::fs::write(&path, config).unwrap();
        cmd.arg("--cloud-config").arg(path);
    }
    cmd.arg(library).output().unwrap()
}

/// The JSON report on `out`'s stdout.
pub fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The names of the checks a JSON report has failing.
pub fn failing_checks(report: &Value) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| c["check"].as_str().unwrap().to_owned())
        .collect()
}
