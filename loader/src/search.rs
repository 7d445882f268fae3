//! Where provider libraries are looked for (the search path) and which exist there.

use std::path::PathBuf;

use crate::error::LoadError;
use crate::names::{
    DEFAULT_PROVIDER_DIR, DirSource, PREFIX, PROVIDER_DIR_ENV, SUFFIX, SearchDir, library_file_name,
};

pub(crate) fn is_path(spec: &str) -> bool {
    spec.contains('/')
}

/// The ordered list of directories searched for a provider, and whether the library found is
/// checked for who may write it (see [`SearchPath::allow_insecure_permissions`]).
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    pub dirs: Vec<SearchDir>,
    /// Load a library whatever its owner and mode (development only).
    pub insecure_permissions: bool,
}

impl SearchPath {
    /// `--provider-dir` flags first, then `$MULTICLUSTER_PROVIDER_DIR`, then the default directory.
    pub fn new(flag_dirs: &[PathBuf]) -> Self {
        Self::with_env(flag_dirs, std::env::var_os(PROVIDER_DIR_ENV).as_deref())
    }

    /// Like [`SearchPath::new`] with the environment variable's value given.
    pub fn with_env(flag_dirs: &[PathBuf], env: Option<&std::ffi::OsStr>) -> Self {
        let mut dirs: Vec<SearchDir> = flag_dirs
            .iter()
            .map(|p| SearchDir {
                path: p.clone(),
                source: DirSource::Flag,
            })
            .collect();
        if let Some(env) = env {
            dirs.extend(
                std::env::split_paths(env)
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| SearchDir {
                        path: p,
                        source: DirSource::Env,
                    }),
            );
        }
        dirs.push(SearchDir {
            path: PathBuf::from(DEFAULT_PROVIDER_DIR),
            source: DirSource::Default,
        });
        SearchPath {
            dirs,
            insecure_permissions: false,
        }
    }

    /// With `allow`, a library is loaded even when a user other than root and this process's
    /// own (or a group, or everyone) can write it or a directory above it: for development
    /// only (`--allow-insecure-provider-permissions`).
    pub fn allow_insecure_permissions(mut self, allow: bool) -> Self {
        self.insecure_permissions = allow;
        self
    }

    /// Only the given directories (no environment, no default): for tests and tools.
    pub fn only(dirs: &[PathBuf]) -> Self {
        SearchPath {
            dirs: dirs
                .iter()
                .map(|p| SearchDir {
                    path: p.clone(),
                    source: DirSource::Flag,
                })
                .collect(),
            insecure_permissions: false,
        }
    }

    /// The library for `name_or_path`: a path is taken as it is, a name is looked up in order.
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf, LoadError> {
        if is_path(name_or_path) {
            let path = PathBuf::from(name_or_path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(LoadError::NoSuchFile { path })
            };
        }
        if name_or_path.is_empty() {
            return Err(LoadError::NoProviderName);
        }
        let file = library_file_name(name_or_path);
        for dir in &self.dirs {
            let candidate = dir.path.join(&file);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        Err(LoadError::NotFound {
            name: name_or_path.to_owned(),
            file,
            searched: self.dirs.clone(),
            available: available_providers(self),
        })
    }
}

/// Providers present on the search path, as `(name, path)`, first occurrence of each name.
pub fn available_providers(search: &SearchPath) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in &search.dirs {
        let Ok(entries) = std::fs::read_dir(&dir.path) else {
            continue;
        };
        let mut here: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let name = file.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.to_owned();
                Some((name, e.path()))
            })
            .collect();
        here.sort();
        for (name, path) in here {
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, path));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_rule() {
        assert_eq!(library_file_name("fake"), "libmcp_provider_fake.so");
        assert_eq!(library_file_name("my-cloud"), "libmcp_provider_my_cloud.so");
    }

    #[test]
    fn order_is_flags_env_default() {
        let s = SearchPath::with_env(
            &[PathBuf::from("/a"), PathBuf::from("/b")],
            Some(std::ffi::OsStr::new("/c:/d")),
        );
        let paths: Vec<_> = s
            .dirs
            .iter()
            .map(|d| d.path.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d", DEFAULT_PROVIDER_DIR]);
    }

    #[test]
    fn resolves_first_match_and_lists_available_when_missing() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("libmcp_provider_fake.so"), b"x").unwrap();
        std::fs::write(a.path().join("libmcp_provider_other.so"), b"x").unwrap();
        std::fs::write(a.path().join("unrelated.so"), b"x").unwrap();
        let s = SearchPath::only(&[a.path().to_owned(), b.path().to_owned()]);
        assert_eq!(
            s.resolve("fake").unwrap(),
            b.path().join("libmcp_provider_fake.so")
        );
        let err = s.resolve("missing").unwrap_err().to_string();
        assert!(err.contains("libmcp_provider_missing.so"), "{err}");
        assert!(err.contains(&a.path().display().to_string()), "{err}");
        assert!(err.contains("fake (") && err.contains("other ("), "{err}");
    }

    #[test]
    fn explicit_paths_are_taken_as_they_are() {
        let a = tempfile::tempdir().unwrap();
        let lib = a.path().join("custom.so");
        std::fs::write(&lib, b"x").unwrap();
        let s = SearchPath::only(&[]);
        assert_eq!(s.resolve(lib.to_str().unwrap()).unwrap(), lib);
        assert!(matches!(
            s.resolve("/nonexistent/x.so"),
            Err(LoadError::NoSuchFile { .. })
        ));
    }
}
