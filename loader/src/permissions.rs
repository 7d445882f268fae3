//! Who can change a provider library before it is loaded: whoever can write the file or any
//! directory on its path can make the controller run their code. As OpenSSH's `StrictModes` does
//! for keys, the loader refuses a library when the file or a directory on its path (the path as
//! given and the one symlinks lead to) is owned by someone other than root or the controller's
//! own user, or is writable by its group or by others. A directory writable by others with the
//! sticky bit and owned by root (`/tmp`) is accepted: nobody else can rename or remove what is
//! in it.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::LoadError;

const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Why a path cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsafe {
    /// Owned by a user other than root and the controller's.
    Owner,
    GroupWritable,
    OtherWritable,
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unsafe::Owner => "is owned by a user other than root and the controller's own user",
            Unsafe::GroupWritable => "is writable by its group",
            Unsafe::OtherWritable => "is writable by every user",
        })
    }
}

/// Checks the library at `library` and every directory above it; the first untrusted one is
/// the error.
pub fn check(library: &Path) -> Result<(), LoadError> {
    let euid = crate::library::effective_uid();
    let mut paths: Vec<PathBuf> = Vec::new();
    // The path as given (a symlink in it can be replaced by whoever can write its directory),
    // then where it leads.
    let absolute = std::path::absolute(library).unwrap_or_else(|_| library.to_owned());
    paths.extend(
        absolute
            .parent()
            .into_iter()
            .flat_map(Path::ancestors)
            .map(Path::to_owned),
    );
    if let Ok(real) = std::fs::canonicalize(library) {
        paths.push(real.clone());
        paths.extend(
            real.parent()
                .into_iter()
                .flat_map(Path::ancestors)
                .map(Path::to_owned),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        if !seen.insert(path.clone()) {
            continue;
        }
        // Symlinks on the given path are followed here; their targets are checked above.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if let Some(problem) = judge(meta.uid(), meta.mode(), meta.is_dir(), euid) {
            return Err(LoadError::InsecurePermissions {
                library: library.to_owned(),
                path,
                problem: problem.to_string(),
                owner: meta.uid(),
                mode: meta.mode() & 0o7777,
                euid,
            });
        }
    }
    Ok(())
}

/// What is wrong with a path owned by `owner` with `mode`, for a process running as `euid`.
pub fn judge(owner: u32, mode: u32, is_dir: bool, euid: u32) -> Option<Unsafe> {
    if owner != 0 && owner != euid {
        return Some(Unsafe::Owner);
    }
    if mode & OTHER_WRITE != 0 {
        let protected_dir = is_dir && mode & STICKY != 0 && owner == 0;
        if !protected_dir {
            return Some(Unsafe::OtherWritable);
        }
    }
    if mode & GROUP_WRITE != 0 {
        let protected_dir = is_dir && mode & STICKY != 0 && owner == 0;
        if !protected_dir {
            return Some(Unsafe::GroupWritable);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_modes_are_judged_as_strict_modes_does() {
        let me = 1000;
        assert_eq!(judge(0, 0o755, true, me), None);
        assert_eq!(judge(me, 0o644, false, me), None);
        assert_eq!(judge(2000, 0o755, true, me), Some(Unsafe::Owner));
        assert_eq!(judge(me, 0o775, true, me), Some(Unsafe::GroupWritable));
        assert_eq!(judge(0, 0o646, false, me), Some(Unsafe::OtherWritable));
        // /tmp: sticky, owned by root.
        assert_eq!(judge(0, 0o1777, true, me), None);
        // Sticky but someone else's, or a file: no protection.
        assert_eq!(judge(me, 0o1777, true, me), Some(Unsafe::OtherWritable));
        assert_eq!(judge(0, 0o1666, false, me), Some(Unsafe::OtherWritable));
    }
}
