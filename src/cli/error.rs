//! The error a command ends with: the exit code, the message and what to do next, decided once
//! per library error by the `From` conversions below (0 ok, 1 rejected, 2 usage or
//! configuration, 3 I/O or internal). `main` prints it; nothing inspects it afterwards.

use std::fmt;

use git_ops::engine::{self, keys as engine_keys, merge};
use git_ops::model::{self, yaml::YamlError};
use git_ops::store::{self, hooks::HooksError};
use git_ops::verify::{commit, push};
use git_ops::{crypto, demo};

pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

/// What every command returns.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// An error with the exit code it ends the command with and, where useful, what to do next.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    /// What is printed after `git-ops: error: `: the error and each of its causes, joined by
    /// ": ", with any context a command added in front.
    pub message: String,
    pub hint: Option<String>,
    /// A write to a closed pipe (`git ops list | head`): not an error, the command exits 0.
    broken_pipe: bool,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    /// An I/O or internal failure (exit 3).
    pub fn internal(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_INTERNAL, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// The same error, its message preceded by `context: ` (what `anyhow`'s context did).
    pub fn context(mut self, context: impl fmt::Display) -> CliError {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// A closed pipe on standard output: the reader has all it wanted.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    /// A library error with no exit code of its own: its message with its causes, and `code`.
    fn of(code: u8, e: &dyn std::error::Error) -> CliError {
        CliError::new(code, chain(e))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl Into<String>) -> CliError {
    CliError::new(EXIT_USAGE, message)
}

/// A usage or configuration error (exit 2) with what to do next.
pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> CliError {
    usage(message).with_hint(hint)
}

/// A refusal (exit 1).
pub fn rejected(message: impl Into<String>) -> CliError {
    CliError::new(EXIT_REJECTED, message)
}

/// `e` and each of its causes, joined by ": " (the form the messages have always had).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `.context(..)` and `.with_context(..)` on any result whose error becomes a [`CliError`].
pub trait Context<T> {
    fn context(self, context: impl fmt::Display) -> Result<T>;
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<CliError>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        let mut c = CliError::of(EXIT_INTERNAL, &e);
        c.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        c
    }
}

impl From<engine::Error> for CliError {
    fn from(e: engine::Error) -> CliError {
        let mut c = CliError::of(e.exit_code(), &e);
        c.hint = e.hint().map(str::to_string);
        c
    }
}

impl From<store::Error> for CliError {
    fn from(e: store::Error) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<model::Error> for CliError {
    fn from(e: model::Error) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<YamlError> for CliError {
    fn from(e: YamlError) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<crypto::Error> for CliError {
    fn from(e: crypto::Error) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<engine_keys::Error> for CliError {
    fn from(e: engine_keys::Error) -> CliError {
        let mut c = CliError::of(e.exit_code(), &e);
        c.hint = e.hint();
        c
    }
}

impl From<HooksError> for CliError {
    fn from(e: HooksError) -> CliError {
        let mut c = CliError::of(e.exit_code(), &e);
        c.hint = e.hint().map(str::to_string);
        c
    }
}

impl From<merge::Error> for CliError {
    fn from(e: merge::Error) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<commit::Error> for CliError {
    fn from(e: commit::Error) -> CliError {
        CliError::of(e.exit_code(), &e)
    }
}

impl From<push::ParseError> for CliError {
    fn from(e: push::ParseError) -> CliError {
        match e {
            // Git's input could not be read: an I/O error like any other.
            push::ParseError::Io(e) => e.into(),
            e => CliError::of(e.exit_code(), &e),
        }
    }
}

impl From<demo::Error> for CliError {
    fn from(e: demo::Error) -> CliError {
        match e {
            // The I/O error itself, so that a closed pipe (`git ops demo | head`) is no error.
            demo::Error::Io(e) => e.into(),
            e => CliError::of(e.exit_code(), &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_holds_every_cause_once_and_the_context_first() {
        let e = demo::Error::NoBinary(std::io::Error::other("gone"));
        let c = CliError::from(e).context("running the demo");
        assert_eq!(
            c.message,
            "running the demo: finding the git-ops binary: gone"
        );
        assert_eq!(c.code, EXIT_INTERNAL);
    }

    #[test]
    fn only_a_closed_pipe_is_a_broken_pipe() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(CliError::from(pipe).is_broken_pipe());
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let c = CliError::from(other);
        assert!(!c.is_broken_pipe());
        assert_eq!(c.code, EXIT_INTERNAL);
    }

    #[test]
    fn the_hint_of_an_engine_error_is_kept() {
        let c = CliError::from(engine::Error::hinted("no such thing", "try another"));
        assert_eq!(
            (c.code, c.message.as_str(), c.hint.as_deref()),
            (EXIT_USAGE, "no such thing", Some("try another"))
        );
    }
}
