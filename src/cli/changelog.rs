//! `git ops changelog`: the Markdown changelog of the ledger (month sections, newest first).

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct ChangelogArgs {
    /// Write to this file (e.g. docs/OPS_CHANGELOG.md) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: ChangelogArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    match a.out {
        Some(p) => {
            let n = ws.write_changelog(&p)?;
            writeln!(stdout(), "wrote {} ({n} operations)", p.display())?;
        }
        None => write!(stdout(), "{}", ws.changelog_text()?.0)?,
    }
    Ok(0)
}

/// `--changelog [PATH]` of `record`, `close` and `rollback`: keep the Markdown ledger current, as
/// the seed's auto-ledger does.
#[derive(clap::Args, Debug, Clone)]
pub struct ChangelogFlag {
    /// Also rewrite the Markdown changelog (default docs/OPS_CHANGELOG.md) from the ledger.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = git_ops::engine::import::CHANGELOG_PATH)]
    pub changelog: Option<PathBuf>,
}

impl ChangelogFlag {
    /// Before writing the ledger: refuse now rather than after, if the changelog would lose
    /// entries.
    pub fn precheck(&self, ws: &git_ops::engine::Workspace) -> Result<()> {
        if let Some(p) = &self.changelog {
            ws.changelog_may_replace(p)?;
        }
        Ok(())
    }

    /// After writing the ledger: rewrite the changelog from the ledger as it is now.
    pub fn write(&self, ctx: &Ctx) -> Result<()> {
        if let Some(p) = &self.changelog {
            let ws = ctx.workspace()?;
            let n = ws.write_changelog(p)?;
            eprintln!("wrote {} ({n} operations)", p.display());
        }
        Ok(())
    }
}
