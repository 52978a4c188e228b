//! `git-ops`: parse arguments, dispatch, and map errors to exit codes. Nothing else.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("git-ops: error: {}", git_ops::render::block(&e.message));
            if let Some(h) = &e.hint {
                eprintln!("hint: {}", git_ops::render::block(h));
            }
            ExitCode::from(e.code)
        }
    }
}
