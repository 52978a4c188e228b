//! `git ops changelog`: the Markdown changelog of the ledger (month sections, newest first).

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::model::yaml;
use git_ops::render::changelog;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct ChangelogArgs {
    /// Write to this file (e.g. docs/OPS_CHANGELOG.md) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: ChangelogArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let entries: Vec<_> = ws
        .seed_views()?
        .into_iter()
        .map(|(id, flat)| (id.to_string(), id.month(), yaml::render_value(&flat)))
        .collect();
    let text = changelog::render(&entries);
    match a.out {
        Some(p) => {
            ws.write_document(&p, &text)?;
            writeln!(
                stdout(),
                "wrote {} ({} operations)",
                p.display(),
                entries.len()
            )?;
        }
        None => write!(stdout(), "{text}")?,
    }
    Ok(0)
}
