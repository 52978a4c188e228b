//! `git ops changelog`: the Markdown changelog of the ledger (month sections, newest first).

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::model::yaml;
use git_ops::render::{changelog, seed};

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct ChangelogArgs {
    /// Write to this file (e.g. docs/OPS_CHANGELOG.md) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: ChangelogArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let commits = git_ops::engine::report::signed_commits_by_operation(ws.repo())?;
    let entries: Vec<_> = ws
        .operations_as_history()?
        .into_iter()
        .map(|(r, judged)| {
            let mut flat = seed::flat(r, &judged.check);
            // Who made each change the operation covered: its commits and verified signers.
            if let Some(list) = commits.get(r.id()) {
                flat.insert(
                    "commits".into(),
                    list.iter()
                        .map(|(id, by)| serde_json::Value::String(format!("{id} signed by {by}")))
                        .collect(),
                );
            }
            (
                r.id().to_string(),
                r.id().month(),
                yaml::render_value(&flat),
            )
        })
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
