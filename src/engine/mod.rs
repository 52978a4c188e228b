//! The operations every command uses.

pub mod merge;
