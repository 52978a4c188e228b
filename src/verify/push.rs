//! Judging a push: the ref updates a client sends (pre-push) or a server receives (pre-receive,
//! update). Every new commit of every updated ref is judged, governed branches only move forward,
//! ledger tags are never moved or deleted, and a pushed `ops-*` tag must agree with its record.

use std::collections::BTreeMap;
use std::io::BufRead;

use gix::ObjectId;

use super::coverage::grant_index_on_side;
use super::grants::GrantClock;
use super::range::{Clock, judge_commits, ledger_monotonic};
use super::records::check_record_with;
use super::tags::check_tags;
use super::{Finding, Report, Severity};
use crate::model::policy::POLICY_PATH;
use crate::model::{RecordId, Timestamp, yaml};
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::snapshot::{SideReader, Snapshot};
use crate::store::{self, Repo, tags};

/// One ref update of a push. `None` is git's all-zero id: the ref is created (old) or deleted
/// (new).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub refname: String,
    pub old: Option<ObjectId>,
    pub new: Option<ObjectId>,
}

/// Input from git that cannot be a ref update.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed object id {id:?} from git: {reason}")]
    ObjectId { id: String, reason: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An object id as git passes it to hooks; all zeros (of any length) is `None`.
pub fn parse_oid(s: &str) -> Result<Option<ObjectId>, ParseError> {
    if s.chars().all(|c| c == '0') {
        return Ok(None);
    }
    ObjectId::from_hex(s.as_bytes())
        .map(Some)
        .map_err(|e| ParseError::ObjectId {
            id: s.to_string(),
            reason: e.to_string(),
        })
}

impl RefUpdate {
    /// The arguments of the `update` hook: `<ref> <old> <new>`.
    pub fn from_args(refname: &str, old: &str, new: &str) -> Result<RefUpdate, ParseError> {
        Ok(RefUpdate {
            refname: refname.to_string(),
            old: parse_oid(old)?,
            new: parse_oid(new)?,
        })
    }

    /// One line of pre-push input, `<local ref> <local oid> <remote ref> <remote oid>`; `None`
    /// for a line of another shape.
    pub fn parse_pre_push_line(line: &str) -> Result<Option<RefUpdate>, ParseError> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_, local, remote_ref, remote] = f[..] else {
            return Ok(None);
        };
        let old = parse_oid(remote)?;
        Ok(Some(RefUpdate {
            refname: remote_ref.to_string(),
            old,
            new: parse_oid(local)?,
        }))
    }

    /// One line of pre-receive input, `<old oid> <new oid> <ref>`; `None` for a line of another
    /// shape.
    pub fn parse_pre_receive_line(line: &str) -> Result<Option<RefUpdate>, ParseError> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [old, new, refname] = f[..] else {
            return Ok(None);
        };
        Ok(Some(RefUpdate::from_args(refname, old, new)?))
    }
}

/// Every ref update of pre-push input (the hook's stdin).
pub fn parse_pre_push(input: impl BufRead) -> Result<Vec<RefUpdate>, ParseError> {
    parse_lines(input, RefUpdate::parse_pre_push_line)
}

/// Every ref update of pre-receive input (the hook's stdin).
pub fn parse_pre_receive(input: impl BufRead) -> Result<Vec<RefUpdate>, ParseError> {
    parse_lines(input, RefUpdate::parse_pre_receive_line)
}

fn parse_lines(
    input: impl BufRead,
    parse: fn(&str) -> Result<Option<RefUpdate>, ParseError>,
) -> Result<Vec<RefUpdate>, ParseError> {
    let mut out = Vec::new();
    for line in input.lines() {
        out.extend(parse(&line?)?);
    }
    Ok(out)
}

/// Whether a pushed branch may lose commits: a client's pre-push lets git and the server decide,
/// a server refuses to rewrite or delete a governed branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrites {
    Allowed,
    Denied,
}

/// `known` without `commit` (the other refs' commits).
fn others(known: &[ObjectId], commit: ObjectId) -> Vec<ObjectId> {
    known.iter().copied().filter(|k| *k != commit).collect()
}

/// Whether `commit`'s tree has a policy, i.e. it is on a governed branch.
fn governed(objects: &Repo, commit: ObjectId) -> Result<bool, store::Error> {
    Ok(objects
        .file_in_tree(Some(objects.commit_tree(commit)?), POLICY_PATH)?
        .is_some())
}

/// Checks a push: every new commit of every updated ref, and every `ops-*` tag. `known` are the
/// commits the receiving side already has (they are not judged again); `bootstrap_ok` decides
/// whether a commit adding a policy to a history without one may become a trust root.
pub fn check_updates(
    objects: &Repo,
    updates: &[RefUpdate],
    known: &[ObjectId],
    now: Timestamp,
    bootstrap_ok: &dyn Fn(ObjectId) -> bool,
    rewrites: Rewrites,
) -> Result<Report, store::Error> {
    let deny_rewrites = rewrites == Rewrites::Denied;
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
                && governed(objects, old)?
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
            && governed(objects, old)?
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
            for mut f in ledger_monotonic(objects, old, commit)?.findings {
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

/// A pushed `ops-*` tag (`name` without `refs/tags/`, pointing at `object`) must agree with its
/// record in the ledger of one of `tips` (the pushed or known branches).
pub fn check_pushed_tag(
    repo: &Repo,
    name: &str,
    object: ObjectId,
    tips: &[ObjectId],
    report: &mut Report,
) -> Result<(), store::Error> {
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
        let Some(ptext) = side.read_string(POLICY_PATH)? else {
            continue;
        };
        let Ok(policy) = yaml::parse_policy(&ptext) else {
            continue;
        };
        // As `verify` judges the ledger: grant signoffs at the time they claim.
        let grants = grant_index_on_side(&side, &policy, &mut Default::default())?;
        let state =
            check_record_with(&policy, record, Some((&grants, GrantClock::Claimed))).state();
        let mut index = BTreeMap::new();
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

/// The trust-root rule of a server: with `ops.trustRoot` set, only that commit may add a policy
/// to a history without one; without it, a new trust root is accepted only while no existing ref
/// (`known`) has a policy.
pub fn bootstrap_rule(
    real: &Repo,
    known: &[ObjectId],
) -> Result<Box<dyn Fn(ObjectId) -> bool>, store::Error> {
    if let Some(root) = real.config_string("ops.trustRoot") {
        let root = real.resolve_commit(&root)?;
        return Ok(Box::new(move |c| c == root));
    }
    let mut any_governed = false;
    for tip in known {
        if governed(real, *tip)? {
            any_governed = true;
            break;
        }
    }
    Ok(Box::new(move |_| !any_governed))
}

/// The pre-push check of a client pushing to `remote` (a remote's name, a URL or a path). Old tips
/// the client does not have are treated as new refs; the commits of the remote's tracking branches
/// are taken as known to the remote.
pub fn check_pre_push(
    repo: &mut Repo,
    remote: &str,
    mut updates: Vec<RefUpdate>,
    now: Timestamp,
) -> Result<Report, store::Error> {
    repo.prepare_for_walks();
    for u in &mut updates {
        u.old = u.old.filter(|o| repo.has_object(*o));
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
    check_updates(repo, &updates, &known, now, &|_| true, Rewrites::Allowed)
}

/// The check of a receiving server (pre-receive, update): the pushed objects are read from the
/// push's quarantine, every ref of the repository is known, rewrites are refused and the trust
/// root is [`bootstrap_rule`]'s.
pub fn check_received(
    real: &mut Repo,
    updates: &[RefUpdate],
    now: Timestamp,
) -> Result<Report, store::Error> {
    let mut view = real.with_push_quarantine()?;
    match view.as_mut() {
        Some((r, _)) => r.prepare_for_walks(),
        None => real.prepare_for_walks(),
    }
    let objects = view.as_ref().map(|(r, _)| r).unwrap_or(real);
    let known = real.all_ref_commits()?;
    let rule = bootstrap_rule(real, &known)?;
    check_updates(
        objects,
        updates,
        &known,
        now,
        rule.as_ref(),
        Rewrites::Denied,
    )
}
