//! `git-ops`: parse arguments, dispatch, and map errors to exit codes. Nothing else.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = cli::exit_code(&e);
            eprintln!(
                "git-ops: error: {}",
                git_ops::render::block(&format!("{e:#}"))
            );
            if let Some(h) = cli::hint(&e) {
                eprintln!("hint: {}", git_ops::render::block(h));
            }
            ExitCode::from(code)
        }
    }
}
