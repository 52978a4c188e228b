//! `git ops verify`: the ledger (schema, signatures, thresholds, tags), and with `--range` or
//! `--history` the commits (coverage and ledger immutability).

use std::io::Write;

use super::Result;
use clap::ValueEnum;

use git_ops::engine::verify::{Mode, Verification, verify};
use git_ops::render::verify as render;

use super::common::{Ctx, stdout};

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyFormat {
    #[default]
    Text,
    Json,
    /// GitHub Actions workflow annotations (`::error file=...,line=...::`).
    Github,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t)]
    pub format: VerifyFormat,
    /// Check every commit in A..B: coverage, ledger immutability, trailers.
    #[arg(long, value_name = "A..B", conflicts_with = "history")]
    pub range: Option<String>,
    /// Check that every commit that touched the ledger kept earlier records unchanged.
    #[arg(long)]
    pub history: bool,
    /// Commits up to this one are trusted as they are (default: git config ops.trustRoot, else the
    /// first commit that added the policy).
    #[arg(long, value_name = "COMMIT")]
    pub trust_root: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let mut repo = ctx.repo()?;
    let mode = match (args.range, args.history) {
        (Some(range), _) => Mode::Range(range),
        (None, true) => Mode::History,
        (None, false) => Mode::Ledger,
    };
    let v = verify(&mut repo, &mode, args.trust_root.as_deref(), ctx.now())?;
    print(&v, args.format)?;
    Ok(if v.report.ok() { 0 } else { 1 })
}

fn print(v: &Verification, format: VerifyFormat) -> Result<()> {
    let mut out = stdout();
    match format {
        VerifyFormat::Text => render::text_with_notes(&v.report, &v.notes, &mut out)?,
        VerifyFormat::Json => render::json(&v.report, &mut out)?,
        VerifyFormat::Github => render::github_with_notes(&v.report, &v.notes, &mut out)?,
    }
    out.flush()?;
    Ok(())
}
