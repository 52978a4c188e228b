//! The operations every command uses: a [`Workspace`] opened once (repository, policy in force
//! and its earlier versions, ledger, grants, clock) that judges records at one of two clocks and
//! performs every write to the ledger.

pub mod error;
pub mod import;
pub mod init;
pub mod keys;
pub mod merge;
pub mod ops;
pub mod record;
pub mod report;
pub mod status;
pub mod verify;
pub mod workspace;

pub use error::{Error, Result};
pub use ops::{Appended, Declaration, GrantRequest, NewSignoff, Signed, TagOutcome, Txn};
pub use status::{Standing, Status};
pub use workspace::{Clock, Judged, Signer, Workspace, open_repo, state_word};

#[cfg(test)]
mod tests;
