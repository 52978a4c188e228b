//! Attacks that once got past the server (security issue 9): each is committed with the client
//! hooks skipped (`--no-verify`), pushed to a bare server with the `pre-receive` hook and a pinned
//! trust root, and must be refused there with a message naming the ref, the path and the rule;
//! `git ops verify --range` must refuse the same commits.

use std::path::{Path, PathBuf};

use crate::harness::{Repo, Team, run};

/// A bare server `<root>/server.git` with the server hooks and the trust root pinned to the
/// team's first commit, as `origin`; main pushed to it.
fn server(team: &Team) -> PathBuf {
    let repo = &team.repo;
    let sb = &repo.sb;
    let dir = sb.root.join("server.git");
    let dir_s = dir.display().to_string();
    let mut c = sb.command("git", &sb.root);
    c.args(["init", "-q", "--bare", &dir_s]);
    run(c).ok();
    run(sb.ops_command(&sb.root, None, &["-C", &dir_s, "hooks", "install"]))
        .ok()
        .says(&["pre-receive"]);
    let root = repo.rev("HEAD");
    let mut c = sb.command("git", &dir);
    c.args(["config", "ops.trustRoot", &root]);
    run(c).ok();
    repo.git(&["remote", "add", "origin", &dir_s]).ok();
    repo.git(&["push", "-q", "origin", "main"]).ok();
    dir
}

/// What `refs/heads/main` points at on the server.
fn server_main(team: &Team, dir: &Path) -> String {
    let mut c = team.repo.sb.command("git", dir);
    c.args(["rev-parse", "refs/heads/main"]);
    run(c).ok().stdout().trim().to_string()
}

/// Commits everything with the client hooks skipped, pushes it with them skipped too, and
/// asserts that the server refuses it naming the ref and `needles`, that the server's main did
/// not move, and that `git ops verify --range` refuses the commit too, naming `needles`. Then
/// puts the repository back where the server is.
/// Writes `text` to `rel`, making its directory.
fn put(repo: &Repo, rel: &str, text: &str) {
    let path = repo.path(rel);
    std::fs::create_dir_all(path.parent().expect("a file has a directory"))
        .expect("making the directory");
    std::fs::write(path, text).expect("writing the file");
}

#[track_caller]
fn refused_everywhere(team: &Team, dir: &Path, what: &str, needles: &[&str]) {
    let repo: &Repo = &team.repo;
    let before = server_main(team, dir);
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "--no-verify", "-m", what]).ok();
    let mut push_needles = vec!["remote:", "refs/heads/main", "pre-receive hook declined"];
    push_needles.extend_from_slice(needles);
    repo.git(&["push", "--no-verify", "origin", "main"])
        .failed()
        .says(&push_needles);
    assert_eq!(
        server_main(team, dir),
        before,
        "{what}: the server's main moved"
    );
    let range = format!("{before}..HEAD");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(needles);
    repo.git(&["reset", "-q", "--hard", &before]).ok();
    repo.git(&["clean", "-q", "-fdx"]).ok();
}

#[test]
fn no_spelling_of_a_governed_path_gets_past_the_server() {
    let team = Team::new();
    let repo = &team.repo;
    let dir = server(&team);

    put(repo, "Deploy/web.yaml", "replicas: 9\n");
    refused_everywhere(
        &team,
        &dir,
        "Another case",
        &["error[uncovered]", "Deploy/web.yaml", "deploy/**"],
    );

    put(repo, "DEPLOY/new.yaml", "replicas: 9\n");
    refused_everywhere(
        &team,
        &dir,
        "Upper case",
        &["error[uncovered]", "DEPLOY/new.yaml", "deploy/**"],
    );

    repo.write("ops/production_lock.md", "unlocked\n");
    refused_everywhere(
        &team,
        &dir,
        "A lower-case lock",
        &[
            "error[uncovered]",
            "ops/production_lock.md",
            "ops/PRODUCTION_LOCK.md",
        ],
    );

    put(repo, "de\u{200D}ploy/web.yaml", "replicas: 9\n");
    refused_everywhere(
        &team,
        &dir,
        "A zero-width joiner",
        &["error[uncovered]", "de\u{200D}ploy/web.yaml", "deploy/**"],
    );

    // Covered by an operation that names it literally, but next to its twin: refused by the
    // client hook (judging the staged index) too.
    repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["Deploy/web.yaml"], &[]);
    put(repo, "Deploy/web.yaml", "replicas: 9\n");
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "-m", "A twin"])
        .code(1)
        .says(&["error[path-collision]", "Deploy/web.yaml"]);
    refused_everywhere(
        &team,
        &dir,
        "A twin",
        &[
            "error[path-collision]",
            "Deploy/web.yaml",
            "deploy/web.yaml",
        ],
    );

    // A symlink above a governed rule's literal part.
    std::os::unix::fs::symlink("/tmp", repo.path("docs")).expect("making a symlink");
    refused_everywhere(
        &team,
        &dir,
        "Link docs elsewhere",
        &["error[symlink]", "docs", "docs/governance/**"],
    );

    // The attributes that pick merge drivers and drop files from archives are governed.
    let attrs = repo.read(".gitattributes");
    repo.write(
        ".gitattributes",
        &format!("{attrs}deploy/** export-ignore\n"),
    );
    refused_everywhere(
        &team,
        &dir,
        "Drop deploy from archives",
        &["error[uncovered]", ".gitattributes"],
    );

    // Legitimate work still lands.
    repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/new.yaml"], &[]);
    repo.write("deploy/new.yaml", "replicas: 2\n");
    repo.commit_all("A new config");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .ok();
    assert_eq!(server_main(&team, &dir), repo.rev("HEAD"));
}

/// A team with an automation signer `deploy-bot` (key `bot`) in the first policy.
fn team_with_bot() -> (Team, crate::harness::Key) {
    let sb = crate::harness::Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let bot = sb.generate_key("bot");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    for (name, key, roles) in [
        ("bob", &bob, "human,approver"),
        ("deploy-bot", &bot, "automation"),
    ] {
        let public = key.pub_path().display().to_string();
        repo.ops(&alice, &["keys", "add", name, &public, "--role", roles])
            .ok();
    }
    put(&repo, "deploy/web.yaml", "replicas: 2\n");
    repo.commit_all("Adopt git-ops");
    (Team { repo, alice, bob }, bot)
}

/// Commits everything with the hooks skipped.
fn commit_unchecked(repo: &Repo, message: &str) {
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "--no-verify", "-m", message])
        .ok();
}

#[test]
fn a_halt_freezes_automation_and_only_a_part_in_an_operation_closes_it() {
    use git_ops::model::record::{Outcome, OutcomeKind};
    use git_ops::model::{Kind, Record, Role, SignerName, Timestamp, yaml};

    let (team, bot) = team_with_bot();
    let repo = &team.repo;
    let dir = server(&team);

    // The bot's operation, approved by a human, then a halt.
    let by_bot = repo.declare(&bot, "Restart web", "SERVICE_RESTART");
    repo.ops(&team.alice, &["sign", &by_bot]).ok();
    let by_alice = repo.declare(&team.alice, "Tune web", "SERVICE_RESTART");
    repo.ops(&team.bob, &["sign", &by_alice]).ok();
    commit_unchecked(repo, "Declare");
    repo.ops(&team.alice, &["halt", "--reason", "incident"])
        .ok();
    commit_unchecked(repo, "Halt");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .ok();

    repo.write("deploy/web.yaml", "replicas: 9\n");
    refused_everywhere(
        &team,
        &dir,
        &format!("Scale web\n\nOps-Id: {by_bot}"),
        &[
            "error[uncovered]",
            "deploy/web.yaml",
            "deploy/**",
            "automation is halted (HALT-",
        ],
    );
    // A human's operation still lands during the halt.
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_unchecked(repo, &format!("Tune web\n\nOps-Id: {by_alice}"));
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .ok();

    // Automation with no part in alice's operation cannot close it: refused by the command...
    repo.ops(&bot, &["close", &by_alice, "--outcome", "SUCCESS"])
        .code(1)
        .says(&["deploy-bot may not close", &by_alice]);
    // ...nor roll it back.
    repo.ops(&bot, &["rollback", &by_alice])
        .code(1)
        .says(&["deploy-bot may not roll back", &by_alice]);
    // ...and an outcome made without it is refused by the server and by verify.
    let t = Timestamp::from_datetime(chrono::Utc::now());
    let mut outcome = Record::Outcome(Outcome {
        record: Kind::Outcome,
        outcome_id: format!("OUT-{}", &by_alice[4..])
            .parse()
            .expect("an outcome id"),
        operation_id: by_alice.parse().expect("an operation id"),
        outcome: OutcomeKind::Success,
        created_at: Some(t),
        execution_timestamp: Some(t),
        rollback_of: None,
        evidence: None,
        notes: None,
        signoffs: Vec::new(),
    });
    let repo_id = repo.repository_id();
    let key = git_ops::store::keys::load_keypair(&bot.path, || Err(String::new()))
        .expect("the bot's key");
    let name = SignerName::new("deploy-bot").expect("a name");
    let signoff = git_ops::crypto::signoff_in(
        repo_id.as_deref(),
        &outcome,
        &key,
        &name,
        Role::Requester,
        t,
        None,
    )
    .expect("signing");
    outcome.signoffs_mut().push(signoff);
    let file = crate::harness::ledger_file_of(&by_alice);
    let text = repo.read(&file);
    repo.write(&file, &format!("{text}{}", yaml::render_record(&outcome)));
    refused_everywhere(
        &team,
        &dir,
        "Close alice's operation",
        &["error[not-allowed]", &file, "deploy-bot may not close"],
    );
}

/// `record` signed by the owner of `key` (named `name`) in `role` at `at`, in `repo`.
fn signed(
    repo: &Repo,
    mut record: git_ops::model::Record,
    key: &crate::harness::Key,
    name: &str,
    role: git_ops::model::Role,
    at: git_ops::model::Timestamp,
) -> git_ops::model::Record {
    let pair = git_ops::store::keys::load_keypair(&key.path, || Err(String::new())).expect("a key");
    let by = git_ops::model::SignerName::new(name).expect("a name");
    let repo_id = repo.repository_id();
    let s = git_ops::crypto::signoff_in(repo_id.as_deref(), &record, &pair, &by, role, at, None)
        .expect("signing");
    record.signoffs_mut().push(s);
    record
}

/// Appends `record` to the ledger file `file`.
fn append(repo: &Repo, file: &str, record: &git_ops::model::Record) {
    let text = std::fs::read_to_string(repo.path(file)).unwrap_or_default();
    put(
        repo,
        file,
        &format!("{text}{}", git_ops::model::yaml::render_record(record)),
    );
}

#[test]
fn claimed_times_neither_reorder_halts_nor_hide_an_operation_from_closing() {
    use git_ops::model::{Role, Timestamp, yaml};

    let (team, bot) = team_with_bot();
    let repo = &team.repo;
    let dir = server(&team);
    let now = Timestamp::from_datetime(chrono::Utc::now());

    let by_bot = repo.declare(&bot, "Restart web", "SERVICE_RESTART");
    repo.ops(&team.alice, &["sign", &by_bot]).ok();
    let first = repo.ops(&team.alice, &["halt", "--reason", "one"]).ok();
    let first = first.stdout();
    let first = first.trim();
    assert!(first.starts_with("HALT-"), "{first}");
    // An old-style resume (naming no halt), dated four minutes ahead: inside the clock skew.
    let ahead = Timestamp::from_unix(now.unix() + 240).expect("a time");
    let resume_id = format!("RESUME-{}-001", &first[5..15]);
    let resume = yaml::parse_record(
        &format!("record: resume\nresume_id: {resume_id}\ncreated_at: {ahead}\n"),
        1,
    )
    .expect("the resume parses");
    let resume = signed(repo, resume, &team.alice, "alice", Role::Requester, ahead);
    append(repo, &crate::harness::ledger_file_of(first), &resume);
    // `git ops resume` names the halt it lifts.
    let scratch = repo.clone_to("scratch");
    scratch
        .ops(&team.alice, &["halt", "--reason", "drill"])
        .ok();
    let drill = scratch.ops(&team.alice, &["resume"]).ok();
    let drill_file = crate::harness::ledger_file_of(drill.stdout().trim());
    assert!(
        scratch.read(&drill_file).contains("resumes: HALT-"),
        "{}",
        scratch.read(&drill_file)
    );
    let second = repo.ops(&team.bob, &["halt", "--reason", "two"]).ok();
    let second = second.stdout();
    let second = second.trim();
    assert!(second.starts_with("HALT-") && second != first, "{second}");
    commit_unchecked(repo, "Halt, resume, halt");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .ok();
    repo.ops_keyless(&["status"])
        .ok()
        .says(&["posture: HALTED"]);

    repo.write("deploy/web.yaml", "replicas: 9\n");
    refused_everywhere(
        &team,
        &dir,
        &format!("Scale web\n\nOps-Id: {by_bot}"),
        &[
            "error[uncovered]",
            "deploy/web.yaml",
            "deploy/**",
            &format!("automation is halted ({second})"),
        ],
    );

    // An operation whose id claims 2099: never filed where closing would not look.
    let op = yaml::parse_record(
        &format!(
            "operation_id: OPS-2099-01-27-001\noperation_name: Far\nobjective: o\nrisk_class: SERVICE_RESTART\n\
             blast_radius: b\nrollback_strategy: r\nallowed_paths: [\"deploy/\"]\nallowed_services: [web]\n\
             created_at: {now}\n"
        ),
        1,
    )
    .expect("the operation parses");
    let op = signed(repo, op, &team.alice, "alice", Role::Requester, now);
    let op = signed(repo, op, &team.bob, "bob", Role::Approver, now);
    append(repo, "ops/ledger/2099-01.yaml", &op);
    refused_everywhere(
        &team,
        &dir,
        "A far-off operation",
        &[
            "error[id-date]",
            "ops/ledger/2099-01.yaml",
            "OPS-2099-01-27-001: its id is dated 2099-01-27",
        ],
    );
}

#[test]
fn a_record_signed_in_staging_does_not_replay_into_prod() {
    let team = Team::new();
    let prod = &team.repo;
    let dir = server(&team);
    let prod_id = prod
        .repository_id()
        .expect("git ops init writes a repository id");
    assert_eq!(prod_id.len(), 32, "{prod_id}");

    // Staging: the same people and keys, another repository id.
    let staging = prod.clone_to("staging");
    let other = "fedcba9876543210fedcba9876543210";
    let policy = staging.read("ops/policy.yaml");
    staging.write(
        "ops/policy.yaml",
        &policy.replace(
            &format!("repository_id: {prod_id}"),
            &format!("repository_id: {other}"),
        ),
    );
    assert_eq!(staging.repository_id().as_deref(), Some(other));
    commit_unchecked(&staging, "Staging's own id");
    let id = staging.declare(&team.alice, "Scale web", "LOW_RISK_CONFIG");
    staging.ops(&team.bob, &["sign", &id]).ok();
    let file = crate::harness::ledger_file_of(&id);
    let approved = staging.read(&file);

    // The approved record, replayed into prod with the change it approved.
    put(prod, &file, &approved);
    prod.write("deploy/web.yaml", "replicas: 7\n");
    refused_everywhere(
        &team,
        &dir,
        &format!("Scale web\n\nOps-Id: {id}"),
        &[
            "error[bad-signature]",
            "error[uncovered]",
            "deploy/web.yaml",
            "deploy/**",
        ],
    );

    // Signed in prod, the same work lands.
    let id = prod.declare(&team.alice, "Scale web", "LOW_RISK_CONFIG");
    prod.write("deploy/web.yaml", "replicas: 7\n");
    commit_unchecked(prod, &format!("Scale web\n\nOps-Id: {id}"));
    prod.git(&["push", "-q", "--no-verify", "origin", "main"])
        .ok();
}
