//! Pure types of the ledger and the policy: records, signoffs, ids, risk classes, times, canonical
//! JSON and the YAML form. Nothing in here touches files, git or the terminal.

pub mod canonical;
pub mod glob;
pub mod ids;
pub mod names;
pub mod paths;
pub mod policy;
pub mod record;
pub mod time;
pub mod trailer;
pub mod yaml;

pub use ids::{IdKind, RecordId};
pub use names::{ArmoredSig, Fingerprint, PublicKeyLine, SignerName};
pub use policy::{Policy, RiskClass, SignerRole};
pub use record::{Kind, Record, Role, Signoff};
pub use time::Timestamp;

/// Errors of the model: a value that does not have the form the format requires.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Schema(String),
    #[error("cannot encode canonical JSON: {0}")]
    Canonical(String),
}

impl Error {
    /// The exit code of a command that fails with this error: a value of the wrong form is a
    /// usage or configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        2
    }

    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
