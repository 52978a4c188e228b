//! Every file and git access: the repository, ledger files (locked, atomic appends), the policy,
//! key files and tags. Nothing outside this module imports gix or writes files.

pub mod accepted;
pub mod active;
pub mod audit;
pub mod commit_object;
pub mod diff;
pub mod fsutil;
pub mod hooks;
pub mod keys;
pub mod ledger;
pub mod repo;
pub mod snapshot;
pub mod tags;
pub mod trailers;
pub mod verify_cache;

pub use ledger::{Ledger, LedgerFile, Located};
pub use repo::Repo;

use std::path::{Path, PathBuf};

use crate::model::yaml::YamlError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not inside a git repository: {0}")]
    NoRepo(String),
    // The cause is part of the message, and deliberately not a `source`: printing the error
    // chain would say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Yaml { path: String, error: YamlError },
    /// Git trouble: what we were doing, and why it failed. As for `Io`, the cause is part of
    /// the message and deliberately not a `source`: the message reads the same whether it is
    /// printed alone (`{}`, as reports and tag outcomes do) or with its chain (`{:#}`, as the
    /// binary does), and the cause is said once. [`Error::git_cause`] hands the typed cause to
    /// code that wants to look at it.
    #[error("git: {context}{}{error}", if .context.is_empty() { "" } else { ": " })]
    Git {
        /// What we were doing ("reading HEAD"), or empty when the cause says it all.
        context: String,
        error: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A commit the walk needs is not in this clone because the clone is shallow: a
    /// configuration problem of the checkout (CI's fetch depth), not a fault of the repository.
    #[error(
        "commit {commit} is not in this clone: it is a shallow clone, and this check needs the \
         history. Fetch it (`git fetch --unshallow --tags`; in CI, a checkout with full depth, \
         e.g. actions/checkout's `fetch-depth: 0` or GitLab's `GIT_DEPTH: 0`)"
    )]
    Shallow { commit: String },
    /// A key that cannot be used: missing, readable by others, wrong type, wrong passphrase.
    #[error("{0}")]
    Key(String),
    /// Something the user named (a record, a tag) is not there, or is there already.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::Error),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }
    /// Git trouble while doing `context`, caused by `e` (a gix error, the I/O error of running
    /// the git binary, or a [`GitError`] of our own).
    pub fn git(
        context: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Git {
            context: context.into(),
            error: Box::new(e),
        }
    }

    /// The cause of a `Git` error, typed (downcast it to the gix error it is).
    pub fn git_cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::Git { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }

    /// The exit code of a command that fails with this error: I/O and git trouble is internal
    /// (3); everything else is a usage or configuration problem (2), and so is a file whose
    /// bytes are not text (it does not parse, as a YAML error would not: docs/CLI-ERRORS.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Io { error, .. } if error.kind() == std::io::ErrorKind::InvalidData => 2,
            Error::Io { .. } | Error::Git { .. } => 3,
            _ => 2,
        }
    }
}

/// Git trouble found by our own code rather than by gix or the git binary: the cause of an
/// [`Error::Git`].
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The git binary exited with a failure; what it printed on stderr.
    #[error("{stderr}")]
    Command { stderr: String },
    #[error("tag {0} has no target")]
    TagWithoutTarget(gix::ObjectId),
    #[error("tag chain from {0} is too long")]
    TagChainTooLong(gix::ObjectId),
    /// A tree entry name git itself would refuse (empty, `.`, `..`, `.git`, or with a `/`).
    #[error("entry name {0:?}")]
    BadEntryName(String),
    #[error("the name {0:?} appears twice")]
    DuplicateEntry(String),
}

impl GitError {
    /// The failure of a git command, from what it printed on stderr.
    pub fn command(stderr: &[u8]) -> Self {
        GitError::Command {
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }
}

/// A `Git` error that needs no context: its cause says what went wrong.
impl From<GitError> for Error {
    fn from(e: GitError) -> Self {
        Error::git(String::new(), e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn cause() -> std::io::Error {
        std::io::Error::other("the disk is on fire")
    }

    /// The binary prints `{:#}`, which walks `source()`: the cause is in the message and is not
    /// also a source, so it is said once, there and in a plain `{}`.
    #[test]
    fn git_error_says_its_cause_once() {
        let e = Error::git("reading HEAD", cause());
        assert_eq!(e.to_string(), "git: reading HEAD: the disk is on fire");
        let chained = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(chained, "git: reading HEAD: the disk is on fire");
        assert_eq!(chained.matches("the disk is on fire").count(), 1);

        // Wrapped by the engine, as commands see it.
        let engine = crate::engine::Error::from(Error::git("reading HEAD", cause()));
        let chained = format!("{:#}", anyhow::Error::from(engine));
        assert_eq!(
            chained.matches("the disk is on fire").count(),
            1,
            "{chained}"
        );
    }

    #[test]
    fn git_error_keeps_its_cause_typed() {
        let e = Error::git("running git log", cause());
        let io = e
            .git_cause()
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .expect("the cause is the io::Error it was made from");
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        assert_eq!(e.exit_code(), 3);
        assert!(Error::Usage("no such record".into()).git_cause().is_none());
    }

    #[test]
    fn git_errors_of_our_own_read_as_before() {
        let id = gix::ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(
            Error::from(GitError::TagWithoutTarget(id)).to_string(),
            "git: tag 0123456789abcdef0123456789abcdef01234567 has no target"
        );
        assert_eq!(
            Error::from(GitError::TagChainTooLong(id)).to_string(),
            "git: tag chain from 0123456789abcdef0123456789abcdef01234567 is too long"
        );
        assert_eq!(
            Error::git(
                format!("malformed tree {id}"),
                GitError::DuplicateEntry("a".into())
            )
            .to_string(),
            "git: malformed tree 0123456789abcdef0123456789abcdef01234567: the name \"a\" appears twice"
        );
        assert_eq!(
            Error::git("malformed tree x", GitError::BadEntryName("..".into())).to_string(),
            "git: malformed tree x: entry name \"..\""
        );
        assert_eq!(
            Error::git("git config a.b", GitError::command(b"error: bad key\n")).to_string(),
            "git: git config a.b: error: bad key"
        );
        assert_eq!(Error::from(GitError::TagChainTooLong(id)).exit_code(), 3);
    }

    /// A real gix failure: its message follows the context, and the gix error can be had back.
    #[test]
    fn gix_errors_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let e = gix::open(dir.path())
            .map_err(|e| Error::git("opening", e))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(text.starts_with("git: opening: "), "{text}");
        assert!(
            e.git_cause()
                .and_then(|c| c.downcast_ref::<gix::Error>())
                .is_some()
        );
    }
}
