//! `verify` as one library call: the ledger of the working tree (policy, files, tags, earlier
//! policies), or the commits of a range or of the whole history, from a trust root. The command
//! line only parses its flags and hands the [`Verification`] to the renderer.

use gix::ObjectId;

use super::error::{Error, Result};
use super::workspace::{earlier_policies, load_policy};
use crate::model::Timestamp;
use crate::store::{Repo, ledger, tags, verify_cache};
use crate::verify::Report;
use crate::verify::ledger::verify_worktree;
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
            let mut report = merge_reports(&judged);
            // What the range does to a branch as a whole, as the server judges a push: the net
            // change from A to B must be covered too (a merge whose first parent is an old
            // commit shows no change of its own).
            if repo
                .file_in_tree(
                    Some(repo.commit_tree(base)?),
                    crate::model::policy::POLICY_PATH,
                )?
                .is_some()
            {
                let net = range::judge_net_change(repo, base, tip, &commits, now)?;
                report.findings.extend(net.findings);
            }
            report
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
///
/// The verdict is a function of what [`verify_cache::state_key`] hashes: when the cache holds a
/// verdict for the same key, it is that verdict, and nothing is parsed or checked again
/// (docs/THREAT_MODEL.md, "The verify cache").
fn verify_working_ledger(repo: &Repo) -> Result<Report> {
    let root = repo.workdir()?.to_path_buf();
    let key = verify_cache::state_key(repo, &root)?;
    if let Some(report) =
        verify_cache::load(repo, &key).and_then(|v| serde_json::from_value::<Report>(v).ok())
    {
        return Ok(report);
    }
    let report = verify_working_ledger_cold(repo, &root)?;
    if let Ok(v) = serde_json::to_value(&report) {
        verify_cache::save(repo, &key, v);
    }
    Ok(report)
}

/// [`verify_working_ledger`] without the cache.
fn verify_working_ledger_cold(repo: &Repo, root: &std::path::Path) -> Result<Report> {
    let root = root.to_path_buf();
    let policy = load_policy(&root)?;
    let files = ledger::load_files(&root)?;
    let mut infos = Vec::new();
    for name in tags::list_ops_tag_names(repo)? {
        infos.push(tags::read_tag(repo, &name)?);
    }
    let earlier = earlier_policies(repo, &policy)?;
    Ok(verify_worktree(repo, &policy, &earlier, &files, &infos)?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::push::testrepo::TestRepo;

    const POLICY: &str = include_str!("../../ledger/samples/policy.yaml");
    /// OPS-2026-01-27-001, approved and live until 2026-01-28T06:15:30Z, allowing deploy/web.yaml.
    const LEDGER: &str = include_str!("../../ledger/samples/valid/2026-01--rollback.yaml");

    fn now() -> Timestamp {
        "2026-01-27T07:00:00Z".parse().expect("a valid time")
    }

    /// The policy, the ledger, a covered change and an uncovered one.
    fn repo() -> TestRepo {
        let t = TestRepo::new();
        t.commit("ops/policy.yaml", POLICY, "Adopt git-ops");
        t.commit("ops/ledger/2026-01.yaml", LEDGER, "Declare the scale-up");
        t.commit(
            "deploy/web.yaml",
            "replicas: 3\n",
            "Scale web\n\nOps-Id: OPS-2026-01-27-001\n",
        );
        t.commit("deploy/db.yaml", "size: large\n", "Grow the database");
        t
    }

    fn run(t: &TestRepo, mode: Mode, root: Option<&str>) -> Result<Verification> {
        verify(&mut t.open(), &mode, root, now())
    }

    fn codes(v: &Verification) -> Vec<(Option<String>, &'static str)> {
        v.report
            .findings
            .iter()
            .map(|f| (f.commit.clone(), f.code))
            .collect()
    }

    #[test]
    fn the_working_ledger_is_verified_with_its_records_and_no_notes() {
        let t = repo();
        let v = run(&t, Mode::Ledger, None).expect("verified");
        assert!(v.report.ok(), "{:?}", v.report.findings);
        assert_eq!(v.report.records.len(), 3);
        assert_eq!(v.report.commits, None);
        assert!(v.notes.is_empty(), "{:?}", v.notes);
    }

    #[test]
    fn a_range_judges_its_commits_at_the_verifiers_clock() {
        let t = repo();
        let base = t.rev("HEAD~2").to_string();
        let v = run(&t, Mode::Range(format!("{base}..")), None).expect("verified");
        assert_eq!(v.notes, [format!("checked 2 commits in {base}..")]);
        assert_eq!(v.report.commits, Some(2));
        let db = t.rev("HEAD").to_hex_with_len(10).to_string();
        assert_eq!(codes(&v), [(Some(db), "uncovered")]);
    }

    #[test]
    fn history_without_a_trust_root_names_the_commit_that_added_the_policy() {
        let t = repo();
        let first = t.rev("HEAD~3");
        let v = run(&t, Mode::History, None).expect("verified");
        assert_eq!(
            v.notes,
            [
                "checked the ledger history of 4 commits".to_string(),
                format!(
                    "trust root: {first} (the first commit that added the policy; pin it with \
                     --trust-root or git config ops.trustRoot)"
                )
            ]
        );
        let pinned = run(&t, Mode::History, Some(&first.to_string())).expect("verified");
        assert_eq!(
            pinned.notes,
            ["checked the ledger history of 3 commits"],
            "a pinned trust root is not announced, and is not checked again"
        );
        t.git(&["config", "ops.trustRoot", &first.to_string()]);
        let configured = run(&t, Mode::History, None).expect("verified");
        assert_eq!(configured.notes, pinned.notes, "git config ops.trustRoot");
    }

    #[test]
    fn bad_ranges_and_trust_roots_are_usage_errors() {
        let t = repo();
        for (mode, root, message) in [
            (
                Mode::Range("main".into()),
                None,
                r#"--range "main": expected A..B"#,
            ),
            (
                Mode::Range("nope..main".into()),
                None,
                r#"--range: unknown base "nope""#,
            ),
            (
                Mode::Range("main..nope".into()),
                None,
                r#"--range: unknown tip "nope""#,
            ),
            (
                Mode::History,
                Some("nope"),
                r#"unknown trust root "nope": no such commit"#,
            ),
            (
                Mode::Range("main~1..".into()),
                Some("nope"),
                r#"unknown trust root "nope": no such commit"#,
            ),
        ] {
            let e = run(&t, mode.clone(), root).expect_err(message);
            assert!(matches!(e, Error::Usage { .. }), "{mode:?}: {e:?}");
            assert_eq!((e.exit_code(), e.to_string().as_str()), (2, message));
        }
        let empty = TestRepo::new();
        let e = run(&empty, Mode::History, None).expect_err("no commits");
        assert_eq!(e.to_string(), "the repository has no commits");
        assert_eq!(e.exit_code(), 2);
    }
}
