//! `git ops verify`: the ledger (schema, signatures, thresholds, tags), and with `--range` or
//! `--history` the commits (coverage and ledger immutability).

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use gix::ObjectId;

use git_ops::render::report;
use git_ops::store::{Repo, ledger, tags};
use git_ops::verify::Report;
use git_ops::verify::ledger::verify_worktree;
use git_ops::verify::range::{Clock, judge_commits, merge_reports};

use super::common::{Ctx, load_policy, stdout};
use super::usage;

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

fn trust_root(repo: &Repo, flag: Option<&str>) -> Result<Option<ObjectId>> {
    let Some(spec) = flag
        .map(str::to_string)
        .or_else(|| repo.config_string("ops.trustRoot"))
    else {
        return Ok(None);
    };
    repo.resolve_commit(&spec)
        .map(Some)
        .map_err(|_| usage(format!("unknown trust root {spec:?}: no such commit")))
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let mut repo = ctx.repo()?;
    if args.range.is_some() || args.history {
        repo.prepare_for_walks();
    }
    let mut notes = Vec::new();
    let report = if let Some(range) = &args.range {
        let (a, b) = range
            .split_once("..")
            .ok_or_else(|| usage(format!("--range {range:?}: expected A..B")))?;
        let base = repo
            .resolve_commit(a)
            .map_err(|_| usage(format!("--range: unknown base {a:?}")))?;
        let tip = repo
            .resolve_commit(if b.is_empty() { "HEAD" } else { b })
            .map_err(|_| usage(format!("--range: unknown tip {b:?}")))?;
        let root = trust_root(&repo, args.trust_root.as_deref())?;
        let mut hidden = vec![base];
        hidden.extend(root);
        let commits = repo.commits_between(tip, &hidden)?;
        notes.push(format!("checked {} commits in {range}", commits.len()));
        let judged = judge_commits(
            &repo,
            &commits,
            Clock::Now(ctx.now()),
            &|c| root.is_none_or(|r| r == c),
            false,
        )?;
        note_bootstrap(&judged, &mut notes);
        merge_reports(&judged)
    } else if args.history {
        let head = repo
            .head_commit()?
            .ok_or_else(|| usage("the repository has no commits"))?;
        let root = trust_root(&repo, args.trust_root.as_deref())?;
        let commits = repo.commits_between(head, &root.into_iter().collect::<Vec<_>>())?;
        notes.push(format!(
            "checked the ledger history of {} commits",
            commits.len()
        ));
        let judged = judge_commits(&repo, &commits, Clock::CommitTime, &|_| true, true)?;
        if root.is_none() {
            note_bootstrap(&judged, &mut notes);
        }
        merge_reports(&judged)
    } else {
        let root = repo.workdir()?.to_path_buf();
        let policy = load_policy(&root)?;
        let files = ledger::load_files(&root)?;
        let mut infos = Vec::new();
        for name in tags::list_ops_tag_names(&repo)? {
            infos.push(tags::read_tag(&repo, &name)?);
        }
        let earlier = git_ops::engine::workspace::earlier_policies(&repo, &policy)?;
        verify_worktree(&repo, &policy, &earlier, &files, &infos)?
    };
    print(&report, args.format, &notes)?;
    Ok(if report.ok() { 0 } else { 1 })
}

fn note_bootstrap(judged: &[git_ops::verify::range::Judged], notes: &mut Vec<String>) {
    if let Some(j) = judged.iter().find(|j| j.judgement.bootstrap) {
        notes.push(format!(
            "trust root: {} (the first commit that added the policy; pin it with --trust-root or git config ops.trustRoot)",
            j.commit.id
        ));
    }
}

fn print(report: &Report, format: VerifyFormat, notes: &[String]) -> Result<()> {
    let mut out = stdout();
    match format {
        VerifyFormat::Text => {
            for n in notes {
                writeln!(out, "{n}")?;
            }
            report::text(report, &mut out)?;
        }
        VerifyFormat::Json => report::json(report, &mut out)?,
        VerifyFormat::Github => {
            for n in notes {
                writeln!(out, "::notice::{}", report::github_escape(n))?;
            }
            report::github(report, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}
