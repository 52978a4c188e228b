//! `git ops use <id>` / `use --clear`: the operation whose `Ops-Id:` trailer the next commits get
//! (kept in the git directory, so it never enters the working tree).

use std::io::Write;

use anyhow::Result;

use git_ops::model::RecordId;
use git_ops::store::{Ledger, active};
use git_ops::verify::grants::{GrantClock, GrantIndex};
use git_ops::verify::records::{State, check_record_with};

use super::common::{Ctx, load_policy, stdout};
use super::sign::state_word;
use super::usage;

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
    let root = repo.workdir()?;
    let ledger = Ledger::load(root)?;
    let record = ledger
        .find(&id)
        .ok_or_else(|| usage(format!("no record {id} in the ledger")))?
        .value;
    if record.as_operation().is_none() {
        return Err(usage(format!("{id} is not an operation")));
    }
    let policy = load_policy(root)?;
    let grants = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
    let state =
        check_record_with(&policy, record, Some((&grants, GrantClock::Now(ctx.now())))).state();
    active::write(&repo, &id)?;
    writeln!(
        out,
        "commits will carry `Ops-Id: {id}` until `git ops use --clear`"
    )?;
    if state != State::Approved {
        eprintln!(
            "warning: {id} is {} now; commits linked to it are refused until it is approved",
            state_word(state)
        );
    }
    Ok(0)
}
