//! The engine's errors. Each kind maps to one exit code (DESIGN §4): a usage or configuration
//! problem is 2, a refusal of the change is 1, and I/O or internal trouble is 3.

use crate::{crypto, model, store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller asked for something that cannot be done as asked: an unknown record, a key that
    /// is not in the policy, a role the signer does not have. `hint` says what to do instead.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// The request was understood and refused (strict evidence, a rule of the policy).
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Model(#[from] model::Error),
    #[error(transparent)]
    Crypto(#[from] crypto::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The exit code this error ends a command with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } | Error::Model(_) | Error::Crypto(_) => 2,
            Error::Rejected(_) => 1,
            Error::Store(s) => s.exit_code(),
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}
