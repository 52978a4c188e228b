//! Judging a push: the ref updates a client sends (pre-push) or a server receives (pre-receive,
//! update). Every new commit of every updated ref is judged, governed branches only move forward,
//! ledger tags are never moved or deleted, and a pushed `ops-*` tag must agree with its record.

use std::collections::BTreeMap;
use std::io::BufRead;

use gix::ObjectId;

use super::coverage::grant_index_on_side;
use super::grants::GrantClock;
use super::range::{Clock, judge_commits, judge_net_change, ledger_monotonic};
use super::records::check_record_with;
use super::tags::check_tags;
use super::{Finding, Report, Severity};
use crate::model::policy::{POLICY_PATH, RefsCfg};
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

impl ParseError {
    /// The exit code of a hook that fails with this error: input from git that cannot be read or
    /// understood is internal trouble (3).
    pub fn exit_code(&self) -> u8 {
        3
    }
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

/// The ref update the pre-commit framework describes to a pre-push hook in its environment (it
/// reads git's stdin itself and does not pass it on), with the remote's name: `PRE_COMMIT_TO_REF`
/// is the local commit, `PRE_COMMIT_FROM_REF` the remote's (unset: a new ref),
/// `PRE_COMMIT_REMOTE_BRANCH` the remote ref and `PRE_COMMIT_REMOTE_NAME` the remote. `None`
/// when `PRE_COMMIT_TO_REF` is not set. `var` looks a variable up (`std::env::var(..).ok()`).
pub fn parse_pre_commit_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, RefUpdate)>, ParseError> {
    let Some(to) = var("PRE_COMMIT_TO_REF").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let old = match var("PRE_COMMIT_FROM_REF").filter(|v| !v.is_empty()) {
        Some(from) => parse_oid(&from)?,
        None => None,
    };
    let refname = var("PRE_COMMIT_REMOTE_BRANCH")
        .or_else(|| var("PRE_COMMIT_LOCAL_BRANCH"))
        .unwrap_or_default();
    let remote = var("PRE_COMMIT_REMOTE_NAME").unwrap_or_default();
    let update = RefUpdate {
        refname,
        old,
        new: parse_oid(&to)?,
    };
    Ok(Some((remote, update)))
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
/// What a receiving server knows beyond the pushed objects: its default branch, the policy's
/// rules for refs (from the default branch), and the last accepted tip of each governed branch.
#[derive(Debug, Clone, Default)]
pub struct ServerView {
    pub default_tip: Option<ObjectId>,
    pub refs: RefsCfg,
    pub accepted: BTreeMap<String, ObjectId>,
    /// Every ref of the server with its commit, by name.
    pub ref_tips: Vec<(String, ObjectId)>,
}

impl ServerView {
    /// The view of `real`: its HEAD branch, that branch's policy's `refs` section, and the
    /// accepted tips the hook recorded.
    pub fn of(real: &Repo) -> Result<ServerView, store::Error> {
        let default_tip = real
            .head_branch()
            .and_then(|b| real.resolve_commit(&format!("refs/heads/{b}")).ok());
        let refs = match default_tip {
            Some(tip) => real
                .file_in_tree(Some(real.commit_tree(tip)?), POLICY_PATH)?
                .and_then(|t| yaml::parse_policy(&String::from_utf8_lossy(&t)).ok())
                .map(|p| p.refs)
                .unwrap_or_default(),
            None => RefsCfg::default(),
        };
        Ok(ServerView {
            default_tip,
            refs,
            accepted: store::accepted::read(real)?,
            ref_tips: real.named_ref_commits("refs/")?,
        })
    }
}

/// Whether a ref other than `refname` holds `commit`: by name where the server's refs are known
/// (two branches may point at the same commit), else by the other known commits.
fn held_elsewhere(
    objects: &Repo,
    server: Option<&ServerView>,
    known: &[ObjectId],
    refname: &str,
    commit: ObjectId,
) -> Result<bool, store::Error> {
    match server {
        Some(s) => {
            for (name, tip) in &s.ref_tips {
                if name != refname && contains(objects, *tip, commit)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        None => Ok(objects
            .commits_between(commit, &others(known, commit))?
            .is_empty()),
    }
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
fn contains(
    objects: &Repo,
    descendant: ObjectId,
    ancestor: ObjectId,
) -> Result<bool, store::Error> {
    Ok(
        objects.has_object(ancestor)
            && objects.commits_between(ancestor, &[descendant])?.is_empty(),
    )
}

/// What a new branch is judged against: the default branch's tip when the branch contains it,
/// else the commit where the branch left the default branch's history, else (an orphan, or a
/// commit the default branch already holds) the default branch's tip itself.
fn new_branch_base(
    objects: &Repo,
    default_tip: ObjectId,
    tip: ObjectId,
) -> Result<ObjectId, store::Error> {
    if contains(objects, tip, default_tip)? {
        return Ok(default_tip);
    }
    let own = objects.commits_between(tip, &[default_tip])?;
    for c in &own {
        for p in objects.commit_info(*c)?.parents {
            if !own.contains(&p) {
                return Ok(p);
            }
        }
    }
    Ok(default_tip)
}

pub fn check_updates(
    objects: &Repo,
    updates: &[RefUpdate],
    known: &[ObjectId],
    now: Timestamp,
    bootstrap_ok: &dyn Fn(ObjectId) -> bool,
    rewrites: Rewrites,
) -> Result<Report, store::Error> {
    check_updates_on(objects, updates, known, now, bootstrap_ok, rewrites, None)
}

/// [`check_updates`] with what a receiving server knows (`server`): refs outside branches and
/// tags, moved tags, branches recreated behind their last accepted tip, and the net change of
/// each branch update (a new branch against the default branch) are judged too.
pub fn check_updates_on(
    objects: &Repo,
    updates: &[RefUpdate],
    known: &[ObjectId],
    now: Timestamp,
    bootstrap_ok: &dyn Fn(ObjectId) -> bool,
    rewrites: Rewrites,
    server: Option<&ServerView>,
) -> Result<Report, store::Error> {
    let deny_rewrites = rewrites == Rewrites::Denied;
    let mut report = Report::default();
    let mut tips: Vec<ObjectId> = Vec::new();
    for u in updates {
        let is_ops_tag = u.refname.starts_with("refs/tags/ops-");
        if let Some(server) = server
            && refused_by_server(objects, server, u, &mut report)?
        {
            continue;
        }
        let Some(new) = u.new else {
            if is_ops_tag {
                report.push(Finding::error(
                    "tag-deleted",
                    format!("{}: ledger tags are never deleted", u.refname),
                ));
            } else if deny_rewrites
                && let Some(old) = u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten())
                && governed(objects, old)?
                && !held_elsewhere(objects, server, known, &u.refname, old)?
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
        // What the update does to the branch as a whole, which no single commit may show.
        if u.refname.starts_with("refs/heads/") {
            let base = match (
                u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten()),
                server,
            ) {
                (Some(old), _) => Some(old),
                (
                    None,
                    Some(ServerView {
                        default_tip: Some(d),
                        ..
                    }),
                ) => Some(new_branch_base(objects, *d, commit)?),
                (None, _) => None,
            };
            if let Some(base) = base
                && governed(objects, base)?
            {
                for mut f in judge_net_change(objects, base, commit, &commits, now)?.findings {
                    if f.severity == Severity::Info {
                        continue;
                    }
                    f.message = format!("{}: {}", u.refname, f.message);
                    report.push(f);
                }
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
/// The server's own rules for a ref update; true when it is refused (and reported).
fn refused_by_server(
    objects: &Repo,
    server: &ServerView,
    u: &RefUpdate,
    report: &mut Report,
) -> Result<bool, store::Error> {
    let r = &u.refname;
    if !server.refs.allows_namespace(r) {
        let why = if r.starts_with("refs/replace/") {
            "replace refs change what `git show`, `git archive` and clones return for other objects, and are never accepted"
        } else {
            "only branches (refs/heads/) and tags (refs/tags/) are accepted, unless the policy's refs.allow_namespaces names the namespace"
        };
        report.push(Finding::error("ref-namespace", format!("{r}: {why}")));
        return Ok(true);
    }
    if r.starts_with("refs/tags/")
        && !r.starts_with("refs/tags/ops-")
        && u.old.is_some()
        && !server.refs.movable_tags
    {
        let (code, what) = if u.new.is_none() {
            ("tag-deleted", "deleted")
        } else {
            ("tag-moved", "moved")
        };
        report.push(Finding::error(
            code,
            format!("{r}: an existing tag is never {what} on this server (the policy's refs.movable_tags allows it for tags other than ops-*)"),
        ));
        return Ok(true);
    }
    if r.starts_with("refs/heads/")
        && u.old.is_none()
        && let Some(new) = u.new
        && let Some(accepted) = server.accepted.get(r)
        && let Some(tip) = objects.peel_to_commit(new)?
        && !contains(objects, tip, *accepted)?
    {
        report.push(Finding::error(
            "branch-recreated",
            format!(
                "{r}: this governed branch was last accepted at {}, and the new tip does not contain that commit; a governed branch only moves forward, also across a delete and a recreate",
                accepted.to_hex_with_len(10)
            ),
        ));
        return Ok(true);
    }
    Ok(false)
}

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
    let server = ServerView::of(real)?;
    let report = check_updates_on(
        objects,
        updates,
        &known,
        now,
        rule.as_ref(),
        Rewrites::Denied,
        Some(&server),
    )?;
    let mut report = report;
    let pushers = super::pusher::pushers_of_push(real, objects)?;
    if !pushers.is_empty() {
        let mut pushed = Vec::new();
        for u in updates {
            if let Some(new) = u.new
                && let Some(tip) = objects.peel_to_commit(new)?
            {
                let mut hidden = known.clone();
                hidden.extend(u.old.and_then(|o| objects.peel_to_commit(o).ok().flatten()));
                pushed.push((u.refname.clone(), objects.commits_between(tip, &hidden)?));
            }
        }
        for pusher in &pushers {
            super::pusher::check_pusher(objects, pusher, &pushed, &mut report)?;
        }
    }
    if report.ok() {
        // Remember where each governed branch now stands; only this hook writes it.
        let mut tips = Vec::new();
        for u in updates {
            if u.refname.starts_with("refs/heads/")
                && let Some(new) = u.new
                && let Some(tip) = objects.peel_to_commit(new)?
                && governed(objects, tip)?
            {
                tips.push((u.refname.clone(), tip));
            }
        }
        store::accepted::record(real, &tips)?;
    }
    Ok(report)
}

/// Real repositories for the tests of the hook checks, made with the real `git` binary in an
/// isolated environment (no global or system config, fixed identities and dates).
#[cfg(test)]
pub(crate) mod testrepo {
    use std::path::Path;
    use std::process::Command;

    use gix::ObjectId;

    use crate::store::Repo;

    pub struct TestRepo {
        pub dir: tempfile::TempDir,
    }

    impl TestRepo {
        /// An empty repository on branch `main`.
        pub fn new() -> TestRepo {
            let t = TestRepo {
                dir: tempfile::tempdir().expect("a temporary directory"),
            };
            t.git(&["init", "-q", "-b", "main"]);
            t
        }

        pub fn path(&self) -> &Path {
            self.dir.path()
        }

        /// Runs git, asserts success, returns stdout trimmed.
        pub fn git(&self, args: &[&str]) -> String {
            let out = Command::new("git")
                .arg("-C")
                .arg(self.path())
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "Test Author")
                .env("GIT_AUTHOR_EMAIL", "author@example.invalid")
                .env("GIT_AUTHOR_DATE", "2026-01-27T06:00:00Z")
                .env("GIT_COMMITTER_NAME", "Test Committer")
                .env("GIT_COMMITTER_EMAIL", "committer@example.invalid")
                .env("GIT_COMMITTER_DATE", "2026-01-27T06:00:00Z")
                .env("TZ", "UTC")
                .env("LANG", "C")
                .env("LC_ALL", "C")
                .env_remove("GIT_DIR")
                .env_remove("GIT_INDEX_FILE")
                .output()
                .expect("running git");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .expect("git prints UTF-8 here")
                .trim()
                .to_string()
        }

        /// Writes `path` (creating its directories) and stages it.
        pub fn stage(&self, path: &str, text: &str) {
            let full = self.path().join(path);
            std::fs::create_dir_all(full.parent().expect("a file in a directory"))
                .expect("creating directories");
            std::fs::write(&full, text).expect("writing a file");
            self.git(&["add", "--", path]);
        }

        /// Writes, stages and commits `path`; the new commit's id.
        pub fn commit(&self, path: &str, text: &str, message: &str) -> ObjectId {
            self.stage(path, text);
            self.git(&["commit", "-q", "-m", message]);
            self.head()
        }

        pub fn head(&self) -> ObjectId {
            self.rev("HEAD")
        }

        pub fn rev(&self, rev: &str) -> ObjectId {
            ObjectId::from_hex(self.git(&["rev-parse", rev]).as_bytes()).expect("an object id")
        }

        pub fn open(&self) -> Repo {
            Repo::discover(self.path()).expect("opening the test repository")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testrepo::TestRepo;
    use super::*;

    const POLICY: &str = include_str!("../../ledger/samples/valid/policy--minimal.yaml");
    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const ZERO: &str = "0000000000000000000000000000000000000000";

    fn now() -> Timestamp {
        "2026-01-27T07:00:00Z".parse().unwrap()
    }

    fn oid(hex: &str) -> ObjectId {
        ObjectId::from_hex(hex.as_bytes()).unwrap()
    }

    fn update(refname: &str, old: Option<ObjectId>, new: Option<ObjectId>) -> RefUpdate {
        RefUpdate {
            refname: refname.into(),
            old,
            new,
        }
    }

    fn codes(report: &Report) -> Vec<&'static str> {
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code)
            .collect()
    }

    /// A governed branch: a first commit with a policy, and a second one on top.
    fn governed_repo() -> (TestRepo, ObjectId, ObjectId) {
        let t = TestRepo::new();
        let first = t.commit("ops/policy.yaml", POLICY, "policy");
        let second = t.commit("README.md", "hello\n", "readme");
        (t, first, second)
    }

    #[test]
    fn the_pre_commit_frameworks_environment_is_a_ref_update() {
        fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        }
        let full = [
            ("PRE_COMMIT_TO_REF", A),
            ("PRE_COMMIT_FROM_REF", B),
            ("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main"),
            ("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/topic"),
            ("PRE_COMMIT_REMOTE_NAME", "origin"),
        ];
        assert_eq!(
            parse_pre_commit_env(env(&full)).unwrap(),
            Some((
                "origin".to_string(),
                update("refs/heads/main", Some(oid(B)), Some(oid(A)))
            ))
        );
        // No from-ref: a new ref on the remote.
        let new_ref = [
            ("PRE_COMMIT_TO_REF", A),
            ("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main"),
        ];
        assert_eq!(
            parse_pre_commit_env(env(&new_ref)).unwrap(),
            Some((String::new(), update("refs/heads/main", None, Some(oid(A)))))
        );
        // Not run by the framework (or nothing to push): no update.
        let none = [("PRE_COMMIT_REMOTE_NAME", "origin")];
        assert_eq!(parse_pre_commit_env(env(&none)).unwrap(), None);
        let bad = [("PRE_COMMIT_TO_REF", "not-a-sha")];
        assert!(parse_pre_commit_env(env(&bad)).is_err());
    }

    #[test]
    fn pre_push_lines_have_four_fields_remote_side_old() {
        let line = format!("refs/heads/topic {A} refs/heads/main {B}");
        assert_eq!(
            RefUpdate::parse_pre_push_line(&line).unwrap(),
            Some(update("refs/heads/main", Some(oid(B)), Some(oid(A))))
        );
        let delete = format!("(delete) {ZERO} refs/heads/gone {B}");
        assert_eq!(
            RefUpdate::parse_pre_push_line(&delete).unwrap(),
            Some(update("refs/heads/gone", Some(oid(B)), None))
        );
        assert_eq!(RefUpdate::parse_pre_push_line("").unwrap(), None);
        assert_eq!(
            RefUpdate::parse_pre_push_line(&format!("{A} {B} refs/heads/main")).unwrap(),
            None,
            "three fields are not pre-push input"
        );
    }

    #[test]
    fn pre_receive_lines_have_three_fields() {
        let input = format!("{ZERO} {A} refs/heads/new\n\nnoise\n{A} {B} refs/tags/ops-x\n");
        assert_eq!(
            parse_pre_receive(input.as_bytes()).unwrap(),
            vec![
                update("refs/heads/new", None, Some(oid(A))),
                update("refs/tags/ops-x", Some(oid(A)), Some(oid(B))),
            ]
        );
        let push = format!("refs/heads/main {A} refs/heads/main {ZERO}\n");
        assert_eq!(
            parse_pre_push(push.as_bytes()).unwrap(),
            vec![update("refs/heads/main", None, Some(oid(A)))]
        );
    }

    #[test]
    fn a_malformed_object_id_is_a_typed_error() {
        let err =
            parse_pre_receive(format!("{A} not-hex refs/heads/main\n").as_bytes()).unwrap_err();
        match &err {
            ParseError::ObjectId { id, .. } => assert_eq!(id, "not-hex"),
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("malformed object id \"not-hex\" from git: "),
            "{err}"
        );
        assert!(RefUpdate::from_args("refs/heads/main", "abc", B).is_err());
        assert!(RefUpdate::parse_pre_push_line(&format!("r {A} r xyz")).is_err());
    }

    #[test]
    fn ledger_tags_are_never_deleted_or_moved() {
        let (t, first, second) = governed_repo();
        let repo = t.open();
        let tag = "refs/tags/ops-2026-01-27-001";
        for rewrites in [Rewrites::Allowed, Rewrites::Denied] {
            let report = check_updates(
                &repo,
                &[update(tag, Some(first), None)],
                &[],
                now(),
                &|_| true,
                rewrites,
            )
            .unwrap();
            assert_eq!(codes(&report), ["tag-deleted"]);
            let report = check_updates(
                &repo,
                &[update(tag, Some(first), Some(second))],
                &[],
                now(),
                &|_| true,
                rewrites,
            )
            .unwrap();
            assert_eq!(codes(&report), ["tag-moved"]);
            assert!(report.findings[0].message.starts_with(tag));
        }
        // Another tag is not a ledger tag.
        let report = check_updates(
            &repo,
            &[update("refs/tags/v1", Some(first), None)],
            &[],
            now(),
            &|_| true,
            Rewrites::Allowed,
        )
        .unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
    }

    #[test]
    fn a_server_refuses_deleting_a_governed_branch_nothing_else_holds() {
        let (t, _, second) = governed_repo();
        t.git(&["checkout", "-q", "-b", "later"]);
        let later = t.commit("notes.txt", "later\n", "later");
        let repo = t.open();
        let delete = [update("refs/heads/main", Some(second), None)];
        // The server's refs include the one being deleted: that one does not hold its commits.
        let report = check_updates(
            &repo,
            &delete,
            &[second],
            now(),
            &|_| true,
            Rewrites::Denied,
        )
        .unwrap();
        assert_eq!(codes(&report), ["branch-deleted"]);
        // Held by another branch: nothing is lost.
        let report = check_updates(
            &repo,
            &delete,
            &[second, later],
            now(),
            &|_| true,
            Rewrites::Denied,
        )
        .unwrap();
        assert!(codes(&report).is_empty(), "{:?}", report.findings);
        // A client leaves that to the server.
        let report =
            check_updates(&repo, &delete, &[], now(), &|_| true, Rewrites::Allowed).unwrap();
        assert!(codes(&report).is_empty(), "{:?}", report.findings);
        // An ungoverned branch may go.
        let plain = TestRepo::new();
        let c = plain.commit("README.md", "x\n", "x");
        let report = check_updates(
            &plain.open(),
            &[update("refs/heads/main", Some(c), None)],
            &[],
            now(),
            &|_| true,
            Rewrites::Denied,
        )
        .unwrap();
        assert!(codes(&report).is_empty(), "{:?}", report.findings);
    }

    #[test]
    fn a_server_refuses_a_non_fast_forward_of_a_governed_branch() {
        let (t, first, second) = governed_repo();
        t.git(&["checkout", "-q", "-b", "side", &first.to_string()]);
        let sibling = t.commit("notes.txt", "other\n", "sibling");
        let repo = t.open();
        let rewrite = [update("refs/heads/main", Some(second), Some(sibling))];
        let report =
            check_updates(&repo, &rewrite, &[], now(), &|_| true, Rewrites::Denied).unwrap();
        assert_eq!(codes(&report), ["history-rewrite"]);
        assert!(
            report.findings[0]
                .message
                .starts_with("refs/heads/main: not a fast-forward"),
            "{}",
            report.findings[0].message
        );
        // A fast-forward of the same branch is judged commit by commit, and passes.
        let forward = [update("refs/heads/main", Some(first), Some(second))];
        let report =
            check_updates(&repo, &forward, &[], now(), &|_| true, Rewrites::Denied).unwrap();
        assert!(report.ok(), "{:?}", report.findings);
    }

    #[test]
    fn new_commits_are_judged_and_named_by_their_ref() {
        let (t, _, second) = governed_repo();
        let changed = t.commit(
            "ops/policy.yaml",
            &POLICY.replace("version: 1", "version: 2"),
            "loosen the policy without an operation",
        );
        let repo = t.open();
        let push = [update("refs/heads/main", Some(second), Some(changed))];
        let report = check_updates(&repo, &push, &[], now(), &|_| true, Rewrites::Denied).unwrap();
        assert!(!report.ok());
        assert!(
            report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .all(|f| f.message.starts_with("refs/heads/main: ")),
            "{:?}",
            report.findings
        );
        // Commits the other side already has are not judged again one by one, but what the
        // update does to the branch is: the ref moves to a policy change nobody covered.
        let report =
            check_updates(&repo, &push, &[changed], now(), &|_| true, Rewrites::Denied).unwrap();
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("the net change of the update")
                && errors[0].code == "uncovered",
            "{errors:?}"
        );
    }

    #[test]
    fn a_pushed_ops_tag_needs_its_record() {
        let (t, _, second) = governed_repo();
        t.git(&["tag", "-a", "ops-2026-01-27-001", "-m", "x"]);
        t.git(&["tag", "-a", "ops-nonsense", "-m", "x"]);
        let repo = t.open();
        let pushed = [
            update(
                "refs/tags/ops-2026-01-27-001",
                None,
                Some(t.rev("ops-2026-01-27-001")),
            ),
            update("refs/tags/ops-nonsense", None, Some(t.rev("ops-nonsense"))),
        ];
        let report = check_updates(
            &repo,
            &pushed,
            &[second],
            now(),
            &|_| true,
            Rewrites::Denied,
        )
        .unwrap();
        assert_eq!(codes(&report), ["tag-without-record", "stray-tag"]);
    }

    #[test]
    fn the_trust_root_is_pinned_or_only_for_an_ungoverned_server() {
        let (t, first, second) = governed_repo();
        let rule = bootstrap_rule(&t.open(), &[second]).unwrap();
        assert!(!rule(first), "a governed server takes no new trust root");
        let rule = bootstrap_rule(&t.open(), &[]).unwrap();
        assert!(rule(first), "an ungoverned server takes one");
        t.git(&["config", "ops.trustRoot", &first.to_string()]);
        let rule = bootstrap_rule(&t.open(), &[second]).unwrap();
        assert!(rule(first));
        assert!(!rule(second));
    }

    #[test]
    fn a_receiving_server_knows_its_own_refs() {
        let (t, _, second) = governed_repo();
        let mut repo = t.open();
        let delete = [update("refs/heads/main", Some(second), None)];
        let report = check_received(&mut repo, &delete, now()).unwrap();
        assert_eq!(codes(&report), ["branch-deleted"]);
        t.git(&["checkout", "-q", "-b", "keep"]);
        t.commit("notes.txt", "kept\n", "keep");
        let report = check_received(&mut t.open(), &delete, now()).unwrap();
        assert!(report.ok(), "{:?}", report.findings);
        // The server is governed: a second trust root on a new branch is refused.
        t.git(&["checkout", "-q", "--orphan", "other"]);
        t.git(&["rm", "-rq", "--cached", "."]);
        let root = t.commit("ops/policy.yaml", POLICY, "another root");
        // As in a quarantine: the object is there, no ref has it yet.
        t.git(&["checkout", "-q", "--detach"]);
        t.git(&["branch", "-q", "-D", "other"]);
        let create = [update("refs/heads/other", None, Some(root))];
        let report = check_received(&mut t.open(), &create, now()).unwrap();
        assert!(!report.ok(), "{:?}", report.findings);
    }

    #[test]
    fn pre_push_ignores_old_tips_it_does_not_have() {
        let (t, _, second) = governed_repo();
        let mut repo = t.open();
        // The remote's old tip is unknown here: the ref counts as new, and the commits are
        // judged from the root (the policy commit is a trust root on a client).
        let report = check_pre_push(
            &mut repo,
            "origin",
            vec![update("refs/heads/main", Some(oid(A)), Some(second))],
            now(),
        )
        .unwrap();
        assert!(report.ok(), "{:?}", report.findings);
    }
}
