//! `git ops hook <name>`: the entry points the installed shims call (`hooks.rs` installs them).
//! Every error rejects (fail closed) with a message that says what to do next.

use std::io::Write;
use std::path::Path;

use super::Result;
use clap::ValueEnum;

use git_ops::model::trailer::OPS_ID;
use git_ops::render::hook as render;
use git_ops::store::{active, trailers};
use git_ops::verify::Report;
use git_ops::verify::commit::{
    check_commit_message, check_staged, check_staged_linked, message_links,
};
use git_ops::verify::push::{self, RefUpdate, check_pre_push, check_received};

use super::CliError;
use super::common::Ctx;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookName {
    PreCommit,
    PrepareCommitMsg,
    CommitMsg,
    /// The single commit-msg hook of `git ops hooks install --single`: the staged check, the
    /// active operation's trailer and the trailer check in one process.
    Commit,
    PrePush,
    PreReceive,
    Update,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_enum)]
    pub name: HookName,
    /// The arguments git passes to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let file = args.args.first().map(Path::new);
    let result = match (args.name, file) {
        (HookName::PreCommit, _) => pre_commit(ctx),
        (HookName::PrepareCommitMsg, Some(file)) => prepare_commit_msg(ctx, file),
        (HookName::CommitMsg, Some(file)) => commit_msg(ctx, file),
        (HookName::Commit, Some(file)) => commit(ctx, file),
        // Without a message file there is nothing to judge the staged change with: refuse.
        (HookName::Commit, None) => Err(CliError::internal(
            "the commit hook takes the commit message file",
        )),
        (HookName::PrepareCommitMsg | HookName::CommitMsg, None) => Ok(0),
        (HookName::PrePush, _) => pre_push(ctx, args.args.first().map_or("", |r| r)),
        (HookName::PreReceive, _) => pre_receive(ctx),
        (HookName::Update, _) => update(ctx, &args.args),
    };
    // Fail closed: an error is a rejection, with the reason and what to do.
    result.map_err(|e| {
        let name = args.name.to_possible_value();
        let name = name.as_ref().map_or("", |v| v.get_name());
        let (message, hint) = render::hook_failed(name, &e.message);
        CliError::new(e.code, message).with_hint(hint)
    })
}

/// Writes to stderr. The verdict is the exit code: a closed stderr must not change it.
fn say(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let _ = f(&mut std::io::stderr().lock());
}

fn pre_commit(ctx: &Ctx) -> Result<u8> {
    let Some(check) = check_staged(&ctx.repo()?, ctx.now())? else {
        return Ok(0);
    };
    if check.judgement.report.ok() {
        say(|o| render::warnings(o, &check.judgement.report));
        return Ok(0);
    }
    say(|o| render::commit_rejected(o, &check.judgement, check.active.as_ref()));
    Ok(1)
}

fn prepare_commit_msg(ctx: &Ctx, file: &Path) -> Result<u8> {
    if !active::maybe_set(&ctx.cwd) {
        return Ok(0);
    }
    let Some(id) = active::read(&ctx.repo()?)? else {
        return Ok(0);
    };
    // The editor's template gets it too, so the author sees it before writing the message.
    trailers::add_trailer(file, OPS_ID, &id.to_string(), true)?;
    Ok(0)
}

fn commit_msg(ctx: &Ctx, file: &Path) -> Result<u8> {
    let text = trailers::read_message(file)?;
    let ids = match message_links(trailers::above_scissors(&text)) {
        Ok(ids) if ids.is_empty() => return Ok(0),
        Ok(ids) => ids,
        Err(e) => {
            say(|o| render::malformed_trailer(o, &e));
            return Ok(1);
        }
    };
    let problems = check_commit_message(&ctx.repo()?, &ids, ctx.now())?;
    if problems.is_empty() {
        return Ok(0);
    }
    say(|o| render::message_rejected(o, &problems));
    Ok(1)
}

/// `git ops hooks install --single`: everything pre-commit, prepare-commit-msg and commit-msg
/// do, in the one hook git runs after the message is written (docs/HOOKS.md). It adds the active
/// operation's trailer first, so the staged change is judged with the links the commit will
/// carry. `git merge` passes MERGE_MSG: a merge is judged by the trailer check here and in full
/// by pre-push and the server, as with pre-commit (which `git merge` does not run).
fn commit(ctx: &Ctx, file: &Path) -> Result<u8> {
    let repo = ctx.repo()?;
    if active::maybe_set(&ctx.cwd)
        && let Some(id) = active::read(&repo)?
    {
        trailers::add_trailer(file, OPS_ID, &id.to_string(), false)?;
    }
    let text = trailers::read_message(file)?;
    let ids = match message_links(trailers::above_scissors(&text)) {
        Ok(ids) => ids,
        Err(e) => {
            say(|o| render::malformed_trailer(o, &e));
            return Ok(1);
        }
    };
    let merge = file.file_name().is_some_and(|n| n == "MERGE_MSG");
    if !merge && let Some(check) = check_staged_linked(&repo, &ids, ctx.now())? {
        if !check.judgement.report.ok() {
            say(|o| render::commit_rejected(o, &check.judgement, check.active.as_ref()));
            return Ok(1);
        }
        say(|o| render::warnings(o, &check.judgement.report));
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let problems = check_commit_message(&repo, &ids, ctx.now())?;
    if problems.is_empty() {
        return Ok(0);
    }
    say(|o| render::message_rejected(o, &problems));
    Ok(1)
}

fn verdict(report: &Report) -> u8 {
    if report.ok() {
        say(|o| render::warnings(o, report));
        return 0;
    }
    say(|o| render::push_rejected(o, "push", report));
    1
}

fn pre_push(ctx: &Ctx, remote: &str) -> Result<u8> {
    let mut repo = ctx.repo()?;
    let mut updates = push::parse_pre_push(std::io::stdin().lock())?;
    let mut remote = remote.to_string();
    // Under the pre-commit framework git's stdin is not passed on: the update is in its
    // environment instead.
    if updates.is_empty()
        && let Some((name, update)) = push::parse_pre_commit_env(|v| std::env::var(v).ok())?
    {
        if remote.is_empty() {
            remote = name;
        }
        updates.push(update);
    }
    let report = check_pre_push(&mut repo, &remote, updates, ctx.now())?;
    Ok(verdict(&report))
}

fn pre_receive(ctx: &Ctx) -> Result<u8> {
    let updates = push::parse_pre_receive(std::io::stdin().lock())?;
    server_check(ctx, &updates)
}

fn update(ctx: &Ctx, args: &[String]) -> Result<u8> {
    let [refname, old, new] = args else {
        return Err(CliError::internal(
            "the update hook takes <ref> <old> <new>",
        ));
    };
    server_check(ctx, &[RefUpdate::from_args(refname, old, new)?])
}

fn server_check(ctx: &Ctx, updates: &[RefUpdate]) -> Result<u8> {
    let report = check_received(&mut ctx.repo()?, updates, ctx.now())?;
    Ok(verdict(&report))
}
