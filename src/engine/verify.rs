//! `verify` as one library call: the ledger of the working tree (policy, files, tags, earlier
//! policies), or the commits of a range or of the whole history, from a trust root. The command
//! line only parses its flags and hands the [`Verification`] to the renderer.

use gix::ObjectId;

use super::error::{Error, Result};
use super::workspace::{earlier_policies, load_policy};
use crate::model::Timestamp;
use crate::store::{Repo, ledger, tags};
use crate::verify::Report;
use crate::verify::ledger::verify_ledger_with_history;
use crate::verify::range::{self, Clock, judge_commits, merge_reports};

/// What to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The ledger of the working tree: schema, signatures, thresholds, tags.
    Ledger,
    /// Every commit in `A..B` (an empty `B` is HEAD), judged at the verifier's clock.
    Range(String),
    /// Every commit of HEAD's history that touched the ledger, judged at its own time.
    History,
}

/// A report, and the notes that say what was checked (commit counts, the trust root used).
#[derive(Debug, Clone)]
pub struct Verification {
    pub report: Report,
    pub notes: Vec<String>,
}

/// Verifies `repo` as `mode` says. `trust_root` (else `git config ops.trustRoot`) is the commit up
/// to which history is trusted as it is; without one, the first commit that added the policy is
/// used and a note says so. `now` is the verifier's clock.
pub fn verify(
    repo: &mut Repo,
    mode: &Mode,
    trust_root: Option<&str>,
    now: Timestamp,
) -> Result<Verification> {
    if *mode != Mode::Ledger {
        repo.prepare_for_walks();
    }
    let repo = &*repo;
    let mut notes = Vec::new();
    let report = match mode {
        Mode::Range(spec) => {
            let (base, tip) = parse_range(repo, spec)?;
            let root = resolve_trust_root(repo, trust_root)?;
            let mut hidden = vec![base];
            hidden.extend(root);
            let commits = repo.commits_between(tip, &hidden)?;
            notes.push(format!("checked {} commits in {spec}", commits.len()));
            let judged = judge_commits(
                repo,
                &commits,
                Clock::Now(now),
                &|c| root.is_none_or(|r| r == c),
                false,
            )?;
            note_bootstrap(&judged, &mut notes);
            merge_reports(&judged)
        }
        Mode::History => {
            let head = repo
                .head_commit()?
                .ok_or_else(|| Error::usage("the repository has no commits"))?;
            let root = resolve_trust_root(repo, trust_root)?;
            let commits = repo.commits_between(head, &root.into_iter().collect::<Vec<_>>())?;
            notes.push(format!(
                "checked the ledger history of {} commits",
                commits.len()
            ));
            let judged = judge_commits(repo, &commits, Clock::CommitTime, &|_| true, true)?;
            if root.is_none() {
                note_bootstrap(&judged, &mut notes);
            }
            merge_reports(&judged)
        }
        Mode::Ledger => verify_working_ledger(repo)?,
    };
    Ok(Verification { report, notes })
}

/// The ledger files of the working tree (a file that does not parse is a finding, not an error),
/// its `ops-*` tags, under the policy in force and its earlier versions.
fn verify_working_ledger(repo: &Repo) -> Result<Report> {
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let files = ledger::load_files(&root)?;
    let mut infos = Vec::new();
    for name in tags::list_ops_tag_names(repo)? {
        infos.push(tags::read_tag(repo, &name)?);
    }
    let earlier = earlier_policies(repo, &policy)?;
    Ok(verify_ledger_with_history(
        &policy, &earlier, &files, &infos,
    ))
}

/// `A..B` as two commits; an empty `B` is HEAD.
fn parse_range(repo: &Repo, spec: &str) -> Result<(ObjectId, ObjectId)> {
    let (a, b) = spec
        .split_once("..")
        .ok_or_else(|| Error::usage(format!("--range {spec:?}: expected A..B")))?;
    let base = repo
        .resolve_commit(a)
        .map_err(|_| Error::usage(format!("--range: unknown base {a:?}")))?;
    let tip = repo
        .resolve_commit(if b.is_empty() { "HEAD" } else { b })
        .map_err(|_| Error::usage(format!("--range: unknown tip {b:?}")))?;
    Ok((base, tip))
}

/// The trust root: `flag`, else `git config ops.trustRoot`, else none.
fn resolve_trust_root(repo: &Repo, flag: Option<&str>) -> Result<Option<ObjectId>> {
    let Some(spec) = flag
        .map(str::to_string)
        .or_else(|| repo.config_string("ops.trustRoot"))
    else {
        return Ok(None);
    };
    repo.resolve_commit(&spec)
        .map(Some)
        .map_err(|_| Error::usage(format!("unknown trust root {spec:?}: no such commit")))
}

fn note_bootstrap(judged: &[range::Judged], notes: &mut Vec<String>) {
    if let Some(j) = judged.iter().find(|j| j.judgement.bootstrap) {
        notes.push(format!(
            "trust root: {} (the first commit that added the policy; pin it with --trust-root or git config ops.trustRoot)",
            j.commit.id
        ));
    }
}
