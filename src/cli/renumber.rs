//! `git ops renumber [ID]`: recovery from an id clash between clones. Gives a fresh id to the
//! caller's own records whose id a remote-tracking branch has for another record (or to ID),
//! re-signed as requester; other signoffs are dropped and must be given again.

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::model::RecordId;

use super::common::{Ctx, signer};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Renumber this record (yours, never pushed) even if no remote-tracking branch has its id.
    pub id: Option<RecordId>,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, a.key.as_deref())?;
    let done = ws.renumber(&me, a.id)?;
    let mut out = std::io::stdout();
    if done.is_empty() {
        eprintln!(
            "nothing to renumber: none of your unpushed records shares its id with a record on a remote-tracking branch (run `git fetch` first)"
        );
        return Ok(0);
    }
    for r in &done {
        writeln!(out, "{} {}", r.old, r.new)?;
        let why = r.clash.as_deref().unwrap_or("asked for");
        eprintln!(
            "renumbered {} to {} in {} ({why}); signed again by {} as requester",
            r.old, r.new, r.file, me.name
        );
        if !r.dropped.is_empty() {
            let who: Vec<String> = r
                .dropped
                .iter()
                .map(|(by, role)| format!("{by} ({role})"))
                .collect();
            eprintln!(
                "  the new id changes what a signoff signs, so these signoffs were dropped and must be given again: {} (git ops sign {})",
                who.join(", "),
                r.new
            );
        }
        if r.committed {
            eprintln!(
                "  {} is in your unpushed commits, and a commit that drops it is refused as a removed record: fold them into one first, e.g. `git reset --soft $(git merge-base HEAD @{{upstream}})` and commit again",
                r.old
            );
        }
        if let Some(t) = &r.tag_deleted {
            eprintln!("  deleted the local tag {t}, which named the old id");
        }
    }
    Ok(0)
}
