//! Where control-plane directories are created, and the sweep that removes those whose owner
//! process is gone.

use std::path::{Path, PathBuf};

use crate::process::pid_alive;

/// Environment variable naming the directory in which control-plane directories are created
/// (default: the system temp directory).
pub const TMPDIR_ENV: &str = "MCP_TESTENV_TMPDIR";

/// Prefix of every control-plane directory: `mcp-testenv-<owner pid>-<random>`.
pub(super) const DIR_PREFIX: &str = "mcp-testenv-";

/// `$MCP_TESTENV_TMPDIR`, else the system temp directory.
pub fn default_base_dir() -> PathBuf {
    match std::env::var_os(TMPDIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir(),
    }
}

/// Removes control-plane directories in `base` whose owner process is gone; returns how many.
pub fn sweep_stale_dirs(base: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pid_alive(pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
