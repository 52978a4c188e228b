//! The operations every command uses.

pub mod init;
pub mod keys;
