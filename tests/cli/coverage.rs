//! The coverage engine as a library (DESIGN §3): `verify::coverage::judge` and
//! `verify::range::judge_commits` called on real repositories built with the git binary, with
//! the verifier's clock set by the test. The commits here are made with `--no-verify`, so that
//! what is judged is the engine's answer and not the hook's.

use git_ops::model::{RecordId, Timestamp};
use git_ops::store::Repo as GitRepo;
use git_ops::store::snapshot::{SideReader, Snapshot};
use git_ops::verify::Severity;
use git_ops::verify::coverage::{ChangeContext, Judgement, judge};
use git_ops::verify::range::{Clock, commit_changes, judge_commits};

use crate::harness::{Repo, Team, ledger_file_of};

fn open(repo: &Repo) -> GitRepo {
    GitRepo::discover(&repo.dir).expect("opening the test repository")
}

fn oid(repo: &Repo, rev: &str) -> gix::ObjectId {
    gix::ObjectId::from_hex(repo.rev(rev).as_bytes()).expect("git prints hex ids")
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

fn ts(value: &serde_json::Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .expect("an RFC 3339 timestamp")
}

fn plus_minutes(t: Timestamp, minutes: i64) -> Timestamp {
    Timestamp::from_unix(t.unix() + minutes * 60).expect("a valid time")
}

fn record_id(id: &str) -> RecordId {
    id.parse().expect("a record id")
}

/// Stages everything and commits without the hooks.
fn commit_unchecked(repo: &Repo, message: &str) {
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "--no-verify", "-m", message])
        .ok();
}

/// `rev` against its parent, judged with `links` at `now`, by calling `judge` directly.
fn judge_commit(repo: &Repo, rev: &str, links: &[RecordId], now: Timestamp) -> Judgement {
    let git = open(repo);
    let info = git.commit_info(oid(repo, rev)).expect("reading the commit");
    let (old_tree, changes) = commit_changes(&git, &info).expect("diffing the commit");
    let new_tree = git.commit_tree(info.id).expect("the commit's tree");
    let old = SideReader {
        repo: &git,
        snapshot: Snapshot::Tree(old_tree),
    };
    let new = SideReader {
        repo: &git,
        snapshot: Snapshot::Tree(Some(new_tree)),
    };
    judge(&ChangeContext {
        old: &old,
        new: &new,
        changes: &changes,
        links,
        now,
    })
    .expect("judging the commit")
}

/// `rev` judged by `judge_commits`, with its own trailers, at `clock`.
fn judge_range(repo: &Repo, rev: &str, clock: Clock) -> Judgement {
    let git = open(repo);
    let mut judged = judge_commits(&git, &[oid(repo, rev)], clock, &|_| true, false)
        .expect("judging the commit");
    assert_eq!(judged.len(), 1);
    judged.pop().expect("one commit").judgement
}

fn error_codes(j: &Judgement) -> Vec<&'static str> {
    j.report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect()
}

/// The message of the `uncovered` finding for `path`.
#[track_caller]
fn uncovered_message(j: &Judgement, path: &str) -> String {
    j.report
        .findings
        .iter()
        .find(|f| f.code == "uncovered" && f.file.as_deref() == Some(path))
        .unwrap_or_else(|| panic!("{path} is not reported uncovered: {:#?}", j.report))
        .message
        .clone()
}

#[track_caller]
fn assert_covered_by(j: &Judgement, path: &str, id: &str) {
    assert!(j.report.ok(), "{:#?}", j.report);
    let v = j
        .governed
        .iter()
        .find(|v| v.path == path)
        .unwrap_or_else(|| panic!("{path} is not governed: {:#?}", j.governed));
    assert_eq!(
        v.covered_by.map(|c| c.to_string()).as_deref(),
        Some(id),
        "{:#?}",
        j.governed
    );
}

#[test]
fn expiry_is_judged_at_the_verifiers_clock() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare_with(
        &team.alice,
        "LOW_RISK_CONFIG",
        &["deploy/web.yaml"],
        &["--expires-in-hours", "1"],
    );
    let created = ts(&repo.field(&id, "created_at"));
    let expires = ts(&repo.field(&id, "expires_at"));
    assert_eq!(expires, created.plus_hours(1));
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, "Tune web");

    // Inside the window: covered.
    let inside = plus_minutes(created, 30);
    assert_covered_by(
        &judge_commit(repo, "HEAD", &[], inside),
        "deploy/web.yaml",
        &id,
    );
    assert_covered_by(
        &judge_range(repo, "HEAD", Clock::Now(inside)),
        "deploy/web.yaml",
        &id,
    );

    // At the end of the window and after it: the same commit is not covered any more.
    for late in [expires, expires.plus_hours(1)] {
        for j in [
            judge_commit(repo, "HEAD", &[], late),
            judge_range(repo, "HEAD", Clock::Now(late)),
        ] {
            assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
            let msg = uncovered_message(&j, "deploy/web.yaml");
            assert!(msg.contains(&format!("expired at {expires}")), "{msg}");
        }
    }
}

#[test]
fn a_future_creation_time_is_refused_until_the_clock_reaches_it() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/web.yaml"], &[]);
    let t = now().plus_hours(2);
    repo.resign_operation(&team.alice, "alice", &id, t, |op| {
        op.created_at = Some(t);
        op.expires_at = Some(t.plus_hours(1));
    });
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, "Tune web, back to the future");

    let j = judge_commit(repo, "HEAD", &[], now());
    let codes = error_codes(&j);
    assert!(codes.contains(&"future-signoff"), "{:#?}", j.report);
    assert!(codes.contains(&"uncovered"), "{:#?}", j.report);
    let msg = uncovered_message(&j, "deploy/web.yaml");
    assert!(msg.contains("in the future"), "{msg}");

    let later = plus_minutes(t, 1);
    assert_covered_by(
        &judge_commit(repo, "HEAD", &[], later),
        "deploy/web.yaml",
        &id,
    );
}

#[test]
fn a_trailer_links_only_the_commit_that_names_it() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    commit_unchecked(repo, "Declare the restart");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, &format!("Scale web\n\nOps-Id: {id}"));
    repo.write("deploy/web.yaml", "replicas: 4\n");
    commit_unchecked(repo, "Scale web again");

    let t = now();
    assert_covered_by(
        &judge_range(repo, "HEAD~1", Clock::Now(t)),
        "deploy/web.yaml",
        &id,
    );
    let j = judge_range(repo, "HEAD", Clock::Now(t));
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    assert!(
        uncovered_message(&j, "deploy/web.yaml").contains("no operation is linked"),
        "{:#?}",
        j.report
    );

    // The links are what the trailers give judge: the same change, linked, is covered...
    let op = record_id(&id);
    assert_covered_by(
        &judge_commit(repo, "HEAD", &[op], t),
        "deploy/web.yaml",
        &id,
    );
    // ...and an id with no record is unusable, with a warning that says so.
    let unknown = record_id("OPS-2099-01-01-001");
    let j = judge_commit(repo, "HEAD", &[unknown], t);
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    assert!(
        j.report.findings.iter().any(|f| f.code == "link-unusable"
            && f.severity == Severity::Warning
            && f.message.contains("OPS-2099-01-01-001")),
        "{:#?}",
        j.report
    );

    // A malformed trailer is an error of the commit.
    repo.write("deploy/web.yaml", "replicas: 5\n");
    commit_unchecked(repo, "Scale web\n\nOps-Id: nonsense");
    let j = judge_range(repo, "HEAD", Clock::Now(t));
    assert!(error_codes(&j).contains(&"trailer"), "{:#?}", j.report);
}

#[test]
fn a_pending_operation_covers_once_the_change_brings_it_to_its_threshold() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, "Declare and scale");
    let t = now();
    let j = judge_commit(repo, "HEAD", &[], t);
    assert!(j.linked_by_change.is_empty(), "{:?}", j.linked_by_change);
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    // Named by a trailer, a pending operation still does not cover, and the reason is given.
    let j = judge_commit(repo, "HEAD", &[record_id(&id)], t);
    let msg = uncovered_message(&j, "deploy/web.yaml");
    assert!(msg.contains("pending: 0 of 1 approvals"), "{msg}");

    // Bob's signoff in the next change brings it to its threshold: that links it.
    repo.ops(&team.bob, &["sign", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 4\n");
    commit_unchecked(repo, "Approve and scale");
    let j = judge_commit(repo, "HEAD", &[], t);
    let linked: Vec<String> = j.linked_by_change.iter().map(|r| r.to_string()).collect();
    assert_eq!(linked, [id.as_str()]);
    assert_covered_by(&j, "deploy/web.yaml", &id);
}

#[test]
fn the_rules_min_risk_is_enforced() {
    let team = Team::new();
    let repo = &team.repo;
    // READ_ONLY needs no approval, so it is approved at once, but deploy/** wants more.
    let id = repo.declare(&team.alice, "Look at web", "READ_ONLY");
    assert_eq!(repo.state_of(&id), "approved");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, "Read-only, allegedly");
    let j = judge_commit(repo, "HEAD", &[], now());
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    let msg = uncovered_message(&j, "deploy/web.yaml");
    assert!(
        msg.contains(&format!(
            "{id} is READ_ONLY but deploy/web.yaml needs at least LOW_RISK_CONFIG"
        )),
        "{msg}"
    );
    let v = &j.governed[0];
    assert_eq!(v.rules, ["deploy/**"]);
    assert_eq!(v.covered_by, None);
}

#[test]
fn moving_a_file_out_of_a_governed_path_is_governed() {
    let team = Team::new();
    let repo = &team.repo;
    repo.git(&["mv", "deploy/web.yaml", "web.yaml"]).ok();
    commit_unchecked(repo, "Move the config out of reach");
    let j = judge_commit(repo, "HEAD", &[], now());
    let governed: Vec<&str> = j.governed.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(governed, ["deploy/web.yaml"]);
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
}

#[test]
fn an_operation_closed_by_an_outcome_no_longer_covers() {
    use git_ops::model::record::{Outcome, OutcomeKind};
    use git_ops::model::{Kind, Record, Role, SignerName, yaml};

    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    commit_unchecked(repo, "Declare the restart");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, &format!("Scale web\n\nOps-Id: {id}"));
    let t = now();
    assert_covered_by(
        &judge_range(repo, "HEAD", Clock::Now(t)),
        "deploy/web.yaml",
        &id,
    );

    // Alice closes it (an outcome takes effect on its requester's signature alone).
    let op = record_id(&id);
    let mut outcome = Record::Outcome(Outcome {
        record: Kind::Outcome,
        outcome_id: format!("OUT-{}", &id[4..]).parse().expect("an outcome id"),
        operation_id: op,
        outcome: OutcomeKind::Success,
        created_at: Some(t),
        execution_timestamp: Some(t),
        rollback_of: None,
        evidence: None,
        notes: None,
        signoffs: Vec::new(),
    });
    let key = git_ops::store::keys::load_keypair(&team.alice.path, || Err(String::new()))
        .expect("alice's key");
    let signoff = git_ops::crypto::signoff_in(
        repo.repository_id().as_deref(),
        &outcome,
        &key,
        &SignerName::new("alice").expect("a name"),
        Role::Requester,
        t,
        None,
    )
    .expect("signing");
    outcome.signoffs_mut().push(signoff);
    let file = ledger_file_of(&id);
    let mut text = repo.read(&file);
    text.push_str(&yaml::render_record(&outcome));
    repo.write(&file, &text);
    commit_unchecked(repo, "Close the restart");
    let j = judge_range(repo, "HEAD", Clock::Now(t));
    assert!(j.report.ok(), "the outcome itself is fine: {:#?}", j.report);

    repo.write("deploy/web.yaml", "replicas: 4\n");
    commit_unchecked(repo, &format!("Scale web again\n\nOps-Id: {id}"));
    let j = judge_range(repo, "HEAD", Clock::Now(t));
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    let msg = uncovered_message(&j, "deploy/web.yaml");
    assert!(msg.contains("closed by outcome OUT-"), "{msg}");
}

#[test]
fn the_commit_that_adds_the_policy_is_a_trust_root_only_when_allowed() {
    let team = Team::new();
    let repo = &team.repo;
    let root = oid(repo, "HEAD");
    let git = open(repo);
    let t = now();
    let judged = judge_commits(&git, &[root], Clock::Now(t), &|_| false, false).unwrap();
    let j = &judged[0].judgement;
    assert!(j.bootstrap);
    assert_eq!(error_codes(j), ["untrusted-root"], "{:#?}", j.report);

    let judged = judge_commits(&git, &[root], Clock::Now(t), &|c| c == root, false).unwrap();
    let j = &judged[0].judgement;
    assert!(j.bootstrap && j.report.ok(), "{:#?}", j.report);
}

#[test]
fn the_staged_change_is_judged_from_the_index() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Tune web", "LOW_RISK_CONFIG");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.git(&["add", "deploy/web.yaml"]).ok();

    let staged_judgement = || {
        let git = open(repo);
        let index = git.load_index().expect("reading the index");
        let changes = git.staged_changes(&index).expect("the staged change");
        let old = SideReader {
            repo: &git,
            snapshot: Snapshot::Tree(git.head_tree().expect("HEAD's tree")),
        };
        let new = SideReader {
            repo: &git,
            snapshot: Snapshot::Index(&index),
        };
        judge(&ChangeContext {
            old: &old,
            new: &new,
            changes: &changes,
            links: &[],
            now: now(),
        })
        .expect("judging the staged change")
    };

    // The ledger is changed in the working tree only: not part of the staged change.
    let j = staged_judgement();
    assert_eq!(error_codes(&j), ["uncovered"], "{:#?}", j.report);
    repo.git(&["add", &ledger_file_of(&id)]).ok();
    assert_covered_by(&staged_judgement(), "deploy/web.yaml", &id);
}
