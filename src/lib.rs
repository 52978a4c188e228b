//! git-ops: a git-native ledger and signoff tool for operations and governance changes.
//!
//! The library knows nothing of the command line or the terminal: `model` holds pure types,
//! `crypto` keys and signatures, `store` every file and git access, `verify` the checks (returning
//! reports), `render` the text, JSON and YAML views.

pub mod crypto;
pub mod engine;
pub mod evidence;
pub mod model;
pub mod par;
pub mod render;
pub mod store;
pub mod verify;
