//! Opening and checking one provider library.

use std::path::{Path, PathBuf};

use abi_stable::StableAbi;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{LibHeader, LibraryError, lib_header_from_path};
use mcp_interface::abi::{INTERFACE_MAJOR, ProviderModuleRef, ROOT_MODULE_SYMBOL};

use crate::error::LoadError;
use crate::host_log;

/// What a library says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryInfo {
    pub path: PathBuf,
    /// The provider name (what `--cloud-provider` selects).
    pub name: String,
    /// The interface version the library was built against.
    pub interface_version: String,
    /// The provider library's own version.
    pub provider_version: String,
}

/// A loaded and checked provider library. Never unloaded.
#[derive(Clone, Copy)]
pub struct Library {
    module: ProviderModuleRef,
    info: &'static LibraryInfo,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("info", self.info).finish()
    }
}

impl Library {
    /// Opens the library at `path`, checks its header, interface version and layout, and hands
    /// it the host's logging callbacks.
    pub fn open(path: &Path) -> Result<Library, LoadError> {
        let header = open_header(path)?;
        let library_version = header.version_strings().to_string();
        // Our own major-version check first, so the message names both versions; abi_stable's
        // check would fail with a terser one.
        let library_major = library_version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if library_major != Some(INTERFACE_MAJOR) {
            return Err(LoadError::IncompatibleInterface {
                path: path.to_owned(),
                library: library_version,
            });
        }
        let module = match header.init_root_module::<ProviderModuleRef>() {
            Ok(module) => module,
            Err(LibraryError::AbiInstability(report)) if is_older_minor(header) => {
                tracing::debug!(
                    path = %path.display(),
                    "library predates methods this host knows; they read as not supported ({})",
                    report.to_string().lines().last().unwrap_or_default()
                );
                // SAFETY: `is_older_minor` has just checked, with abi_stable's own checker, that
                // every type the library's root module reaches is laid out as the host's, except
                // that prefix types may lack trailing fields. Prefix-type accessors check the
                // field count the library recorded at run time, so the host reads such missing
                // methods as `None` and never touches memory the library did not provide.
                unsafe { header.init_root_module_with_unchecked_layout::<ProviderModuleRef>() }
                    .map_err(|e| classify(path, &library_version, e))?
            }
            Err(e) => return Err(classify(path, &library_version, e)),
        };
        (module.install_host())(host_log::callbacks());
        let info = LibraryInfo {
            path: path.to_owned(),
            name: (module.name())().to_string(),
            interface_version: (module.interface_version())().to_string(),
            provider_version: (module.provider_version())().to_string(),
        };
        tracing::debug!(
            path = %path.display(),
            provider = %info.name,
            interface = %info.interface_version,
            version = %info.provider_version,
            "loaded provider library"
        );
        Ok(Library {
            module,
            // One small allocation per opened library, which lives as long as the library.
            info: Box::leak(Box::new(info)),
        })
    }

    pub fn info(&self) -> &'static LibraryInfo {
        self.info
    }

    /// The raw root module (its methods are safe to call; prefer the [`Provider`] handle).
    pub fn module(&self) -> ProviderModuleRef {
        self.module
    }

    /// Checks that the library's provider is the one asked for.
    pub fn expect_name(&self, requested: &str) -> Result<(), LoadError> {
        if self.info.name == requested {
            Ok(())
        } else {
            Err(LoadError::NameMismatch {
                requested: requested.to_owned(),
                actual: self.info.name.clone(),
                path: self.info.path.clone(),
            })
        }
    }
}

/// Whether the library's root module is the host's minus some appended fields.
///
/// abi_stable lets a host load a library with *more* prefix-type fields than it knows (a newer
/// minor version: the host does not see them) but not one with fewer, although the prefix-type
/// accessors make that direction sound too (a missing method reads as `None`). So when the normal
/// check fails, check again with the roles swapped: the library's layout as the "interface" and
/// the host's as the "implementation", which accepts exactly "the library is a prefix of us".
fn is_older_minor(header: &LibHeader) -> bool {
    let Some(library_layout) = header.root_mod_consts().layout().into_option() else {
        return false;
    };
    check_layout_compatibility(library_layout, <ProviderModuleRef as StableAbi>::LAYOUT).is_ok()
}

fn open_header(path: &Path) -> Result<&'static LibHeader, LoadError> {
    lib_header_from_path(path).map_err(|e| match e {
        LibraryError::OpenError { err, .. } => LoadError::NotALibrary {
            path: path.to_owned(),
            detail: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => LoadError::MissingRootModule {
            path: path.to_owned(),
            symbol: ROOT_MODULE_SYMBOL.to_owned(),
        },
        other => classify(path, "unknown", other),
    })
}

fn classify(path: &Path, library_version: &str, error: LibraryError) -> LoadError {
    match error {
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
            LoadError::IncompatibleInterface {
                path: path.to_owned(),
                library: actual_version.to_string(),
            }
        }
        LibraryError::AbiInstability(report) => {
            let report = report.to_string();
            tracing::debug!(path = %path.display(), "abi_stable layout report:\n{report}");
            LoadError::IncompatibleLayout {
                path: path.to_owned(),
                library: library_version.to_owned(),
                report,
            }
        }
        LibraryError::InvalidAbiHeader(header) => LoadError::Initialisation {
            path: path.to_owned(),
            detail: format!(
                "its abi_stable header is incompatible with this controller's ({header:?})"
            ),
        },
        other => {
            let detail = other.to_string();
            tracing::debug!(path = %path.display(), "abi_stable error: {detail}");
            LoadError::Initialisation {
                path: path.to_owned(),
                detail: detail.lines().next().unwrap_or_default().to_owned(),
            }
        }
    }
}

/// The effective user id of this process (who the permission check trusts besides root).
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) takes no arguments, always succeeds and touches no memory of ours.
    unsafe { libc::geteuid() }
}
