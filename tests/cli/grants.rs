//! Preauth grants end to end (DESIGN §2.1, §3, seed 003; docs/THREAT_MODEL.md "Time" and
//! "Grants"): a bot acting inside a grant commits through the real hooks; out of scope, expired,
//! too long, revoked (also by back-dating), halted and future-dated signoffs are refused by the
//! command line *and* by the hooks (with signoffs forged past the command line where that is the
//! stronger check); automation cannot grant, revoke, halt, resume or tag; every privileged action
//! lands in the audit log, which never holds key material.
//!
//! Time travel uses the `faketime` binary (libfaketime through LD_PRELOAD, which git hands on to
//! its hook children). CI installs it, and there these tests fail without it; elsewhere they
//! print `SKIPPED:` and return.

use std::collections::BTreeSet;

use git_ops::model::{Record, RecordId, Role, SignerName, Timestamp, yaml};
use git_ops::verify::grants::GrantIndex;

use crate::harness::{Key, Out, Repo, Sandbox, is_operation_id, ledger_file_of, require_tool, run};

const BOT: &str = "deploy-bot";

/// A governed repository with two human approvers (alice, who ran `git ops init`, and bob) and an
/// automation signer (`deploy-bot`), the policy committed with the hooks installed.
struct Crew {
    repo: Repo,
    alice: Key,
    bob: Key,
    bot: Key,
}

impl Crew {
    /// `None` (a visible skip, or a failure under CI) when `faketime` is missing.
    fn new() -> Option<Crew> {
        if !require_tool("faketime", "apt-get install faketime") {
            return None;
        }
        let sb = Sandbox::new();
        let alice = sb.generate_key("alice");
        let bob = sb.generate_key("bob");
        let bot = sb.generate_key("bot");
        let repo = sb.git_init("repo");
        repo.ops(&alice, &["init", "--name", "alice"]).ok();
        let bob_pub = bob.pub_path().display().to_string();
        repo.ops(
            &alice,
            &["keys", "add", "bob", &bob_pub, "--role", "human,approver"],
        )
        .ok();
        let bot_pub = bot.pub_path().display().to_string();
        repo.ops(
            &alice,
            &["keys", "add", BOT, &bot_pub, "--role", "automation"],
        )
        .ok();
        let policy = repo.read("ops/policy.yaml");
        assert!(
            policy.contains("break_glass_max_hours: 2")
                && policy.contains("max_hours: 72")
                && policy.contains("human_only_tags: true")
                && policy.contains("SERVICE_RESTART:  { approvals: 1 }"),
            "the starter policy changed; these tests rely on its grant limits, tag rule and \
             SERVICE_RESTART threshold:\n{policy}"
        );
        std::fs::create_dir_all(repo.path("deploy")).unwrap();
        repo.write("deploy/web.yaml", "replicas: 2\n");
        repo.commit_all("Adopt git-ops");
        Some(Crew {
            repo,
            alice,
            bob,
            bot,
        })
    }

    /// `git ops grant create` by the owner of `key` for the bot (see [`grant_args`]), plus
    /// `extra`. Returns the command's outcome (the caller checks it).
    fn try_grant(&self, key: &Key, extra: &[&str]) -> Out {
        self.repo.ops(key, &grant_args(extra))
    }

    /// A grant made by alice and co-signed by bob (SERVICE_RESTART needs one approval besides
    /// the issuer), with `extra` flags (`--expires-in-hours` at least). Returns its id.
    fn grant(&self, extra: &[&str]) -> String {
        self.grant_at(None, extra)
    }

    /// Like [`Crew::grant`], alice's `grant create` run under `faketime <offset>` when given.
    fn grant_at(&self, offset: Option<&str>, extra: &[&str]) -> String {
        let args = grant_args(extra);
        let out = match offset {
            Some(o) => faketime_ops(&self.repo, o, Some(&self.alice), &args),
            None => self.repo.ops(&self.alice, &args),
        }
        .ok()
        .says(&["pending (0 of 1 approvals)"]);
        let id = out.stdout().trim().to_string();
        assert!(
            id.starts_with("GRANT-"),
            "grant create printed {id:?}\n{out}"
        );
        self.repo
            .ops(&self.bob, &["sign", &id])
            .ok()
            .says(&["approved (1 of 1 approvals)"]);
        id
    }

    /// The bot declares a SERVICE_RESTART operation on deploy/web.yaml, service web, in prod.
    fn bot_op(&self, name: &str) -> String {
        declare(
            &self.repo,
            &self.bot,
            None,
            &Decl {
                name,
                ..Decl::default()
            },
        )
    }
}

/// `grant create` for the bot: SERVICE_RESTART on deploy/, service web, environment prod, and
/// `extra` (`--expires-in-hours` at least).
fn grant_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    args
}

/// What `git ops new` declares; the default is inside the standard grant's scope.
struct Decl<'a> {
    name: &'a str,
    risk: &'a str,
    paths: &'a [&'a str],
    services: &'a [&'a str],
    environment: Option<&'a str>,
}

impl Default for Decl<'_> {
    fn default() -> Self {
        Decl {
            name: "Roll web image",
            risk: "SERVICE_RESTART",
            paths: &["deploy/web.yaml"],
            services: &["web"],
            environment: Some("prod"),
        }
    }
}

/// `git ops new` as the owner of `key` (under `faketime <offset>` when given); returns the id.
fn declare(repo: &Repo, key: &Key, offset: Option<&str>, d: &Decl<'_>) -> String {
    let mut args = vec![
        "new",
        "--operation",
        d.name,
        "--objective",
        "Roll the new web image",
        "--risk-class",
        d.risk,
        "--blast-radius",
        "web pods",
        "--rollback-strategy",
        "git revert",
        "--allowed-paths",
    ];
    args.extend_from_slice(d.paths);
    args.push("--allowed-services");
    args.extend_from_slice(d.services);
    if let Some(e) = d.environment {
        args.extend_from_slice(&["--environment", e]);
    }
    let out = match offset {
        Some(o) => faketime_ops(repo, o, Some(key), &args),
        None => repo.ops(key, &args),
    }
    .ok();
    let id = out.stdout().trim().to_string();
    assert!(is_operation_id(&id), "`git ops new` printed {id:?}\n{out}");
    id
}

/// `faketime <offset> git ops <args>` (as the owner of `key`).
fn faketime_ops(repo: &Repo, offset: &str, key: Option<&Key>, args: &[&str]) -> Out {
    let mut c = repo.sb.command("faketime", &repo.dir);
    c.args([offset, "git", "ops"]).args(args);
    if let Some(k) = key {
        c.env("GIT_OPS_KEY", &k.path);
    }
    run(c)
}

/// `faketime <offset> git <args>`: git's hooks inherit the faked clock.
fn faketime_git(repo: &Repo, offset: &str, args: &[&str]) -> Out {
    let mut c = repo.sb.command("faketime", &repo.dir);
    c.args([offset, "git"]).args(args);
    run(c)
}

/// Every file under ops/ledger with its bytes, to show that a refusal appended nothing.
fn ledger_bytes(repo: &Repo) -> Vec<(String, Vec<u8>)> {
    let dir = repo.path("ops/ledger");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Asserts that `out` is a refusal (exit 2) saying every one of `needles`, and that the ledger
/// is byte for byte what it was (`before`).
#[track_caller]
fn refused(repo: &Repo, before: &[(String, Vec<u8>)], out: Out, needles: &[&str]) {
    out.code(2).says(needles);
    assert!(
        ledger_bytes(repo) == before,
        "a refused command changed the ledger"
    );
}

/// Changes deploy/web.yaml, links `id` with `git ops use`, stages everything and runs
/// `git commit` through the hooks (under `faketime <offset>` when given). The caller checks the
/// outcome; the change stays staged on a rejection.
fn commit_linked(repo: &Repo, key: &Key, id: &str, offset: Option<&str>) -> Out {
    let mut text = repo.read("deploy/web.yaml");
    text.push_str("# rolled\n");
    repo.write("deploy/web.yaml", &text);
    repo.ops(key, &["use", id]).ok();
    repo.git(&["add", "-A"]).ok();
    let message = format!("Roll web under {id}");
    // The commit carries git's SSH signature by the signer who makes it.
    let signing = format!("user.signingKey={}", key.path.display());
    let args = ["-c", &signing, "commit", "-q", "-m", &message];
    match offset {
        Some(o) => faketime_git(repo, o, &args),
        None => repo.git(&args),
    }
}

/// Asserts that a commit was rejected by the hooks, saying `needles`, and HEAD did not move.
#[track_caller]
fn rejected(repo: &Repo, head: &str, out: Out, needles: &[&str]) {
    out.failed().says(&["commit rejected"]).says(needles);
    assert_eq!(repo.rev("HEAD"), head, "a rejected commit moved HEAD");
}

/// Asserts that a commit went through, and that HEAD carries the `Ops-Id: <id>` trailer.
#[track_caller]
fn accepted(repo: &Repo, head: &str, out: Out, id: &str) {
    out.ok();
    assert_ne!(repo.rev("HEAD"), head, "the commit did not happen");
    let message = repo.git(&["log", "-1", "--format=%B"]).ok().stdout();
    assert!(
        message.contains(&format!("Ops-Id: {id}")),
        "HEAD lacks the trailer: {message}"
    );
}

/// Appends to operation `id` an approver signoff by `signer` under `grant`, dated `at`, signed
/// with `key`: what a bot could write without asking `git ops sign`, so that the hooks, not the
/// command line, must refuse it.
fn forge_grant_signoff(repo: &Repo, key: &Key, signer: &str, id: &str, grant: &str, at: Timestamp) {
    let file = ledger_file_of(id);
    let text = repo.read(&file);
    let (span, mut record) = yaml::parse_stream(&text)
        .expect("the ledger file parses")
        .into_iter()
        .find(|(_, r)| r.id().to_string() == id)
        .unwrap_or_else(|| panic!("{id} is not in {file}"));
    let keypair = git_ops::store::keys::load_keypair(&key.path, || {
        Err("test keys have no passphrase".to_string())
    })
    .expect("loading the test key");
    let s = git_ops::crypto::signoff_in(
        repo.repository_id().as_deref(),
        &record,
        &keypair,
        &SignerName::new(signer).unwrap(),
        Role::Approver,
        at,
        Some(grant.parse().expect("a grant id")),
    )
    .expect("signing");
    record.signoffs_mut().push(s);
    let mut rewritten = text[..span.bytes.start].to_string();
    rewritten.push_str(&yaml::render_record(&record));
    rewritten.push_str(&text[span.bytes.end..]);
    repo.write(&file, &rewritten);
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix(secs as i64).unwrap()
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs).unwrap()
}

/// The records of the working tree's ledger, and its policy.
fn parsed(repo: &Repo) -> (git_ops::model::Policy, Vec<Record>) {
    let policy = yaml::parse_policy(&repo.read("ops/policy.yaml")).expect("the policy parses");
    let mut records = Vec::new();
    for (name, bytes) in ledger_bytes(repo) {
        let text = String::from_utf8(bytes).unwrap();
        let parsed = yaml::parse_stream(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        records.extend(parsed.into_iter().map(|(_, r)| r));
    }
    (policy, records)
}

fn grant_list_json(repo: &Repo, active_only: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["grant", "list", "--format", "json"];
    if active_only {
        args.push("--active-only");
    }
    match repo.ops_keyless(&args).ok().json() {
        serde_json::Value::Array(v) => v,
        other => panic!("grant list --format json printed {other}"),
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_bot_inside_its_grant_commits_through_the_hooks_and_verify_passes() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;

    // Alice's grant alone is pending: SERVICE_RESTART needs an approver besides the issuer.
    let out = crew
        .try_grant(&crew.alice, &["--expires-in-hours", "4"])
        .ok()
        .says(&["pending (0 of 1 approvals)"]);
    let grant = out.stdout().trim().to_string();
    let early = crew.bot_op("Roll web image early");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &early, "--grant", &grant]),
        &["not approved"],
    );
    repo.ops(&crew.bob, &["sign", &grant])
        .ok()
        .says(&["approved (1 of 1 approvals)"]);
    repo.commit_all("Grant the deploy bot a release window");

    let id = crew.bot_op("Roll web image");
    repo.ops(&crew.bot, &["sign", &id, "--grant", &grant])
        .ok()
        .says(&[&format!("under {grant}"), "approved"]);
    assert_eq!(repo.state_of(&id), "approved");
    let signoffs = repo.field(&id, "signoffs");
    let bot_signoff = signoffs
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == "approver")
        .unwrap_or_else(|| panic!("no approver signoff: {signoffs}"));
    assert_eq!(bot_signoff["by"], BOT);
    assert_eq!(bot_signoff["grant"], grant.as_str());

    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &id, None);
    accepted(repo, &head, out, &id);
    assert!(repo.staged().is_empty(), "the commit left changes staged");
    repo.verify().ok().says(&["verified"]);
    // CI judges the same commit at its own clock.
    let range = format!("{head}..HEAD");
    repo.ops_keyless(&["verify", "--range", &range]).ok();
}

/// The four scope dimensions: each refused by `sign --grant` (exit 2, naming what is out of
/// scope, nothing appended), and a commit linked to the operation, even with a grant signoff
/// forged past the command line, rejected by the hooks for the same reason.
fn out_of_scope(decl: Decl<'_>, needles: &[&str]) {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    repo.commit_all("Grant the deploy bot a release window");
    let id = declare(repo, &crew.bot, None, &decl);
    let before = ledger_bytes(repo);
    let mut all = vec!["out of scope"];
    all.extend_from_slice(needles);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]),
        &all,
    );
    assert_eq!(repo.state_of(&id), "pending");

    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &id, None);
    rejected(repo, &head, out, &[&id]);

    forge_grant_signoff(repo, &crew.bot, BOT, &id, &grant, now());
    repo.git(&["add", "-A"]).ok();
    let out = repo.git(&["commit", "-q", "-m", "Roll web with a forged signoff"]);
    rejected(repo, &head, out, needles);
    assert_eq!(repo.state_of(&id), "pending", "the forged signoff counted");
}

#[test]
fn out_of_scope_path_is_refused() {
    out_of_scope(
        Decl {
            paths: &["deploy/web.yaml", "docs/governance/oncall.md"],
            ..Decl::default()
        },
        &["does not include path docs/governance/oncall.md"],
    );
}

#[test]
fn a_path_that_merely_starts_like_the_granted_directory_is_out_of_scope() {
    // `deploy/` in a grant is the directory, not every path beginning with "deploy".
    out_of_scope(
        Decl {
            paths: &["deploy/web.yaml", "deployment/web.yaml"],
            ..Decl::default()
        },
        &["does not include path deployment/web.yaml"],
    );
}

#[test]
fn out_of_scope_service_is_refused() {
    out_of_scope(
        Decl {
            services: &["web", "db"],
            ..Decl::default()
        },
        &["does not include service db"],
    );
}

#[test]
fn out_of_scope_environment_is_refused() {
    out_of_scope(
        Decl {
            environment: Some("staging"),
            ..Decl::default()
        },
        &["does not include environment staging"],
    );
}

#[test]
fn an_operation_naming_no_environment_is_out_of_a_grant_limited_to_prod() {
    out_of_scope(
        Decl {
            environment: None,
            ..Decl::default()
        },
        &["limited to environments prod"],
    );
}

#[test]
fn out_of_scope_risk_class_is_refused() {
    out_of_scope(
        Decl {
            risk: "FILESYSTEM_WRITE",
            ..Decl::default()
        },
        &["does not include risk class FILESYSTEM_WRITE"],
    );
}

#[test]
fn an_expired_grant_is_refused_by_sign_and_by_the_hooks() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "1"]);
    repo.commit_all("Grant the deploy bot one hour");

    // Approved under the grant while it was live.
    let earlier = crew.bot_op("Roll web image");
    repo.ops(&crew.bot, &["sign", &earlier, "--grant", &grant])
        .ok()
        .says(&["approved"]);

    // Two hours later the bot's clock is past the grant.
    let late = crew.bot_op("Roll web image again");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        faketime_ops(
            repo,
            "+2 hours",
            Some(&crew.bot),
            &["sign", &late, "--grant", &grant],
        ),
        &["expired"],
    );

    // The commit linked to the earlier approval: rejected by pre-commit at the later clock...
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &earlier, Some("+2 hours"));
    rejected(
        repo,
        &head,
        out,
        &[&earlier, "expired", "your staged change is kept"],
    );
    // ... and the very same staged change goes through at the real clock.
    let out = repo.git(&["commit", "-q", "-m", "Roll web inside the window"]);
    accepted(repo, &head, out, &earlier);
}

#[test]
fn grant_liveness_at_injected_times() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let start = at(now().unix() + 3600);
    let start_text = start.to_string();
    let grant = crew.grant(&["--not-before", &start_text, "--expires-in-hours", "2"]);
    let gid: RecordId = grant.parse().unwrap();

    let (policy, records) = parsed(repo);
    let idx = GrantIndex::build(&policy, records.iter());
    let info = &idx.grants[&gid];
    assert_eq!(info.grant.not_before, Some(start));
    let expires = info.grant.expires_at;
    assert_eq!(expires.unix(), start.unix() + 2 * 3600);
    let signers: Vec<_> = info.signers.iter().map(|s| s.as_str()).collect();
    assert_eq!(signers, ["alice", "bob"], "the grant's human signers");

    let live = |t: i64| idx.live_at(&policy, &gid, at(t), false).map(|_| ());
    let err = |t: i64| live(t).expect_err("the grant must not be live");
    assert!(err(start.unix() - 1).contains("not valid before"));
    assert!(err(now().unix()).contains("not valid before"));
    live(start.unix()).expect("live at not_before");
    live(start.unix() + 3600).expect("live inside its window");
    live(expires.unix() - 1).expect("live until the last second");
    assert!(err(expires.unix()).contains("expired"));
    assert!(err(expires.unix() + 3600).contains("expired"));

    // A grant without not_before starts at its creation.
    let plain = crew.grant(&["--expires-in-hours", "1"]);
    let pid: RecordId = plain.parse().unwrap();
    let (policy, records) = parsed(repo);
    let idx = GrantIndex::build(&policy, records.iter());
    let created = idx.grants[&pid].grant.created_at.expect("created_at");
    let live = |t: i64| idx.live_at(&policy, &pid, at(t), false).map(|_| ());
    assert!(
        live(created.unix() - 1)
            .unwrap_err()
            .contains("did not exist yet")
    );
    live(created.unix()).expect("live from its creation");

    // A revocation counts from its time; a halt suspends every grant.
    repo.ops(&crew.alice, &["grant", "revoke", &plain]).ok();
    repo.ops(&crew.bob, &["halt", "--reason", "freeze"]).ok();
    let (policy, records) = parsed(repo);
    let idx = GrantIndex::build(&policy, records.iter());
    let (_, revoked_at, _) = idx
        .revocations
        .iter()
        .find(|(what, _, _)| what == &plain)
        .expect("the revocation is indexed");
    let revoked_at = revoked_at.unix();
    assert!(
        idx.live_at(&policy, &pid, at(revoked_at), false)
            .unwrap_err()
            .contains("revoked")
    );
    let (halted_at, _, _, _) = idx.halts[0];
    assert!(idx.halted_at(at(halted_at.unix())).is_some());
    assert!(idx.halted_at(at(halted_at.unix() - 3600)).is_none());
    assert!(
        idx.live_at(&policy, &gid, at(start.unix() + 60), false)
            .unwrap_err()
            .contains("halted"),
        "a halt suspends grants that start later too"
    );
}

#[test]
fn an_over_long_break_glass_grant_is_refused_at_creation() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        crew.try_grant(&crew.alice, &["--break-glass", "--expires-in-hours", "3"]),
        &["break_glass_max_hours"],
    );
    // At the limit it is made.
    let out = crew
        .try_grant(&crew.alice, &["--break-glass", "--expires-in-hours", "2"])
        .ok();
    assert!(out.stdout().trim().starts_with("GRANT-"), "{out}");
}

#[test]
fn a_grant_longer_than_a_tightened_policy_allows_is_reported_and_covers_nothing() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--break-glass", "--expires-in-hours", "2"]);
    let earlier = crew.bot_op("Emergency roll");
    repo.ops(&crew.bot, &["sign", &earlier, "--grant", &grant])
        .ok()
        .says(&["approved"]);
    repo.commit_all("Break-glass grant and the bot's emergency operation");
    repo.verify().ok();

    // Alice lowers break_glass_max_hours to 1, under an operation approved by the policy before.
    let change = declare(
        repo,
        &crew.alice,
        None,
        &Decl {
            name: "Shorter break-glass grants",
            risk: "LOW_RISK_CONFIG",
            paths: &["ops/policy.yaml"],
            services: &["git-ops"],
            environment: None,
        },
    );
    assert_eq!(repo.state_of(&change), "approved");
    let policy = repo.read("ops/policy.yaml");
    let version: u64 = policy
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version line in\n{policy}"));
    let tightened = policy
        .replace(
            &format!("version: {version}"),
            &format!("version: {}", version + 1),
        )
        .replace("break_glass_max_hours: 2", "break_glass_max_hours: 1");
    repo.write("ops/policy.yaml", &tightened);
    // A policy change needs a second human's own approval, whatever its risk class.
    repo.ops(&crew.bob, &["sign", &change]).ok();
    repo.ops(&crew.alice, &["use", &change]).ok();
    let head = repo.rev("HEAD");
    repo.git(&["add", "-A"]).ok();
    let out = repo.git(&["commit", "-q", "-m", "Tighten break-glass grants"]);
    accepted(repo, &head, out, &change);
    repo.ops_keyless(&["use", "--clear"]).ok();

    // verify reports the grant as too long, and the operation it approved is pending again.
    repo.verify()
        .code(1)
        .says(&["grant-too-long", &grant, "break_glass_max_hours"]);
    let report = repo
        .ops_keyless(&["verify", "--format", "json"])
        .code(1)
        .text();
    assert!(report.contains("grant-too-long"), "{report}");
    assert_eq!(repo.state_of(&earlier), "pending", "the grant still covers");

    // The bot can no longer sign under it, and the earlier approval no longer covers a commit.
    let next = crew.bot_op("Another emergency roll");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &next, "--grant", &grant]),
        &["break_glass_max_hours"],
    );
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &earlier, None);
    rejected(repo, &head, out, &[&earlier, "break_glass_max_hours"]);
}

#[test]
fn a_revoked_grant_is_refused_even_with_a_back_dated_signoff() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    // A grant from three hours ago, for five hours: live now but for the revocation.
    let grant = crew.grant_at(Some("-3 hours"), &["--expires-in-hours", "5"]);
    repo.commit_all("Grant the deploy bot a release window");
    let rev = repo
        .ops(
            &crew.alice,
            &["grant", "revoke", &grant, "--reason", "leaked"],
        )
        .ok()
        .stdout();
    assert!(rev.trim().starts_with("REV-"), "{rev}");
    assert!(
        grant_list_json(repo, true).is_empty(),
        "a revoked grant is active"
    );

    let id = crew.bot_op("Roll web image");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]),
        &["revoked", rev.trim()],
    );

    // The bot back-dates: declares with its clock an hour before the revocation. `sign` refuses
    // even then (a revocation counts from the moment it is in the ledger, whatever the clock
    // says), so the back-dated signoff is forged straight into the file; the hooks, at the real
    // clock, must not accept it either.
    let backdated = declare(
        repo,
        &crew.bot,
        Some("-1 hour"),
        &Decl {
            name: "Roll web image, back-dated",
            ..Decl::default()
        },
    );
    faketime_ops(
        repo,
        "-1 hour",
        Some(&crew.bot),
        &["sign", &backdated, "--grant", &grant],
    )
    .code(2)
    .says(&["revoked"]);
    forge_grant_signoff(
        repo,
        &crew.bot,
        BOT,
        &backdated,
        &grant,
        at(now().unix() - 3600),
    );
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &backdated, None);
    rejected(repo, &head, out, &[&backdated, "revoked"]);
}

#[test]
fn a_signoff_made_before_a_revocation_gives_no_cover_once_the_verifier_is_past_it() {
    // The other way round: the revocation is made an hour ahead, the bot's signoff at the real
    // clock, before it; the commit is judged at a clock past the revocation.
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    repo.commit_all("Grant the deploy bot a release window");
    faketime_ops(
        repo,
        "+1 hour",
        Some(&crew.alice),
        &["grant", "revoke", &grant],
    )
    .ok();
    let id = crew.bot_op("Roll web image");
    // Past the command line, so this does not depend on what `sign` makes of the revocation.
    forge_grant_signoff(repo, &crew.bot, BOT, &id, &grant, now());
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &id, Some("+2 hours"));
    rejected(repo, &head, out, &[&id, "revoked"]);
    // The grant was live when the signoff claims to be made: the revocation alone refused it.
    let (policy, records) = parsed(repo);
    let idx = GrantIndex::build(&policy, records.iter());
    let gid: RecordId = grant.parse().unwrap();
    let (_, revoked_at, _) = idx.revocations[0];
    idx.live_at(&policy, &gid, at(revoked_at.unix() - 60), false)
        .expect("live before the revocation");
}

#[test]
fn a_revocation_counts_from_when_it_is_in_the_ledger_not_from_the_time_it_claims() {
    // docs/THREAT_MODEL.md: "Revocations and halts count from the moment they are in the ledger
    // the verifier sees; their own claimed times only order them among themselves."
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    // Alice's clock runs an hour ahead when she revokes.
    faketime_ops(
        repo,
        "+1 hour",
        Some(&crew.alice),
        &["grant", "revoke", &grant],
    )
    .ok();
    let id = crew.bot_op("Roll web image");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]),
        &["revoked"],
    );
    assert!(
        grant_list_json(repo, true).is_empty(),
        "a revoked grant is listed as active"
    );
}

#[test]
fn a_halt_counts_from_when_it_is_in_the_ledger_not_from_the_time_it_claims() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    // Alice's clock runs an hour ahead when she halts.
    faketime_ops(
        repo,
        "+1 hour",
        Some(&crew.alice),
        &["halt", "--reason", "incident"],
    )
    .ok();
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: HALTED"]);
    let id = crew.bot_op("Roll web image");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]),
        &["halted"],
    );
}

/// The starter policy: ops/PRODUCTION_LOCK.md needs two approvals, human_only. A grant on ops/
/// is allowed (its path is not under the rule), co-signed so that it carries two approvals; the
/// bot declares an operation on the lock file. Returns (grant, operation).
fn human_only_setup(crew: &Crew) -> (String, String) {
    let repo = &crew.repo;
    let out = repo
        .ops(
            &crew.alice,
            &[
                "grant",
                "create",
                "--grantee",
                BOT,
                "--risk-classes",
                "FILESYSTEM_WRITE",
                "--paths",
                "ops/",
                "--services",
                "web",
                "--environments",
                "prod",
                "--expires-in-hours",
                "4",
            ],
        )
        .ok();
    let grant = out.stdout().trim().to_string();
    repo.ops(&crew.bob, &["sign", &grant]).ok();
    repo.commit_all("Grant the bot ops/");
    let id = declare(
        repo,
        &crew.bot,
        None,
        &Decl {
            name: "Lift the production lock",
            risk: "FILESYSTEM_WRITE",
            paths: &["ops/PRODUCTION_LOCK.md"],
            ..Decl::default()
        },
    );
    (grant, id)
}

#[test]
fn a_grant_signoff_never_carries_a_commit_past_a_human_only_rule() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let (grant, id) = human_only_setup(&crew);
    // Past the command line: whatever `sign` would say, the hooks must refuse.
    forge_grant_signoff(repo, &crew.bot, BOT, &id, &grant, now());
    repo.write("ops/PRODUCTION_LOCK.md", "unlocked\n");
    repo.ops(&crew.bot, &["use", &id]).ok();
    repo.git(&["add", "-A"]).ok();
    let head = repo.rev("HEAD");
    let out = repo.git(&["commit", "-q", "-m", "Lift the lock"]);
    rejected(repo, &head, out, &["ops/PRODUCTION_LOCK.md", "human-only"]);
}

#[test]
fn a_grant_signoff_does_not_make_a_human_only_operation_approved() {
    // DESIGN §3.1: approved means "human_only rules signed by human signers only"; a grant
    // signoff counts "never for human_only rules". So the ledger view must not call it approved.
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let (grant, id) = human_only_setup(&crew);
    let out = repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]);
    assert!(
        !out.text().contains("approved ("),
        "sign reports a human_only operation approved by a grant\n{out}"
    );
    assert_eq!(
        repo.state_of(&id),
        "pending",
        "a grant signoff approved a human_only operation"
    );
}

#[test]
fn revoking_a_signer_name_revokes_every_grant_to_it() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let g1 = crew.grant(&["--expires-in-hours", "4"]);
    let g2 = crew.grant(&["--expires-in-hours", "8"]);
    let first = crew.bot_op("Roll web image");
    repo.ops(&crew.bot, &["sign", &first, "--grant", &g1])
        .ok()
        .says(&["approved"]);
    assert_eq!(grant_list_json(repo, true).len(), 2);

    repo.ops(&crew.bob, &["grant", "revoke", BOT]).ok();
    let id = crew.bot_op("Roll web image again");
    let before = ledger_bytes(repo);
    for g in [&g1, &g2] {
        refused(
            repo,
            &before,
            repo.ops(&crew.bot, &["sign", &id, "--grant", g]),
            &["revoked"],
        );
    }
    assert!(
        grant_list_json(repo, true).is_empty(),
        "grants to a revoked signer are active"
    );
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &first, None);
    rejected(repo, &head, out, &[&first, "revoked"]);
}

#[test]
fn a_halt_suspends_grants_and_a_human_resume_restores_them() {
    // Timestamps have whole seconds, and an approval in the same second as a halt counts as
    // halted (fail closed): the story is spread over distinct seconds with faketime. The bot
    // approves ten minutes ago, alice halts five minutes ago, and resumes now.
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant_at(Some("-3 hours"), &["--expires-in-hours", "5"]);
    let approved = declare(repo, &crew.bot, Some("-10 minutes"), &Decl::default());
    faketime_ops(
        repo,
        "-10 minutes",
        Some(&crew.bot),
        &["sign", &approved, "--grant", &grant],
    )
    .ok()
    .says(&["approved"]);
    repo.commit_all("Grant and the bot's operation");
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: OK", "active grants: 1"]);

    let halt = faketime_ops(
        repo,
        "-5 minutes",
        Some(&crew.alice),
        &["halt", "--reason", "incident INC-42"],
    )
    .ok()
    .stdout();
    assert!(halt.trim().starts_with("HALT-"), "{halt}");
    repo.ops_keyless(&["status"]).ok().says(&[
        "posture: HALTED",
        "active grants: 0",
        "incident INC-42",
    ]);
    let status = repo
        .ops_keyless(&["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["posture"], "HALTED", "{status}");
    assert_eq!(status["halted_by"], halt.trim(), "{status}");

    let id = crew.bot_op("Roll web image again");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]),
        &["halted"],
    );
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &approved, None);
    rejected(repo, &head, out, &[&approved, "halted"]);

    // The bot cannot lift the halt; alice can.
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["resume"]),
        &["automation"],
    );
    repo.ops(&crew.alice, &["resume", "--reason", "incident closed"])
        .ok()
        .says(&["resumed"]);
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: OK", "active grants: 1"]);
    let status = repo
        .ops_keyless(&["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["posture"], "OK", "{status}");
    repo.ops(&crew.bot, &["sign", &id, "--grant", &grant])
        .ok()
        .says(&["approved"]);
    repo.git(&["add", "-A"]).ok();
    let out = repo.git(&["commit", "-q", "-m", "Roll web after the incident"]);
    accepted(repo, &head, out, &approved);
}

#[test]
fn a_halt_and_a_resume_in_the_same_second_apply_in_ledger_order() {
    // docs/THREAT_MODEL.md: a halt and a resume in the same second apply in ledger order, so the
    // resume written after the halt lifts it.
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant_at(Some("-3 hours"), &["--expires-in-hours", "5"]);
    // Both commands run with the clock stopped at the same instant (`faketime -f` without `@`
    // freezes it), so they fall in one second however loaded the machine is.
    let second = at(now().unix() - 3600).to_string();
    let clock = second.trim_end_matches('Z').replace('T', " ");
    for action in ["halt", "resume"] {
        let mut c = repo.sb.command("faketime", &repo.dir);
        c.args(["-f", &clock, "git", "ops", action])
            .env("GIT_OPS_KEY", &crew.alice.path);
        run(c).ok();
    }
    let (policy, records) = parsed(repo);
    let idx = GrantIndex::build(&policy, records.iter());
    let times: BTreeSet<_> = idx.halts.iter().map(|(t, _, _, _)| *t).collect();
    assert_eq!(times.len(), 1, "not the same second: {:?}", idx.halts);
    assert!(
        idx.halted_at(now()).is_none() && idx.halted_now().is_none(),
        "the resume written after the halt did not lift it: {:?}",
        idx.halts
    );
    let gid: RecordId = grant.parse().unwrap();
    assert!(idx.live_at(&policy, &gid, now(), true).is_ok());
    repo.ops_keyless(&["status"]).ok().says(&["posture: OK"]);
    // And the other way round: a halt written after a resume in the same second stands.
    let later = at(now().unix() - 1800).to_string();
    let clock = later.trim_end_matches('Z').replace('T', " ");
    for action in ["halt", "resume", "halt"] {
        let mut c = repo.sb.command("faketime", &repo.dir);
        c.args(["-f", &clock, "git", "ops", action])
            .env("GIT_OPS_KEY", &crew.alice.path);
        run(c).ok();
    }
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: HALTED"]);
}

#[test]
fn automation_cannot_grant_revoke_halt_or_resume() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        crew.try_grant(&crew.bot, &["--expires-in-hours", "1"]),
        &["automation"],
    );
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["grant", "revoke", &grant]),
        &["automation"],
    );
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["halt", "--reason", "mine"]),
        &["automation"],
    );
    // Halted by a human, the bot still cannot resume.
    repo.ops(&crew.bob, &["halt"]).ok();
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["resume"]),
        &["automation"],
    );
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: HALTED"]);
}

#[test]
fn automation_cannot_tag_and_a_human_tags_an_operation_approved_under_a_grant() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    let id = crew.bot_op("Roll web image");
    repo.ops(&crew.bot, &["sign", &id, "--grant", &grant])
        .ok()
        .says(&["approved"])
        .says(&["reserves tagging to humans"]);
    let tag = id.to_ascii_lowercase();
    assert!(!repo.tag_exists(&tag), "the bot's approval made a tag");

    repo.ops(&crew.bot, &["tag", &id]).code(2).says(&["human"]);
    assert!(!repo.tag_exists(&tag));
    repo.ops(&crew.alice, &["tag", &id]).ok();
    assert!(
        repo.tag_exists(&tag),
        "the human's `git ops tag` made no tag"
    );
}

#[test]
fn automation_cannot_tag_a_human_approved_operation_when_tags_are_human_only() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let id = declare(repo, &crew.alice, None, &Decl::default());
    repo.ops(&crew.bob, &["sign", &id]).ok();
    let tag = id.to_ascii_lowercase();
    assert!(repo.tag_exists(&tag));
    repo.git(&["tag", "-d", &tag]).ok();
    repo.ops(&crew.bot, &["tag", &id])
        .code(2)
        .says(&["reserves tagging to humans", BOT]);
    assert!(!repo.tag_exists(&tag));
    repo.ops(&crew.alice, &["tag", &id]).ok();
    assert!(repo.tag_exists(&tag));
}

#[test]
fn bad_grant_input_is_refused_and_writes_nothing() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let before = ledger_bytes(repo);
    let unknown = repo.ops(
        &crew.alice,
        &[
            "grant",
            "create",
            "--grantee",
            "ghost-bot",
            "--risk-classes",
            "SERVICE_RESTART",
            "--paths",
            "deploy/",
            "--services",
            "web",
            "--environments",
            "prod",
            "--expires-in-hours",
            "1",
        ],
    );
    refused(repo, &before, unknown, &["unknown grantee", "ghost-bot"]);
    refused(
        repo,
        &before,
        crew.try_grant(
            &crew.alice,
            &[
                "--not-before",
                "2020-01-01T00:00:00Z",
                "--expires-in-hours",
                "1",
            ],
        ),
        &["expire in the past"],
    );
    refused(
        repo,
        &before,
        crew.try_grant(&crew.alice, &["--expires-in-hours", "73"]),
        &["max_hours", "72"],
    );
    refused(
        repo,
        &before,
        repo.ops(&crew.alice, &["grant", "revoke", "GRANT-2020-01-01-999"]),
        &["no grant GRANT-2020-01-01-999"],
    );
    refused(
        repo,
        &before,
        repo.ops(&crew.alice, &["grant", "revoke", "ghost-bot"]),
        &["unknown signer ghost-bot"],
    );

    let id = crew.bot_op("Roll web image");
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", "GRANT-2020-01-01-999"]),
        &["no grant GRANT-2020-01-01-999"],
    );
    // A grant to someone else is not the bot's to use.
    let for_bob = repo
        .ops(
            &crew.alice,
            &[
                "grant",
                "create",
                "--grantee",
                "bob",
                "--risk-classes",
                "READ_ONLY",
                "--paths",
                "deploy/",
                "--services",
                "web",
                "--environments",
                "prod",
                "--expires-in-hours",
                "1",
            ],
        )
        .ok()
        .stdout();
    let before = ledger_bytes(repo);
    refused(
        repo,
        &before,
        repo.ops(&crew.bot, &["sign", &id, "--grant", for_bob.trim()]),
        &["not to deploy-bot"],
    );
}

#[test]
fn a_grant_signoff_dated_in_the_future_is_rejected_by_the_hooks() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]);
    repo.commit_all("Grant the deploy bot a release window");
    let id = crew.bot_op("Roll web image");
    // The bot's clock runs an hour ahead; the grant is live then too, so the command signs.
    faketime_ops(
        repo,
        "+1 hour",
        Some(&crew.bot),
        &["sign", &id, "--grant", &grant],
    )
    .ok();
    let head = repo.rev("HEAD");
    let out = commit_linked(repo, &crew.bot, &id, None);
    rejected(repo, &head, out, &["future-signoff", &id]);
}

#[test]
fn the_audit_log_records_privileged_actions_and_refusals_without_key_material() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let grant = crew.grant(&["--expires-in-hours", "4"]); // grant (alice), sign (bob)
    crew.try_grant(&crew.bot, &["--expires-in-hours", "1"])
        .code(2); // a refused grant
    let id = crew.bot_op("Roll web image");
    repo.ops(&crew.bot, &["sign", &id, "--grant", &grant]).ok();
    let human = declare(repo, &crew.alice, None, &Decl::default());
    repo.ops(&crew.bob, &["sign", &human]).ok(); // sign and tag (bob)
    repo.ops(&crew.alice, &["halt"]).ok();
    repo.ops(&crew.alice, &["resume"]).ok();
    repo.ops(&crew.alice, &["grant", "revoke", &grant]).ok();

    let path = crew.repo.sb.home.join(".local/state/git-ops/audit.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let repo_dir = repo.dir.display().to_string();
    for e in &entries {
        assert!(e.is_object(), "not an object: {e}");
        for field in [
            "time",
            "repo",
            "action",
            "ids",
            "signer",
            "fingerprint",
            "result",
        ] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        let time = e["time"].as_str().unwrap();
        assert!(time.parse::<Timestamp>().is_ok(), "time {time:?} in {e}");
        assert_eq!(e["repo"], repo_dir.as_str(), "{e}");
        assert!(e["ids"].is_array(), "{e}");
        assert!(
            e["fingerprint"].as_str().unwrap().starts_with("SHA256:"),
            "{e}"
        );
    }
    let find = |action: &str, signer: &str, ok: bool| -> &serde_json::Value {
        entries
            .iter()
            .find(|e| e["action"] == action && e["signer"] == signer && (e["result"] == "ok") == ok)
            .unwrap_or_else(|| {
                panic!("no {action} by {signer} (ok: {ok}) in the audit log:\n{text}")
            })
    };
    find("grant", "alice", true);
    let refusal = find("grant", BOT, false);
    assert!(
        refusal["result"].as_str().unwrap().starts_with("refused"),
        "{refusal}"
    );
    let signed = find("sign", BOT, true);
    assert_eq!(signed["ids"], serde_json::json!([id]), "{signed}");
    let fingerprint = run({
        let mut c = repo.sb.command("ssh-keygen", &repo.dir);
        c.args(["-l", "-f"]).arg(crew.bot.pub_path());
        c
    })
    .ok()
    .stdout();
    assert_eq!(
        Some(signed["fingerprint"].as_str().unwrap()),
        fingerprint.split_whitespace().nth(1),
        "the bot's fingerprint"
    );
    find("sign", "bob", true);
    let tagged = find("tag", "bob", true);
    assert_eq!(tagged["ids"], serde_json::json!([human]), "{tagged}");
    find("halt", "alice", true);
    find("resume", "alice", true);
    let revoked = find("revoke", "alice", true);
    assert_eq!(revoked["ids"], serde_json::json!([grant]), "{revoked}");

    assert!(!text.contains("PRIVATE KEY"), "{text}");
    for key in [&crew.alice, &crew.bob, &crew.bot] {
        let private = std::fs::read_to_string(&key.path).unwrap();
        let body: Vec<&str> = private
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.is_empty())
            .collect();
        assert!(!body.is_empty());
        for line in &body {
            assert!(!text.contains(line), "the audit log holds key material");
        }
        assert!(!text.contains(&body.concat()));
    }
}

#[test]
fn grant_list_shows_live_grants_and_hides_expired_and_revoked_ones() {
    let Some(crew) = Crew::new() else {
        return;
    };
    let repo = &crew.repo;
    let live = crew.grant(&["--expires-in-hours", "4"]);
    let expired = crew.grant_at(Some("-3 hours"), &["--expires-in-hours", "1"]);
    let revoked = crew.grant(&["--expires-in-hours", "4"]);
    repo.ops(&crew.alice, &["grant", "revoke", &revoked]).ok();

    let active = grant_list_json(repo, true);
    assert_eq!(active.len(), 1, "{active:?}");
    let g = &active[0];
    assert_eq!(g["id"], live.as_str());
    assert_eq!(g["grantee"], BOT);
    assert_eq!(g["live"], true);
    let left = g["seconds_left"].as_i64().expect("seconds_left");
    assert!(left > 3 * 3600 && left <= 4 * 3600, "{g}");

    let all = grant_list_json(repo, false);
    assert_eq!(all.len(), 3, "{all:?}");
    let row = |id: &str| all.iter().find(|g| g["id"] == id).unwrap().clone();
    assert_eq!(row(&live)["live"], true);
    assert_eq!(row(&expired)["live"], false);
    assert_eq!(row(&expired)["seconds_left"], 0);
    assert!(
        row(&expired)["not_live_because"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(row(&revoked)["live"], false);
    assert!(
        row(&revoked)["not_live_because"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    let text = repo
        .ops_keyless(&["grant", "list", "--active-only"])
        .ok()
        .stdout();
    assert!(text.contains(&live) && text.contains("live, "), "{text}");
    assert!(
        !text.contains(&expired) && !text.contains(&revoked),
        "{text}"
    );
    let status = repo
        .ops_keyless(&["status", "--format", "json"])
        .ok()
        .json();
    let ids: Vec<_> = status["active_grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, std::slice::from_ref(&live), "{status}");
}
