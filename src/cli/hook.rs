//! `git ops hook <name>`: the hook entry points the shims call. Every error rejects (fail closed)
//! with a message that says what to do next.

use std::io::{BufRead, Write};

use anyhow::{Context, Result};
use clap::ValueEnum;
use gix::ObjectId;

use git_ops::model::{RecordId, trailer, yaml};
use git_ops::render::{block, line};
use git_ops::store::ledger::{LedgerFile, month_path};
use git_ops::store::snapshot::{SideReader, Snapshot};
use git_ops::store::{Repo, tags};
use git_ops::verify::coverage::{
    ChangeContext, Judgement, check_on_side, grant_index_on_side, judge,
};
use git_ops::verify::grants::GrantClock;
use git_ops::verify::range::{Clock, judge_commits};
use git_ops::verify::records::{State, check_record_with};
use git_ops::verify::tags::check_tags;
use git_ops::verify::{Finding, Report, Severity};

use super::common::Ctx;
use super::use_op::active;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookName {
    PreCommit,
    PrepareCommitMsg,
    CommitMsg,
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
    let result = match args.name {
        HookName::PreCommit => pre_commit(ctx),
        HookName::PrepareCommitMsg => prepare_commit_msg(ctx, &args.args),
        HookName::CommitMsg => commit_msg(ctx, &args.args),
        HookName::PrePush => pre_push(ctx, &args.args),
        HookName::PreReceive => pre_receive(ctx),
        HookName::Update => update(ctx, &args.args),
    };
    // Fail closed: an error is a rejection, with the reason and what to do.
    let name = args
        .name
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    result.map_err(|e| {
        let hint = format!(
            "fix the cause above and try again; `git ops verify` checks the ledger, and `git ops hook {name}` runs this hook by hand"
        );
        super::CliError {
            code: super::exit_code(&e),
            message: format!("the {name} hook could not check this change, so it is rejected: {e:#}"),
            hint: Some(hint),
        }
        .into()
    })
}

/// `known` without `commit` (the other refs' commits).
fn others(known: &[ObjectId], commit: ObjectId) -> Vec<ObjectId> {
    known.iter().copied().filter(|k| *k != commit).collect()
}

fn problems(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

const ZERO: &str = "0000000000000000000000000000000000000000";

fn print_findings(report: &Report) {
    let mut err = std::io::stderr().lock();
    for f in &report.findings {
        if f.severity == Severity::Info {
            continue;
        }
        let place = f
            .file
            .as_deref()
            .map(|p| format!("{}: ", line(p)))
            .unwrap_or_default();
        let commit = f
            .commit
            .as_deref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let sev = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        let _ = writeln!(
            err,
            "  {commit}{place}{sev}[{}]: {}",
            f.code,
            line(&f.message)
        );
        if let Some(d) = &f.diff {
            for l in block(d).lines() {
                let _ = writeln!(err, "      {l}");
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-*".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn print_fix(j: &Judgement, active: Option<RecordId>) {
    let uncovered: Vec<_> = j
        .governed
        .iter()
        .filter(|v| v.covered_by.is_none())
        .collect();
    if uncovered.is_empty() {
        return;
    }
    let risk = uncovered
        .iter()
        .filter_map(|v| v.min_risk)
        .max()
        .map(|r| r.to_string())
        .unwrap_or("LOW_RISK_CONFIG".into());
    let paths: Vec<String> = uncovered.iter().map(|v| shell_quote(&v.path)).collect();
    eprintln!(
        "To fix it, declare an operation that covers these paths, get it approved, and link it:"
    );
    eprintln!(
        "  git ops new --operation '<name>' --objective '<why>' --risk-class {risk} --blast-radius '<what can break>' \\\n      --rollback-strategy '<how to revert>' --allowed-paths {} --allowed-services",
        paths.join(" ")
    );
    eprintln!("  git ops sign <id>     # by an approver, when the risk class needs approvals");
    eprintln!("  git ops use <id>      # your next commits carry `Ops-Id: <id>`");
    match active {
        Some(a) => eprintln!(
            "(the active operation is {a}; the reasons above say why it does not cover these paths)"
        ),
        None => eprintln!("If an approved operation already covers them: git ops use <id>"),
    }
}

fn pre_commit(ctx: &Ctx) -> Result<u8> {
    let repo = ctx.repo()?;
    let index = repo.load_index()?;
    let changes = repo.staged_changes(&index)?;
    if changes.is_empty() {
        return Ok(0);
    }
    let old = SideReader {
        repo: &repo,
        snapshot: Snapshot::Tree(repo.head_tree()?),
    };
    let new = SideReader {
        repo: &repo,
        snapshot: Snapshot::Index(&index),
    };
    let active = active(&repo)?;
    let mut links: Vec<RecordId> = active.into_iter().collect();
    // Concluding a merge: the operations of the commits it brings in are linked too.
    if let Some(head) = repo.head_commit()? {
        links.extend(git_ops::verify::range::merged_links(
            &repo,
            head,
            &repo.merge_heads()?,
        )?);
    }
    let j = judge(&ChangeContext {
        old: &old,
        new: &new,
        changes: &changes,
        links: &links,
        now: ctx.now(),
    })?;
    if j.report.ok() {
        if j.report
            .findings
            .iter()
            .any(|f| f.severity == Severity::Warning)
        {
            print_findings(&j.report);
        }
        return Ok(0);
    }
    eprintln!(
        "git-ops: commit rejected ({}); your staged change is kept as it is:",
        j.report.errors()
    );
    print_findings(&j.report);
    print_fix(&j, active);
    Ok(1)
}

/// The git directory of a hook's repository without opening it: hooks run at the top of the
/// working tree, where `.git` is the directory or a `gitdir:` file. This keeps the hooks that
/// run on every commit cheap when there is nothing for them to do.
fn quick_git_dir(ctx: &Ctx) -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("GIT_DIR") {
        let d = std::path::PathBuf::from(d);
        return Some(if d.is_relative() { ctx.cwd.join(d) } else { d });
    }
    let dot = ctx.cwd.join(".git");
    if dot.is_dir() {
        return Some(dot);
    }
    let text = std::fs::read_to_string(&dot).ok()?;
    let target = std::path::PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    Some(if target.is_relative() {
        ctx.cwd.join(target)
    } else {
        target
    })
}

fn prepare_commit_msg(ctx: &Ctx, args: &[String]) -> Result<u8> {
    let Some(file) = args.first() else {
        return Ok(0);
    };
    if let Some(dir) = quick_git_dir(ctx)
        && !dir.join(super::use_op::ACTIVE_FILE).exists()
    {
        return Ok(0);
    }
    let repo = ctx.repo()?;
    let Some(id) = active(&repo)? else {
        return Ok(0);
    };
    let status = std::process::Command::new("git")
        .args([
            "interpret-trailers",
            "--in-place",
            "--if-exists",
            "addIfDifferent",
            "--trailer",
        ])
        .arg(format!("{}: {id}", trailer::OPS_ID))
        .arg(file)
        .status()
        .context("running git interpret-trailers")?;
    Ok(if status.success() { 0 } else { 1 })
}

fn commit_msg(ctx: &Ctx, args: &[String]) -> Result<u8> {
    let Some(file) = args.first() else {
        return Ok(0);
    };
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    if !text.to_ascii_lowercase().contains("ops-id") {
        return Ok(0);
    }
    let ids = match trailer::ops_ids(&text) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("git-ops: commit rejected: {}", line(&e));
            return Ok(1);
        }
    };
    if ids.is_empty() {
        return Ok(0);
    }
    let repo = ctx.repo()?;
    let index = repo.load_index()?;
    let staged = SideReader {
        repo: &repo,
        snapshot: Snapshot::Index(&index),
    };
    let head = SideReader {
        repo: &repo,
        snapshot: Snapshot::Tree(repo.head_tree()?),
    };
    let policy = match head.read_string(git_ops::model::policy::POLICY_PATH)? {
        Some(t) => yaml::parse_policy(&t)
            .map_err(|e| anyhow::anyhow!("the policy in HEAD does not parse: {e}"))?,
        None => return Ok(0),
    };
    let mut bad = Vec::new();
    for id in ids {
        let path = month_path(&id.month());
        let file = staged
            .read_string(&path)?
            .map(|t| LedgerFile::parse(&path, t))
            .transpose()?;
        let Some(record) = file
            .as_ref()
            .and_then(|f| f.records.iter().find(|(_, r)| r.id() == &id))
            .map(|(_, r)| r)
        else {
            bad.push(format!("Ops-Id {id}: no such record in the staged ledger"));
            continue;
        };
        let check = check_on_side(&staged, &policy, record, ctx.now(), &mut Default::default())?;
        match check.state() {
            State::Approved => {}
            s => bad.push(format!(
                "Ops-Id {id}: the operation is {} ({} of {} approvals); run `git ops sign {id}` first",
                super::sign::state_word(s),
                check.approvals(),
                check.required
            )),
        }
    }
    if bad.is_empty() {
        return Ok(0);
    }
    eprintln!("git-ops: commit rejected (your message is kept in .git/COMMIT_EDITMSG):");
    for b in bad {
        eprintln!("  {}", line(&b));
    }
    Ok(1)
}

/// One ref update of a push.
struct Update {
    refname: String,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
}

fn oid(s: &str) -> Result<Option<ObjectId>> {
    if s == ZERO || s.chars().all(|c| c == '0') {
        return Ok(None);
    }
    Ok(Some(ObjectId::from_hex(s.as_bytes()).with_context(
        || format!("malformed object id {s:?} from git"),
    )?))
}

/// Checks a push: every new commit of every updated branch, and every `ops-*` tag.
fn check_updates(
    objects: &Repo,
    updates: &[Update],
    known: &[ObjectId],
    now: git_ops::model::Timestamp,
    bootstrap_ok: &dyn Fn(ObjectId) -> bool,
    deny_rewrites: bool,
) -> Result<Report> {
    let mut report = Report::default();
    let mut tips: Vec<ObjectId> = Vec::new();
    for u in updates {
        let is_ops_tag = u.refname.starts_with("refs/tags/ops-");
        let Some(new) = u.new else {
            if is_ops_tag {
                report.push(Finding::error(
                    "tag-deleted",
                    format!("{}: ledger tags are never deleted", u.refname),
                ));
            } else if deny_rewrites
                && let Some(old) = u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten())
                && objects
                    .file_in_tree(
                        Some(objects.commit_tree(old)?),
                        git_ops::model::policy::POLICY_PATH,
                    )?
                    .is_some()
                && !objects
                    .commits_between(old, &others(known, old))?
                    .is_empty()
            {
                // Deleting a governed branch that nothing else holds would lose its ledger, and it
                // could then be created again at an older commit.
                report.push(Finding::error(
                    "branch-deleted",
                    format!("{}: a governed branch whose commits no other branch holds is never deleted", u.refname),
                ));
            }
            continue;
        };
        if is_ops_tag && u.old.is_some() {
            report.push(Finding::error(
                "tag-moved",
                format!("{}: ledger tags are never moved or replaced", u.refname),
            ));
            continue;
        }
        // Every pushed ref's commits are judged, tags included: a commit that arrives under any
        // name is known afterwards, and would never be judged again.
        let Some(commit) = objects.peel_to_commit(new)? else {
            continue; // a tag of a tree or blob brings no commit
        };
        if deny_rewrites
            && let Some(old) = u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten())
            && !u.refname.starts_with("refs/tags/")
            && !objects.commits_between(old, &[commit])?.is_empty()
            && objects
                .file_in_tree(
                    Some(objects.commit_tree(old)?),
                    git_ops::model::policy::POLICY_PATH,
                )?
                .is_some()
        {
            report.push(Finding::error(
                "history-rewrite",
                format!(
                    "{}: not a fast-forward; rewriting a governed branch could drop ledger records (revocations, halts) or an older policy could return. Push a revert instead (and set receive.denyNonFastForwards)",
                    u.refname
                ),
            ));
            continue;
        }
        // However the branch got from its old tip to the new one, nothing its ledger held may be
        // lost and its policy may not go back.
        if let Some(old) = u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten())
            && !u.refname.starts_with("refs/tags/")
        {
            for mut f in git_ops::verify::range::ledger_monotonic(objects, old, commit)?.findings {
                f.message = format!("{}: {}", u.refname, f.message);
                report.push(f);
            }
        }
        let mut hidden = known.to_vec();
        hidden.extend(u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten()));
        let commits = objects.commits_between(commit, &hidden)?;
        let judged = judge_commits(objects, &commits, Clock::Now(now), bootstrap_ok, false)?;
        for j in judged {
            for mut f in j.judgement.report.findings {
                if f.severity == Severity::Info {
                    continue;
                }
                f.message = format!("{}: {}", u.refname, f.message);
                report.push(f);
            }
        }
        if !u.refname.starts_with("refs/tags/") {
            tips.push(commit);
        }
    }
    tips.extend(known.iter().copied());
    for u in updates {
        if let (None, Some(new)) = (u.old, u.new)
            && let Some(name) = u.refname.strip_prefix("refs/tags/")
            && name.starts_with(tags::TAG_PREFIX)
        {
            check_pushed_tag(objects, name, new, &tips, &mut report)?;
        }
    }
    Ok(report)
}

/// A pushed `ops-*` tag must agree with its record in the ledger of a pushed or known branch.
fn check_pushed_tag(
    repo: &Repo,
    name: &str,
    object: ObjectId,
    tips: &[ObjectId],
    report: &mut Report,
) -> Result<()> {
    let raw = repo.blob(object)?;
    let info = tags::parse_tag_object(name, object, &raw);
    let Ok(id) = RecordId::from_tag_name(name) else {
        report.push(Finding::error(
            "stray-tag",
            format!("tag {name} is under ops-* but is not an operation record's tag"),
        ));
        return Ok(());
    };
    let path = month_path(&id.month());
    for tip in tips {
        let tree = Some(repo.commit_tree(*tip)?);
        let side = SideReader {
            repo,
            snapshot: Snapshot::Tree(tree),
        };
        let Some(text) = side.read_string(&path)? else {
            continue;
        };
        let Ok(file) = LedgerFile::parse(&path, text) else {
            continue;
        };
        let Some((span, record)) = file.records.iter().find(|(_, r)| r.id() == &id) else {
            continue;
        };
        let Some(ptext) = side.read_string(git_ops::model::policy::POLICY_PATH)? else {
            continue;
        };
        let Ok(policy) = yaml::parse_policy(&ptext) else {
            continue;
        };
        // As `verify` judges the ledger: grant signoffs at the time they claim.
        let grants = grant_index_on_side(&side, &policy, &mut Default::default())?;
        let state =
            check_record_with(&policy, record, Some((&grants, GrantClock::Claimed))).state();
        let mut index = std::collections::BTreeMap::new();
        index.insert(id, (record, state, path.clone(), span.first_line));
        check_tags(&policy, &[], &index, std::slice::from_ref(&info), report);
        return Ok(());
    }
    report.push(Finding::error(
        "tag-without-record",
        format!("tag {name}: no pushed or existing branch has record {id}; push the branch with the record first (or together)"),
    ));
    Ok(())
}

fn reject_push(report: &Report, what: &str) -> u8 {
    if report.ok() {
        if report
            .findings
            .iter()
            .any(|f| f.severity == Severity::Warning)
        {
            print_findings(report);
        }
        return 0;
    }
    eprintln!("git-ops: {what} rejected ({}):", problems(report.errors()));
    print_findings(report);
    eprintln!(
        "Fix the commits (declare and approve an operation, add `Ops-Id:` trailers with `git ops use <id>`), then push again."
    );
    1
}

fn pre_push(ctx: &Ctx, args: &[String]) -> Result<u8> {
    let remote = args.first().cloned().unwrap_or_default();
    let mut repo = ctx.repo()?;
    repo.prepare_for_walks();
    let mut updates = Vec::new();
    for l in std::io::stdin().lock().lines() {
        let l = l?;
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 4 {
            continue;
        }
        updates.push(Update {
            refname: f[2].to_string(),
            old: oid(f[3])?.filter(|o| repo.has_object(*o)),
            new: oid(f[1])?,
        });
    }
    // A push to a URL or path (not a named remote) has no remote-tracking refs: judge every
    // commit the remote is not known to have.
    let named = !remote.is_empty()
        && !remote.starts_with('.')
        && remote
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let known = if named {
        repo.ref_commits_under(&format!("refs/remotes/{remote}/"))?
    } else {
        Vec::new()
    };
    let report = check_updates(&repo, &updates, &known, ctx.now(), &|_| true, false)?;
    Ok(reject_push(&report, "push"))
}

fn bootstrap_rule(real: &Repo, known: &[ObjectId]) -> Result<Box<dyn Fn(ObjectId) -> bool>> {
    if let Some(root) = real.config_string("ops.trustRoot") {
        let root = real.resolve_commit(&root)?;
        return Ok(Box::new(move |c| c == root));
    }
    // Without a pinned root, a new trust root is accepted only while no existing ref has a policy.
    let mut governed = false;
    for tip in known {
        if real
            .file_in_tree(
                Some(real.commit_tree(*tip)?),
                git_ops::model::policy::POLICY_PATH,
            )?
            .is_some()
        {
            governed = true;
            break;
        }
    }
    Ok(Box::new(move |_| !governed))
}

fn server_check(ctx: &Ctx, updates: Vec<Update>) -> Result<u8> {
    let mut real = ctx.repo()?;
    let mut view = real.with_push_quarantine()?;
    match view.as_mut() {
        Some((r, _)) => r.prepare_for_walks(),
        None => real.prepare_for_walks(),
    }
    let objects = view.as_ref().map(|(r, _)| r).unwrap_or(&real);
    let known = real.all_ref_commits()?;
    let rule = bootstrap_rule(&real, &known)?;
    let report = check_updates(objects, &updates, &known, ctx.now(), rule.as_ref(), true)?;
    Ok(reject_push(&report, "push"))
}

fn pre_receive(ctx: &Ctx) -> Result<u8> {
    let mut updates = Vec::new();
    for l in std::io::stdin().lock().lines() {
        let l = l?;
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        updates.push(Update {
            refname: f[2].to_string(),
            old: oid(f[0])?,
            new: oid(f[1])?,
        });
    }
    server_check(ctx, updates)
}

fn update(ctx: &Ctx, args: &[String]) -> Result<u8> {
    let [refname, old, new] = args else {
        anyhow::bail!("the update hook takes <ref> <old> <new>");
    };
    server_check(
        ctx,
        vec![Update {
            refname: refname.clone(),
            old: oid(old)?,
            new: oid(new)?,
        }],
    )
}
