//! One ledger, every command that shows a state: they must all say the same thing.
//!
//! The contract (src/engine/workspace.rs, `Clock`): a record's state word (`approved`, `pending`,
//! `invalid`) is its state **as history**, the approval that was made, in every command; an
//! operation approved as history whose approval does not count **now** (its grant was revoked, or
//! automation is halted) is what `status` lists as "approved, but not usable now" (json:
//! `suspended`), and what `use <id>` warns about.
//!
//! One repository holds a matrix of records: pending (with and without a signoff), approved by a
//! human, approved under a live grant, approved under a grant revoked since, approved under a
//! grant before a halt, approved with a window that has since closed, closed by an outcome, and
//! approved with a key rotated out of the policy since. Every command is run at one clock and
//! compared with the expected state of each record: first with the revocation in force, then
//! again once automation is halted (a halt suspends every grant, so then every grant-approved
//! operation is suspended, while its state as history stays `approved`).
//!
//! Time travel uses the `faketime` binary, as tests/cli/grants.rs does; these tests fail, rather
//! than skip, without it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::{
    Key, Out, Repo, Sandbox, is_operation_id, require_tool, run, without_comment,
};

const BOT: &str = "deploy-bot";

/// How an operation's approval was made, which decides whether it counts now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cover {
    /// Not approved (pending): nothing to suspend.
    None,
    /// Signed by human approvers: a halt or a revocation does not touch it.
    Human,
    /// Signed by the bot under a grant that is still live (but for a halt).
    LiveGrant,
    /// Signed by the bot under a grant revoked after the signoff.
    RevokedGrant,
    /// Signed by a human with a key rotated out of the policy since: approved as history (the
    /// key was in the policy then), but the hooks judge a covering operation under the policy in
    /// force, where that key is unknown, so it does not count now.
    RotatedKey,
}

/// One operation of the matrix.
struct Row {
    what: &'static str,
    id: String,
    /// Its state as history, which every command must show.
    state: &'static str,
    cover: Cover,
    /// Whom `show --format seed`, `runbook` and `report` must name in `approved_by` (None: not
    /// approved). A grant signoff counts as the approvals of the grant's signers.
    approved_by: Option<&'static str>,
    /// What `git ops sign` printed when the last signoff was added, if one was.
    sign_line: Option<String>,
}

impl Row {
    /// A word the reason its approval does not count now must contain (None: it counts).
    fn cause(&self, halted: bool) -> Option<&'static str> {
        match self.cover {
            Cover::RevokedGrant => Some("revoked"),
            Cover::RotatedKey => Some("key"),
            Cover::LiveGrant if halted => Some("halted"),
            _ => None,
        }
    }

    /// Whether its approval does not count now: a revoked grant, or any grant while halted.
    fn suspended(&self, halted: bool) -> bool {
        self.cause(halted).is_some()
    }
}

/// `faketime <offset> git ops <args>` as the owner of `key`.
fn faketime_ops(repo: &Repo, offset: &str, key: &Key, args: &[&str]) -> Out {
    let mut c = repo.sb.command("faketime", &repo.dir);
    c.args([offset, "git", "ops"]).args(args);
    c.env("GIT_OPS_KEY", &key.path);
    run(c)
}

/// `git ops new` for an operation on `paths` and the web service in prod, as the owner of `key`
/// (under `faketime <offset>` when given), with `extra` flags; returns its id.
fn declare(
    repo: &Repo,
    key: &Key,
    offset: Option<&str>,
    name: &str,
    risk: &str,
    paths: &[&str],
    extra: &[&str],
) -> String {
    let mut args = vec![
        "new",
        "--operation",
        name,
        "--objective",
        "Keep the web tier healthy",
        "--risk-class",
        risk,
        "--blast-radius",
        "web pods",
        "--rollback-strategy",
        "git revert",
        "--environment",
        "prod",
        "--allowed-services",
        "web",
        "--allowed-paths",
    ];
    args.extend_from_slice(paths);
    args.extend_from_slice(extra);
    let out = match offset {
        Some(o) => faketime_ops(repo, o, key, &args),
        None => repo.ops(key, &args),
    }
    .ok();
    let id = out.stdout().trim().to_string();
    assert!(is_operation_id(&id), "`git ops new` printed {id:?}\n{out}");
    id
}

/// `git ops sign <args>` (under `faketime <offset>` when given); returns the line it printed.
fn sign(repo: &Repo, key: &Key, offset: Option<&str>, args: &[&str]) -> String {
    let mut all = vec!["sign"];
    all.extend_from_slice(args);
    match offset {
        Some(o) => faketime_ops(repo, o, key, &all),
        None => repo.ops(key, &all),
    }
    .ok()
    .stdout()
    .trim()
    .to_string()
}

/// A grant to the bot for SERVICE_RESTART on deploy/, service web, in prod: created by alice
/// three hours ago for five hours, co-signed by bob two hours ago. Returns its id.
fn grant(repo: &Repo, alice: &Key, bob: &Key) -> String {
    let out = faketime_ops(
        repo,
        "-3 hours",
        alice,
        &[
            "grant",
            "create",
            "--grantee",
            BOT,
            "--risk-classes",
            "SERVICE_RESTART",
            "--paths",
            "deploy/",
            "--services",
            "web",
            "--environments",
            "prod",
            "--expires-in-hours",
            "5",
        ],
    )
    .ok();
    let id = out.stdout().trim().to_string();
    assert!(
        id.starts_with("GRANT-"),
        "grant create printed {id:?}\n{out}"
    );
    let line = sign(repo, bob, Some("-2 hours"), &[&id]);
    assert!(line.contains("approved (1 of 1 approvals)"), "{line}");
    id
}

/// An operation the bot declares and approves under `grant`, ten minutes ago (well before any
/// revocation or halt that follows: a signoff in the same second as a halt counts as halted).
fn bot_approves(repo: &Repo, bot: &Key, name: &str, grant: &str) -> (String, String) {
    let id = declare(
        repo,
        bot,
        Some("-10 minutes"),
        name,
        "SERVICE_RESTART",
        &["deploy/web.yaml"],
        &[],
    );
    let line = sign(repo, bot, Some("-10 minutes"), &[&id, "--grant", grant]);
    (id, line)
}

/// Builds the repository and the matrix. Returns the repository, alice's key (for the halt) and
/// the rows; the revocation of the second grant is in the ledger, no halt yet.
fn build() -> (Repo, Key, Vec<Row>) {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let carol = sb.generate_key("carol");
    let bot = sb.generate_key("bot");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    for (name, key, roles) in [
        ("bob", &bob, "human,approver"),
        ("carol", &carol, "human,approver"),
        (BOT, &bot, "automation"),
    ] {
        let public = key.pub_path().display().to_string();
        repo.ops(&alice, &["keys", "add", name, &public, "--role", roles])
            .ok();
    }
    std::fs::create_dir_all(repo.path("deploy")).expect("creating deploy/");
    repo.write("deploy/web.yaml", "replicas: 2\n");
    repo.commit_all("Adopt git-ops");

    let web = ["deploy/web.yaml"];
    let mut rows = Vec::new();

    // Approved by carol, whose key is then rotated (a policy change, version bumped, committed):
    // her signoff verifies under the earlier policy version only.
    let rotated = declare(
        &repo,
        &alice,
        None,
        "Restart web",
        "SERVICE_RESTART",
        &web,
        &[],
    );
    let line = sign(&repo, &carol, None, &[&rotated]);
    repo.commit_all("Record the restart");
    let change = declare(
        &repo,
        &alice,
        None,
        "Rotate carol's key",
        "LOW_RISK_CONFIG",
        &["ops/policy.yaml"],
        &[],
    );
    let change_line = sign(&repo, &bob, None, &[&change]);
    let carol2 = repo.sb.generate_key("carol2");
    let policy = repo.read("ops/policy.yaml");
    let version: u64 = policy
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a version line");
    let new_policy = policy
        .replace(
            &without_comment(&carol.public_key()),
            &without_comment(&carol2.public_key()),
        )
        .replace(
            &format!("version: {version}"),
            &format!("version: {}", version + 1),
        );
    assert_ne!(new_policy, policy, "carol's key was not in the policy");
    repo.write("ops/policy.yaml", &new_policy);
    repo.ops(&alice, &["use", &change]).ok();
    repo.commit_all("Rotate carol's key");
    repo.ops_keyless(&["use", "--clear"]).ok();
    rows.push(Row {
        what: "approved with a key rotated out since",
        id: rotated,
        state: "approved",
        cover: Cover::RotatedKey,
        approved_by: Some("carol"),
        sign_line: Some(line),
    });
    rows.push(Row {
        what: "approved policy change",
        id: change,
        state: "approved",
        cover: Cover::Human,
        // LOW_RISK_CONFIG allows self-approval, so the requester's signoff counts too.
        approved_by: Some("alice, bob"),
        sign_line: Some(change_line),
    });

    // Pending: one with no approval, one short of the two human approvals the lock file needs.
    let pending = declare(
        &repo,
        &alice,
        None,
        "Restart api",
        "SERVICE_RESTART",
        &web,
        &[],
    );
    rows.push(Row {
        what: "pending, not signed",
        id: pending,
        state: "pending",
        cover: Cover::None,
        approved_by: None,
        sign_line: None,
    });
    let lock = declare(
        &repo,
        &alice,
        None,
        "Lift the production lock",
        "FILESYSTEM_WRITE",
        &["ops/PRODUCTION_LOCK.md"],
        &[],
    );
    let line = sign(&repo, &bob, None, &[&lock]);
    rows.push(Row {
        what: "pending, one of two approvals",
        id: lock,
        state: "pending",
        cover: Cover::None,
        approved_by: None,
        sign_line: Some(line),
    });

    // Approved by a human.
    let human = declare(
        &repo,
        &alice,
        None,
        "Scale web",
        "SERVICE_RESTART",
        &web,
        &[],
    );
    let line = sign(&repo, &bob, None, &[&human]);
    rows.push(Row {
        what: "approved by a human",
        id: human,
        state: "approved",
        cover: Cover::Human,
        approved_by: Some("bob"),
        sign_line: Some(line),
    });

    // Approved by a human, then closed by an outcome.
    let closed = declare(
        &repo,
        &alice,
        None,
        "Tune web",
        "SERVICE_RESTART",
        &web,
        &[],
    );
    let line = sign(&repo, &bob, None, &[&closed]);
    let out = repo
        .ops(&alice, &["close", &closed, "--outcome", "SUCCESS"])
        .ok();
    assert!(out.stdout().trim().starts_with("OUT-"), "{out}");
    rows.push(Row {
        what: "closed by an outcome",
        id: closed,
        state: "approved",
        cover: Cover::Human,
        approved_by: Some("bob"),
        sign_line: Some(line),
    });

    // Approved three hours ago for a one-hour window: expired now, still approved as history.
    let expired = declare(
        &repo,
        &alice,
        Some("-3 hours"),
        "Restart web early",
        "SERVICE_RESTART",
        &web,
        &["--expires-in-hours", "1"],
    );
    let line = sign(&repo, &bob, Some("-3 hours"), &[&expired]);
    rows.push(Row {
        what: "approved, window expired",
        id: expired,
        state: "approved",
        cover: Cover::Human,
        approved_by: Some("bob"),
        sign_line: Some(line),
    });

    // Approved by the bot under grants: one stays live, one is revoked after the signoff, and a
    // third is the one a halt will catch (the halt comes after `build`).
    let live = grant(&repo, &alice, &bob);
    let doomed = grant(&repo, &alice, &bob);
    let (id, line) = bot_approves(&repo, &bot, "Roll web image", &live);
    rows.push(Row {
        what: "approved under a grant",
        id,
        state: "approved",
        cover: Cover::LiveGrant,
        approved_by: Some("alice, bob"),
        sign_line: Some(line),
    });
    let (id, line) = bot_approves(&repo, &bot, "Roll web image again", &doomed);
    rows.push(Row {
        what: "approved under a grant revoked since",
        id,
        state: "approved",
        cover: Cover::RevokedGrant,
        approved_by: Some("alice, bob"),
        sign_line: Some(line),
    });
    let (id, line) = bot_approves(&repo, &bot, "Roll web image once more", &live);
    rows.push(Row {
        what: "approved under a grant, then halted",
        id,
        state: "approved",
        cover: Cover::LiveGrant,
        approved_by: Some("alice, bob"),
        sign_line: Some(line),
    });
    repo.commit_all("The operations of the day");
    let out = repo
        .ops(&alice, &["grant", "revoke", &doomed, "--reason", "leaked"])
        .ok();
    assert!(out.stdout().trim().starts_with("REV-"), "{out}");
    (repo, alice, rows)
}

/// The lines of `list` or `log` text that describe a record (not the indented signoffs), as
/// id -> (state word, "approvals/required").
fn table(out: &Out) -> BTreeMap<String, (String, String)> {
    out.stdout()
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 4, "an unexpected line {l:?}\n{out}");
            (f[0].to_string(), (f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

/// `status` text: the ids under "waiting for approval" and under "approved, but not usable now".
fn status_sections(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut waiting, mut suspended) = (BTreeSet::new(), BTreeSet::new());
    let mut section = None;
    for l in text.lines() {
        if let Some(item) = l.strip_prefix("  ") {
            let id = item
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            match section {
                Some("waiting") => waiting.insert(id),
                Some("suspended") => suspended.insert(id),
                _ => false,
            };
        } else if l.starts_with("waiting for approval:") {
            section = Some("waiting");
        } else if l.starts_with("approved, but not usable now:") {
            section = Some("suspended");
        } else {
            section = None;
        }
    }
    (waiting, suspended)
}

/// The ids listed under `key` in `status --format json`.
fn ids_under(status: &Value, key: &str) -> BTreeSet<String> {
    status[key]
        .as_array()
        .unwrap_or_else(|| panic!("status --format json has no {key} list: {status}"))
        .iter()
        .map(|w| w["id"].as_str().expect("an id").to_string())
        .collect()
}

/// The value of `- <field>: ` in runbook section 6.
fn runbook_field(text: &str, field: &str) -> Option<String> {
    let six = &text[text.find("## 6) Signoff & Ledger Entry")?..];
    let prefix = format!("- {field}: ");
    six.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::to_string)
}

/// Records a failed check without stopping, so that one run shows every disagreement.
fn soft(failures: &mut Vec<String>, ok: bool, message: String) {
    if !ok {
        failures.push(message);
    }
}

/// Runs every command that shows a state, at one clock, and checks each against the matrix.
/// `phase` names the moment in the messages; `halted` says whether a halt is in force.
fn check(repo: &Repo, rows: &[Row], phase: &str, halted: bool, failures: &mut Vec<String>) {
    // The reference for the records that are not operations of the matrix (grants, the
    // revocation, the outcome, a halt): every one of them is approved.
    let list_json = repo.records();
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &list_json {
        let id = r["id"].as_str().expect("an id").to_string();
        let approvals = format!("{}/{}", r["approvals"], r["required"]);
        expected.insert(
            id,
            (r["state"].as_str().expect("a state").to_string(), approvals),
        );
    }
    for row in rows {
        let (state, _) = expected.get(&row.id).unwrap_or_else(|| {
            panic!(
                "[{phase}] list --format json lacks {} ({})",
                row.id, row.what
            )
        });
        assert_eq!(
            state, row.state,
            "[{phase}] list --format json: {} ({}) is {state}",
            row.id, row.what
        );
    }
    let matrix: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for (id, (state, _)) in &expected {
        if !matrix.contains(id.as_str()) {
            assert_eq!(
                state, "approved",
                "[{phase}] list --format json: {id} (not an operation of the matrix) is {state}"
            );
        }
    }
    let pending: BTreeSet<String> = expected
        .iter()
        .filter(|(_, (s, _))| s == "pending")
        .map(|(id, _)| id.clone())
        .collect();
    let suspended: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.suspended(halted))
        .map(|r| r.id.clone())
        .collect();

    // list and log, as text: the same state word and approvals for every record.
    for args in [vec!["list"], vec!["log"]] {
        let out = repo.ops_keyless(&args).ok();
        let shown = table(&out);
        assert_eq!(
            shown.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "[{phase}] `{}` does not show the records list --format json shows\n{out}",
            args.join(" ")
        );
        for (id, want) in &expected {
            assert_eq!(
                &shown[id],
                want,
                "[{phase}] `{}` shows {id} as {:?}, list --format json as {want:?}",
                args.join(" "),
                shown[id]
            );
        }
    }
    // log as JSON.
    let log = repo.ops_keyless(&["log", "--format", "json"]).ok().json();
    for r in log.as_array().expect("log --format json is a list") {
        let id = r["id"].as_str().expect("an id");
        assert_eq!(
            r["state"].as_str(),
            Some(expected[id].0.as_str()),
            "[{phase}] log --format json: {id}"
        );
    }

    // verify: the same state for every record, and the same counts in its summary line.
    let verify = repo
        .ops_keyless(&["verify", "--format", "json"])
        .ok()
        .json();
    let records = verify["records"].as_array().expect("verify's records");
    assert_eq!(
        records.len(),
        expected.len(),
        "[{phase}] verify --format json checks another set of records: {verify}"
    );
    for r in records {
        let id = r["id"].as_str().expect("an id");
        let want = expected
            .get(id)
            .unwrap_or_else(|| panic!("[{phase}] verify --format json shows {id}, list does not"));
        assert_eq!(
            r["state"].as_str(),
            Some(want.0.as_str()),
            "[{phase}] verify --format json: {id}"
        );
        assert_eq!(
            format!("{}/{}", r["approvals"], r["required"]),
            want.1,
            "[{phase}] verify --format json: approvals of {id}"
        );
    }
    let count = |s: &str| expected.values().filter(|(x, _)| x == s).count();
    let summary = format!(
        "{} records ({} approved, {} pending, {} invalid)",
        expected.len(),
        count("approved"),
        count("pending"),
        count("invalid")
    );
    repo.verify().ok().says(&[&summary, "verified"]);

    // status: waiting for approval exactly when pending; suspended exactly the revoked-grant
    // operations (and, while halted, every grant-approved one).
    let status = repo
        .ops_keyless(&["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(
        ids_under(&status, "waiting_for_approval"),
        pending,
        "[{phase}] status --format json: waiting_for_approval is not the pending records\n{status}"
    );
    for w in status["waiting_for_approval"].as_array().expect("a list") {
        let id = w["id"].as_str().expect("an id");
        assert_eq!(
            format!("{}/{}", w["approvals"], w["required"]),
            expected[id].1,
            "[{phase}] status --format json: approvals of {id}"
        );
    }
    assert_eq!(
        ids_under(&status, "suspended"),
        suspended,
        "[{phase}] status --format json: suspended is not the halted/revoked-grant operations\n{status}"
    );
    // Each says why; before the fix in src/engine/status.rs (`why_not_now`) the rotated-key
    // operation was listed with no reason at all, since only the notes were shown, not the
    // problems that make it invalid now.
    for x in status["suspended"].as_array().expect("a list") {
        let id = x["id"].as_str().expect("an id");
        let why = x["why"].to_string();
        let row = rows
            .iter()
            .find(|r| r.id == id)
            .expect("a row of the matrix");
        let cause = row.cause(halted).expect("suspended rows have a cause");
        assert!(
            why.contains(cause),
            "[{phase}] status --format json: {id} ({}) is suspended for {why}, which does not \
             say {cause:?}",
            row.what
        );
    }
    assert_eq!(
        status["posture"],
        if halted { "HALTED" } else { "OK" },
        "[{phase}] status --format json: posture"
    );
    let out = repo.ops_keyless(&["status"]).ok();
    let (waiting_text, suspended_text) = status_sections(&out.stdout());
    assert_eq!(
        waiting_text, pending,
        "[{phase}] status: \"waiting for approval\" is not the pending records\n{out}"
    );
    assert_eq!(
        suspended_text, suspended,
        "[{phase}] status: \"approved, but not usable now\" is not the halted/revoked-grant operations\n{out}"
    );

    // Per operation: show --format seed, report --format json, runbook, use, and sign's line.
    for row in rows {
        let (id, what, state) = (row.id.as_str(), row.what, row.state);

        let seed = repo
            .ops_keyless(&["show", id, "--format", "seed"])
            .ok()
            .stdout();
        let body = seed.strip_prefix("---\n").unwrap_or(&seed);
        let flat: Value = serde_saphyr::from_str(body).unwrap_or_else(|e| {
            panic!("[{phase}] show {id} --format seed: not YAML ({e})\n{seed}")
        });
        let report = repo
            .ops_keyless(&["report", id, "--format", "json"])
            .ok()
            .json();
        assert_eq!(
            report["state"].as_str(),
            Some(state),
            "[{phase}] report --format json: {id} ({what})"
        );
        let report_by: Vec<&str> = report["approved_by"]
            .as_array()
            .expect("report's approved_by is a list")
            .iter()
            .map(|v| v.as_str().expect("a name"))
            .collect();
        if let Some(who) = row.approved_by {
            assert_eq!(
                report_by.join(", "),
                who,
                "[{phase}] report --format json: approved_by of {id} ({what})"
            );
        }

        match row.approved_by {
            // For grant-approved operations `show --format seed` (and `runbook`, which prints the
            // same flat view) once said `approved_by: SELF` while `report` named the grant's
            // signers.
            Some(who) => soft(
                failures,
                flat["approved_by"].as_str() == Some(who),
                format!(
                    "[{phase}] show --format seed: approved_by of {id} ({what}) is {}, report \
                     says {who}",
                    flat["approved_by"]
                ),
            ),
            None => assert!(
                flat["approved_by"].is_null() && flat["approval_timestamp"].is_null(),
                "[{phase}] show --format seed: {id} ({what}) is {state}, yet approved_by or \
                 approval_timestamp is set\n{seed}"
            ),
        }
        if row.approved_by.is_some() {
            assert!(
                flat["approval_timestamp"].is_string(),
                "[{phase}] show --format seed: {id} ({what}) is approved without an \
                 approval_timestamp\n{seed}"
            );
        }

        let runbook = repo.ops_keyless(&["runbook", id]).ok().stdout();
        assert_eq!(
            runbook_field(&runbook, "state").as_deref(),
            Some(state),
            "[{phase}] runbook: state of {id} ({what})\n{runbook}"
        );
        let runbook_by = runbook_field(&runbook, "approved_by");
        let want_by = row.approved_by.unwrap_or("(not yet)");
        soft(
            failures,
            runbook_by.as_deref() == Some(want_by),
            format!(
                "[{phase}] runbook: approved_by of {id} ({what}) is {runbook_by:?}, not {want_by}"
            ),
        );

        let out = repo.ops_keyless(&["use", id]).ok();
        let warning = out.stderr();
        if state != "approved" {
            assert!(
                warning.contains(&format!("warning: {id} is {state} now")),
                "[{phase}] use: {id} ({what}) is {state}, and use does not say so\n{out}"
            );
        } else if let Some(cause) = row.cause(halted) {
            assert!(
                warning.contains(&format!(
                    "warning: {id} is approved, but its approval does not count now ("
                )) && warning.contains(cause)
                    && !warning.contains("now ()"),
                "[{phase}] use: {id} ({what}) is suspended, and use does not warn saying \
                 {cause:?}\n{out}"
            );
        } else if let Some(why) = [("closed", "closed by outcome"), ("expired", "expired at")]
            .into_iter()
            .find_map(|(word, why)| what.contains(word).then_some(why))
        {
            // Approved and counting, but out of its window or closed: use says it cannot cover
            // commits now, in the hooks' words.
            assert!(
                warning.contains(&format!("warning: {id} cannot cover commits now: {why}")),
                "[{phase}] use: {id} ({what}) cannot cover commits, and use does not say why\n{out}"
            );
        } else {
            assert!(
                !warning.contains("warning"),
                "[{phase}] use: {id} ({what}) is approved and counts now, yet use warns\n{out}"
            );
        }
        assert_eq!(
            repo.ops_keyless(&["use"]).ok().stdout().trim(),
            id,
            "[{phase}] use: {id} is not the active operation"
        );
        repo.ops_keyless(&["use", "--clear"])
            .ok()
            .says(&["cleared the active operation"]);

        // sign judged the record when its last signoff was added; the approval that was made
        // has not changed since, so its word is the state every command shows now.
        if let Some(line) = &row.sign_line {
            let approvals = &expected[id].1;
            let (got, of) = approvals.split_once('/').expect("a/r");
            let want = format!("{state} ({got} of {of} approvals)");
            assert!(
                line.ends_with(&want),
                "[{phase}] sign printed {line:?} for {id} ({what}); its state is {want}"
            );
        }
    }
}

#[test]
fn every_command_shows_the_same_state_for_each_record() {
    if !require_tool("faketime", "apt-get install faketime") {
        return;
    }
    let (repo, alice, rows) = build();
    let mut failures = Vec::new();
    check(&repo, &rows, "revoked grant", false, &mut failures);

    // Halt after every approval: the grant-approved operations stop counting now, and stay
    // approved as history.
    let halt = repo
        .ops(&alice, &["halt", "--reason", "incident INC-7"])
        .ok()
        .stdout();
    assert!(halt.trim().starts_with("HALT-"), "{halt}");
    check(&repo, &rows, "halted", true, &mut failures);
    assert!(
        failures.is_empty(),
        "commands disagree:\n{}",
        failures.join("\n")
    );
}
