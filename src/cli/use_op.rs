//! `git ops use <id>` / `use --clear`: the operation whose `Ops-Id:` trailer the next commits get
//! (kept in the git directory, so it never enters the working tree).

use std::io::Write;

use super::Result;

use git_ops::engine::state_word;
use git_ops::model::RecordId;
use git_ops::render::line;
use git_ops::store::active;
use git_ops::verify::records::State;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The operation to link commits to.
    #[arg(conflicts_with = "clear")]
    pub id: Option<RecordId>,
    /// Stop adding the trailer.
    #[arg(long)]
    pub clear: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let mut out = stdout();
    if args.clear {
        if active::clear(&repo)? {
            writeln!(out, "cleared the active operation")?
        } else {
            writeln!(out, "no active operation")?
        }
        return Ok(0);
    }
    let Some(id) = args.id else {
        match active::read(&repo)? {
            Some(id) => writeln!(out, "{id}")?,
            None => writeln!(out, "no active operation (git ops use <id> sets one)")?,
        }
        return Ok(0);
    };
    let standing = ctx.workspace()?.use_operation(&id)?;
    writeln!(
        out,
        "commits will carry `Ops-Id: {id}` until `git ops use --clear`"
    )?;
    let (history, now) = (standing.history.state(), standing.now.state());
    if history != State::Approved {
        eprintln!(
            "warning: {id} is {} now; commits linked to it are refused until it is approved",
            state_word(history)
        );
    } else if now != State::Approved {
        eprintln!(
            "warning: {id} is approved, but its approval does not count now ({}); commits linked to it are refused",
            line(&standing.why_not_now().join("; "))
        );
    } else if let Err(why) = &standing.live {
        eprintln!(
            "warning: {id} cannot cover commits now: {}",
            line(&why.to_string())
        );
    }
    Ok(0)
}
