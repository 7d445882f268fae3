//! Finds, checks and loads multicluster cloud provider libraries.
//!
//! ```text
//! --cloud-provider=NAME  ->  search path  ->  libmcp_provider_NAME.so  ->  who may write it
//! ->  header + interface version + layout check  ->  name check  ->  factory(--cloud-config)
//! ->  Provider handle
//! ```
//!
//! Every way this can fail is one [`LoadError`] whose `Display` is a single paragraph an operator
//! can act on. The returned [`Provider`] is a cheap-to-clone handle whose calls are `async`, run
//! on blocking threads with a timeout, and never panic or abort the host.
//!
//! Libraries are never unloaded. Each library is opened through its own header, so several
//! different provider libraries can be loaded in one process.

// `unsafe` is for the FFI boundary only, and every block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

mod error;
mod handle;
mod host_log;
mod kind;
mod library;
mod names;
mod object_lock;
mod payload;
mod permissions;
mod pool;
mod reply;
mod search;
mod status;

pub use error::{CallError, LoadError};
pub use handle::{Applied, CallObserver, CallOutcome, Provider};
pub use kind::{Method, ObjectKind};
pub use library::{Library, LibraryInfo};
pub use names::{DEFAULT_PROVIDER_DIR, PROVIDER_DIR_ENV, SearchDir, library_file_name};
pub use payload::{Encoded, EncodedView, Payload};
pub use search::{SearchPath, available_providers};

use std::path::Path;
use std::time::Duration;

/// The default bound on one provider call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves `name_or_path` on `search`, checks who may write the library (unless `search`
/// allows insecure permissions), opens and checks it, verifies the provider's name and runs its
/// factory with `cloud_config`.
///
/// `name_or_path` is a provider name (`fake`) or, when it contains a `/`, a path to a library
/// (then the name check is skipped).
pub fn load(
    name_or_path: &str,
    search: &SearchPath,
    cloud_config: Option<&[u8]>,
) -> Result<Provider, LoadError> {
    let path = search.resolve(name_or_path)?;
    if search.insecure_permissions {
        tracing::warn!(path = %path.display(), "loading the provider library without checking who may write it (--allow-insecure-provider-permissions)");
    } else {
        permissions::check(&path)?;
    }
    let library = Library::open(&path)?;
    if !search::is_path(name_or_path) {
        library.expect_name(name_or_path)?;
    }
    library.create(cloud_config)
}

/// Checks who may write the library at `path` (as [`load`] does), opens and checks it, without
/// creating a provider.
pub fn open(path: &Path) -> Result<Library, LoadError> {
    permissions::check(path)?;
    Library::open(path)
}
