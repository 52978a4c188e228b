//! Every file and git access: the repository, ledger files (locked, atomic appends), the policy,
//! key files and tags. Nothing outside this module imports gix or writes files.

pub mod active;
pub mod audit;
pub mod diff;
pub mod fsutil;
pub mod hooks;
pub mod keys;
pub mod ledger;
pub mod repo;
pub mod snapshot;
pub mod tags;
pub mod trailers;

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
    #[error("git: {0}")]
    Git(String),
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
    pub fn git(context: &str, e: impl std::fmt::Display) -> Self {
        Error::Git(format!("{context}: {e}"))
    }

    /// The exit code of a command that fails with this error: I/O and git trouble is internal
    /// (3); everything else is a usage or configuration problem (2), and so is a file whose
    /// bytes are not text (it does not parse, as a YAML error would not: docs/CLI-ERRORS.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Io { error, .. } if error.kind() == std::io::ErrorKind::InvalidData => 2,
            Error::Io { .. } | Error::Git(_) => 3,
            _ => 2,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
