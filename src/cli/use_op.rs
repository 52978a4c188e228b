//! `git ops use <id>` / `use --clear`: the operation whose `Ops-Id:` trailer the next commits get
//! (kept in the git directory, so it never enters the working tree).

use std::io::Write;

use anyhow::Result;

use git_ops::model::RecordId;
use git_ops::store::{Ledger, Repo, fsutil};
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

pub const ACTIVE_FILE: &str = "git-ops/active-operation";

/// The active operation, if one is set.
pub fn active(repo: &Repo) -> Result<Option<RecordId>> {
    let path = repo.path_in_git_dir(ACTIVE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().parse().map_err(|e| {
            usage(format!(
                "{} is corrupt ({e}); run `git ops use --clear`",
                path.display()
            ))
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let path = repo.path_in_git_dir(ACTIVE_FILE);
    let mut out = stdout();
    if args.clear {
        match std::fs::remove_file(&path) {
            Ok(()) => writeln!(out, "cleared the active operation")?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                writeln!(out, "no active operation")?
            }
            Err(e) => return Err(e.into()),
        }
        return Ok(0);
    }
    let Some(id) = args.id else {
        match active(&repo)? {
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
    fsutil::write_atomic(&path, format!("{id}\n").as_bytes(), None)?;
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
