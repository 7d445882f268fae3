//! What provider libraries are called and where they may be: the file-name rule, the
//! directories a search looks in and where each came from, and how both read in messages
//! (the search and the load errors share them).

use std::fmt;
use std::path::PathBuf;

/// Environment variable with extra provider directories (`:`-separated), searched after the
/// `--provider-dir` flags.
pub const PROVIDER_DIR_ENV: &str = "MULTICLUSTER_PROVIDER_DIR";

/// Searched last; where the container image installs its providers.
pub const DEFAULT_PROVIDER_DIR: &str = "/usr/local/lib/multicluster-provider";

pub(crate) const PREFIX: &str = "libmcp_provider_";
pub(crate) const SUFFIX: &str = ".so";

/// The file a provider named `name` is expected in: `libmcp_provider_<name>.so`, with `-`
/// written as `_` (what Cargo names a `cdylib` whose `[lib] name` is `mcp_provider_<name>`).
pub fn library_file_name(name: &str) -> String {
    format!("{PREFIX}{}{SUFFIX}", name.replace('-', "_"))
}

/// Where a search directory came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirSource {
    Flag,
    Env,
    Default,
}

impl fmt::Display for DirSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DirSource::Flag => "--provider-dir",
            DirSource::Env => PROVIDER_DIR_ENV,
            DirSource::Default => "default",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    pub path: PathBuf,
    pub source: DirSource,
}

pub(crate) fn display_dirs(dirs: &[SearchDir]) -> String {
    dirs.iter()
        .map(|d| format!("{} ({})", d.path.display(), d.source))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn display_available(available: &[(String, PathBuf)]) -> String {
    if available.is_empty() {
        "no provider libraries exist there".to_owned()
    } else {
        let list = available
            .iter()
            .map(|(n, p)| format!("{n} ({})", p.display()))
            .collect::<Vec<_>>()
            .join(", ");
        format!("providers found there: {list}")
    }
}
