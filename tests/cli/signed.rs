//! Approvals bind to who makes the change (docs/SIGNED-COMMITS.md): a governed commit carries
//! git's own SSH commit signature by a signer of the operation that covers it; a commit made by
//! automation stays inside the automation bounds; a pusher mapped to automation is held to them
//! too. Judged on a real bare server with the `pre-receive` hook, by `git ops verify --range` as
//! CI runs it, and cross-checked with stock `git verify-commit`.

use std::path::{Path, PathBuf};

use crate::harness::{Key, Out, Repo, Sandbox, Team, run};

/// A bare repository `<root>/<name>` with the server hooks, the repository's `origin`, with
/// `main` pushed.
fn server(repo: &Repo, name: &str) -> PathBuf {
    let sb = &repo.sb;
    let dir = sb.root.join(name);
    let dir_s = dir.display().to_string();
    let mut c = sb.command("git", &sb.root);
    c.args(["init", "-q", "--bare", &dir_s]);
    run(c).ok();
    run(sb.ops_command(&sb.root, None, &["-C", &dir_s, "hooks", "install"]))
        .ok()
        .says(&["pre-receive"]);
    repo.git(&["remote", "add", "origin", &dir_s]).ok();
    repo.git(&["push", "-q", "origin", "main"]).ok();
    dir
}

/// What `refname` points at on the server `dir`, if anything.
fn remote_ref(sb: &Sandbox, dir: &Path, refname: &str) -> Option<String> {
    let mut c = sb.command("git", dir);
    c.args(["rev-parse", "-q", "--verify", refname]);
    let out = run(c);
    (out.code == Some(0)).then(|| out.stdout().trim().to_string())
}

/// `git commit` of everything, signed with `key` (None: unsigned), hooks skipped: only the
/// server and CI stand in the way.
fn commit_as(repo: &Repo, key: Option<&Key>, message: &str) -> String {
    repo.git(&["add", "-A"]).ok();
    let mut args = vec!["-c"];
    let signing;
    match key {
        Some(k) => {
            signing = format!("user.signingKey={}", k.path.display());
            args.push(&signing);
        }
        None => args.push("commit.gpgSign=false"),
    }
    args.extend(["commit", "-q", "--no-verify", "-m", message]);
    repo.git(&args).ok();
    repo.rev("HEAD")
}

/// `git push --no-verify origin main`: the server's verdict alone.
fn push(repo: &Repo) -> Out {
    repo.git(&["push", "--no-verify", "origin", "main"])
}

/// `git verify-commit` with the policy's allowed-signers file: stock git's view of a signature.
fn git_verify_commit(repo: &Repo, commit: &str) -> Out {
    let file = repo.sb.root.join("allowed_signers");
    let f = file.display().to_string();
    repo.ops_keyless(&["keys", "allowed-signers", "--out", &f])
        .ok();
    let setting = format!("gpg.ssh.allowedSignersFile={f}");
    repo.git(&["-c", &setting, "verify-commit", commit])
}

#[test]
fn a_governed_commit_is_signed_by_a_signer_of_its_operation() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    assert!(
        repo.read("ops/policy.yaml")
            .contains("commits: { require_signature: governed }"),
        "the starter policy asks for signed governed commits"
    );
    let remote = server(repo, "server.git");
    let eve = sb.generate_key("eve");
    let id = repo.declare(&team.alice, "Scale web", "LOW_RISK_CONFIG");
    commit_as(repo, Some(&team.alice), "Declare");
    push(repo).ok();
    let base = repo.rev("HEAD");
    repo.ops_keyless(&["use", &id]).ok();

    // Unsigned, with a valid Ops-Id trailer: refused by the server, by pre-push and by CI.
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let unsigned = commit_as(repo, None, "Scale web to 3");
    push(repo).failed().says(&[
        "error[commit-signature]",
        "unsigned",
        &id,
        "pre-receive hook declined",
    ]);
    repo.git(&["push", "origin", "main"])
        .failed()
        .says(&["error[commit-signature]", &unsigned[..10]]);
    let range = format!("{base}..{unsigned}");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(&["commit-signature", "unsigned"]);

    // Signed by a key the policy does not know: refused; stock git agrees it is no good.
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let by_eve = commit_as(repo, Some(&eve), "Scale web to 3");
    push(repo)
        .failed()
        .says(&["error[commit-signature]", "no signer of the policy has"]);
    git_verify_commit(repo, &by_eve).failed();
    let range = format!("{base}..{by_eve}");
    repo.ops_keyless(&["verify", "--range", &range]).code(1);

    // Signed by bob, a signer of the policy but not of this operation: refused, although the
    // signature itself is good (stock git accepts it).
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let by_bob = commit_as(repo, Some(&team.bob), "Scale web to 3");
    git_verify_commit(repo, &by_bob).ok();
    push(repo)
        .failed()
        .says(&["error[commit-signature]", "is bob", &id]);
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(base.as_str())
    );

    // Signed by the requester: accepted everywhere, and stock git agrees.
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let by_alice = commit_as(repo, Some(&team.alice), "Scale web to 3");
    git_verify_commit(repo, &by_alice).ok();
    let range = format!("{base}..{by_alice}");
    repo.ops_keyless(&["verify", "--range", &range]).ok();
    push(repo).ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(by_alice.as_str())
    );

    // The record names who made the change: show, report and changelog list the commit with
    // its verified signer.
    repo.ops_keyless(&["show", &id, "--commits"]).ok().says(&[
        &by_alice[..10],
        "signed by: alice",
        "Scale web to 3",
    ]);
    let json = repo
        .ops_keyless(&["show", &id, "--commits", "--format", "json"])
        .ok()
        .json();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == by_alice[..10] && c["signer"] == "alice"),
        "{json}"
    );
    repo.ops_keyless(&["report", &id])
        .ok()
        .says(&[&by_alice[..10], "(signed by: alice)"]);
    repo.ops_keyless(&["changelog"])
        .ok()
        .says(&[&format!("{} signed by alice", &by_alice[..10])]);

    // A tampered signed commit (the same signature on other content) is refused by both.
    let raw = repo.git(&["cat-file", "commit", &by_alice]).ok().stdout();
    let forged_text = raw.replacen("Scale web to 3", "Scale web to 9", 1);
    let forged_path = sb.root.join("forged");
    std::fs::write(&forged_path, forged_text).unwrap();
    let forged_s = forged_path.display().to_string();
    let forged = repo
        .git(&["hash-object", "-t", "commit", "-w", &forged_s])
        .ok()
        .stdout()
        .trim()
        .to_string();
    git_verify_commit(repo, &forged).failed();
    let range = format!("{base}..{forged}");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(&["commit-signature", "does not verify"]);
}

#[test]
fn non_governed_commits_are_never_asked_for_a_signature() {
    let team = Team::new();
    let repo = &team.repo;
    server(repo, "server.git");
    repo.write("README.md", "hello\n");
    commit_as(repo, None, "Unsigned docs");
    push(repo).ok();
}

#[test]
fn a_clean_merge_of_covered_branches_needs_no_signature_an_evil_one_does() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let remote = server(repo, "server.git");
    repo.write("deploy/a.yaml", "a: 1\n");
    repo.write("deploy/b.yaml", "b: 1\n");
    let id = repo.declare_with(
        &team.alice,
        "LOW_RISK_CONFIG",
        &["deploy/a.yaml", "deploy/b.yaml"],
        &[],
    );
    commit_as(repo, Some(&team.alice), &format!("Declare\n\nOps-Id: {id}"));
    push(repo).ok();
    let base = repo.rev("HEAD");
    let trailer = format!("Ops-Id: {id}");

    repo.git(&["checkout", "-q", "-b", "topic"]).ok();
    repo.write("deploy/b.yaml", "b: 2\n");
    commit_as(repo, Some(&team.alice), &format!("B\n\n{trailer}"));
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.write("deploy/a.yaml", "a: 2\n");
    commit_as(repo, Some(&team.alice), &format!("A\n\n{trailer}"));

    // An unsigned merge made by a merge button: it adds nothing of its own.
    repo.git(&[
        "-c",
        "commit.gpgSign=false",
        "merge",
        "-q",
        "--no-ff",
        "--no-verify",
        "-m",
        "Merge topic",
        "topic",
    ])
    .ok();
    let merge = repo.rev("HEAD");
    assert!(
        repo.git(&["cat-file", "commit", &merge])
            .ok()
            .stdout()
            .lines()
            .all(|l| !l.starts_with("gpgsig")),
        "the merge is unsigned"
    );
    let range = format!("{base}..{merge}");
    repo.ops_keyless(&["verify", "--range", &range]).ok();
    push(repo).ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(merge.as_str())
    );

    // An evil merge: unsigned, and changing deploy/a.yaml beyond what either parent has.
    repo.git(&["checkout", "-q", "-b", "topic2", &merge]).ok();
    repo.write("deploy/b.yaml", "b: 3\n");
    commit_as(repo, Some(&team.alice), &format!("B3\n\n{trailer}"));
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.git(&[
        "-c",
        "commit.gpgSign=false",
        "merge",
        "-q",
        "--no-ff",
        "--no-commit",
        "topic2",
    ])
    .ok();
    repo.write("deploy/a.yaml", "a: 99\n");
    repo.git(&["add", "-A"]).ok();
    repo.git(&[
        "-c",
        "commit.gpgSign=false",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        &format!("Merge topic2\n\n{trailer}"),
    ])
    .ok();
    push(repo).failed().says(&[
        "error[commit-signature]",
        "unsigned",
        "pre-receive hook declined",
    ]);
    let evil = repo.rev("HEAD");
    let range = format!("{merge}..{evil}");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(&["commit-signature"]);
}

/// A team with an automation signer `bot` held to bounds, and a server pusher `ci-runner`
/// mapped to it. The policy is part of the adopting commit.
fn automation_team() -> (Repo, Key, Key) {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bot = sb.generate_key("bot");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    let bot_pub = bot.pub_path().display().to_string();
    repo.ops(
        &alice,
        &["keys", "add", "bot", &bot_pub, "--role", "automation"],
    )
    .ok();
    let mut policy = repo.read("ops/policy.yaml");
    policy.push_str(
        "automation:\n  may_change: [\"docs/**\", \"validators/**\"]\n  may_add: [\"audit_artifacts/**\"]\n\
         pushers: { ci-runner: bot }\n",
    );
    repo.write("ops/policy.yaml", &policy);
    repo.write("README.md", "readme\n");
    repo.commit_all("Adopt git-ops");
    repo.ops_keyless(&["verify"]).ok();
    (repo, alice, bot)
}

#[test]
fn automation_stays_inside_its_bounds_with_or_without_an_operation() {
    let (repo, _alice, bot) = automation_team();
    let sb = &repo.sb;
    let remote = server(&repo, "server.git");
    let base = repo.rev("HEAD");

    // Outside the bounds (not even a governed path): refused by the server and by CI.
    repo.write("README.md", "rewritten by the agent\n");
    let outside = commit_as(&repo, Some(&bot), "Agent edits the README");
    push(&repo).failed().says(&[
        "error[automation-bounds]",
        "README.md",
        "signed by bot",
        "pre-receive hook declined",
    ]);
    let range = format!("{base}..{outside}");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(&["automation-bounds"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();

    // Inside: docs and validators may change, audit artifacts may be added.
    std::fs::create_dir_all(repo.path("docs")).unwrap();
    std::fs::create_dir_all(repo.path("audit_artifacts")).unwrap();
    repo.write("docs/notes.md", "notes\n");
    repo.write("audit_artifacts/run-1.json", "{}\n");
    let inside = commit_as(&repo, Some(&bot), "Agent adds notes and an artifact");
    push(&repo).ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(inside.as_str())
    );

    // An artifact may be added, never changed.
    repo.write("audit_artifacts/run-1.json", "{\"edited\": true}\n");
    commit_as(&repo, Some(&bot), "Agent edits an artifact");
    push(&repo).failed().says(&[
        "error[automation-bounds]",
        "audit_artifacts/run-1.json",
        "changes",
    ]);
}

#[test]
fn a_pusher_mapped_to_automation_is_held_to_the_bounds_whatever_the_commits_say() {
    let (repo, alice, _bot) = automation_team();
    let sb = &repo.sb;
    let remote = server(&repo, "server.git");
    let base = repo.rev("HEAD");

    // A commit signed by alice, a human, pushed by the CI runner: the bounds still hold.
    repo.write("README.md", "changed\n");
    let human = commit_as(&repo, Some(&alice), "Edit the README");
    repo.git_env(
        &["push", "--no-verify", "origin", "main"],
        &[("GL_USER", "ci-runner")],
    )
    .failed()
    .says(&[
        "error[automation-bounds]",
        "pushed by ci-runner (bot)",
        "pre-receive hook declined",
    ]);
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(base.as_str())
    );

    // The server can name the variable it authenticates with.
    let mut c = sb.command("git", &remote);
    c.args(["config", "ops.pusherVar", "FORGE_USER"]);
    run(c).ok();
    repo.git_env(
        &["push", "--no-verify", "origin", "main"],
        &[("FORGE_USER", "ci-runner")],
    )
    .failed()
    .says(&["error[automation-bounds]", "pushed by ci-runner (bot)"]);

    // The same commit pushed by a person is accepted.
    repo.git_env(
        &["push", "--no-verify", "origin", "main"],
        &[("FORGE_USER", "alice-at-forge")],
    )
    .ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(human.as_str())
    );
}

/// A team (alice, bob) whose policy pins deploy/** (`pin: tree`), with a server.
fn pinned_team() -> (Team, PathBuf) {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    let bob_pub = bob.pub_path().display().to_string();
    repo.ops(
        &alice,
        &["keys", "add", "bob", &bob_pub, "--role", "human,approver"],
    )
    .ok();
    let policy = repo.read("ops/policy.yaml").replacen(
        "rules:",
        "rules:\n  - { paths: [\"deploy/**\"], min_risk: LOW_RISK_CONFIG, pin: tree }",
        1,
    );
    repo.write("ops/policy.yaml", &policy);
    std::fs::create_dir_all(repo.path("deploy")).unwrap();
    repo.write("deploy/web.yaml", "replicas: 2\n");
    repo.commit_all("Adopt git-ops");
    let dir = server(&repo, "server.git");
    (Team { repo, alice, bob }, dir)
}

/// Alice declares "Scale web" and pushes it, prepares `replicas: 3` on branch `topic`, and bob
/// signs pinned to that branch (in main's work tree, uncommitted). Returns the id, its trailer
/// and the pushed declaring commit.
fn declare_and_pin_on_topic(team: &Team) -> (String, String, String) {
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Scale web", "SERVICE_RESTART");
    commit_as(repo, Some(&team.alice), "Declare");
    push(repo).ok();
    let declared = repo.rev("HEAD");
    let trailer = format!("Ops-Id: {id}");
    repo.git(&["checkout", "-q", "-b", "topic"]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_as(
        repo,
        Some(&team.alice),
        &format!("Scale web to 3\n\n{trailer}"),
    );
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.ops(&team.bob, &["sign", &id, "--pin", "topic"])
        .ok()
        .says(&["approved"]);
    (id, trailer, declared)
}

#[test]
fn a_pinned_operation_lands_only_the_content_its_approvers_signed() {
    let (team, remote) = pinned_team();
    let repo = &team.repo;
    let sb = &repo.sb;
    // The change is prepared on a branch; bob reviews it and signs pinned to it.
    let (id, trailer, _) = declare_and_pin_on_topic(&team);
    let signoffs = repo.field(&id, "signoffs");
    let pin = signoffs
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["pin"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no pinned signoff: {signoffs}"));
    assert_eq!(pin.len(), 64, "{pin}");
    commit_as(repo, Some(&team.alice), &format!("Approve {id}"));
    push(repo).ok();
    let approved = repo.rev("HEAD");

    // The pin is the content of the allowed paths, as stock git lists it.
    let listing = repo
        .git(&[
            "ls-tree",
            "-r",
            "--full-tree",
            "topic",
            "--",
            "deploy/web.yaml",
        ])
        .ok()
        .stdout();
    let manifest: String = listing
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').unwrap();
            let f: Vec<&str> = meta.split(' ').collect();
            format!("{} {} {path}\n", f[0], f[2])
        })
        .collect();
    let manifest_path = sb.root.join("manifest");
    std::fs::write(&manifest_path, manifest).unwrap();
    let mut c = sb.command("sha256sum", &sb.root);
    c.arg(&manifest_path);
    let sum = run(c).ok().stdout();
    assert_eq!(sum.split_whitespace().next(), Some(pin.as_str()));

    // Rebased onto the approval, the reviewed change lands.
    repo.git(&["checkout", "-q", "topic"]).ok();
    repo.git(&["rebase", "-q", "main"]).ok();
    let landed = repo.rev("HEAD");
    let range = format!("{approved}..{landed}");
    repo.ops_keyless(&["verify", "--range", &range]).ok();
    repo.git(&["push", "--no-verify", "origin", "topic:main"])
        .ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(landed.as_str())
    );

    // Other content under the same operation needs a new signoff.
    repo.write("deploy/web.yaml", "replicas: 5\n");
    let other = commit_as(
        repo,
        Some(&team.alice),
        &format!("Scale web to 5\n\n{trailer}"),
    );
    repo.git(&["push", "--no-verify", "origin", "topic:main"])
        .failed()
        .says(&[
            "error[unpinned-content]",
            "deploy/web.yaml",
            "0 of 1 approvals pinned",
            "pre-receive hook declined",
        ]);
    let range = format!("{landed}..{other}");
    repo.ops_keyless(&["verify", "--range", &range])
        .code(1)
        .says(&["unpinned-content"]);

    // Nor can the old content come back through a merge whose first parent is an old commit:
    // no commit of the push changes the file, but the branch's net change does.
    let before = repo.rev(&format!("{approved}~1"));
    repo.git(&["reset", "-q", "--hard", &landed]).ok();
    repo.git(&["checkout", "-q", "--detach", &before]).ok();
    repo.git(&[
        "-c",
        "commit.gpgSign=false",
        "merge",
        "-q",
        "--no-ff",
        "--no-commit",
        "topic",
    ])
    .ok();
    repo.git(&["checkout", &before, "--", "deploy/web.yaml"])
        .ok();
    repo.git(&["add", "-A"]).ok();
    repo.git(&[
        "commit",
        "-q",
        "--no-verify",
        "-m",
        &format!("Merge back\n\n{trailer}"),
    ])
    .ok();
    assert_eq!(repo.read("deploy/web.yaml"), "replicas: 2\n");
    repo.git(&["push", "--no-verify", "origin", "HEAD:main"])
        .failed()
        .says(&["error[unpinned-content]", "net change"]);
    repo.git(&["checkout", "-q", "topic"]).ok();

    // An approval that pins nothing does not let content land under a pinned rule.
    repo.git(&["reset", "-q", "--hard", &landed]).ok();
    let unpinned = repo.declare(&team.alice, "Scale web again", "SERVICE_RESTART");
    repo.ops(&team.bob, &["sign", &unpinned]).ok();
    repo.write("deploy/web.yaml", "replicas: 4\n");
    commit_as(
        repo,
        Some(&team.alice),
        &format!("Scale web to 4\n\nOps-Id: {unpinned}"),
    );
    repo.git(&["push", "--no-verify", "origin", "topic:main"])
        .failed()
        .says(&["error[unpinned-content]", &unpinned]);
}

#[test]
fn a_signed_push_by_automation_is_held_to_the_bounds() {
    let (repo, alice, bot) = automation_team();
    let sb = &repo.sb;
    let remote = server(&repo, "server.git");
    // The server issues nonces, so a push certificate cannot be replayed.
    let mut c = sb.command("git", &remote);
    c.args(["config", "receive.certNonceSeed", "a server secret"]);
    run(c).ok();
    let base = repo.rev("HEAD");
    repo.write("README.md", "changed\n");
    let human = commit_as(&repo, Some(&alice), "Edit the README");

    let signed_push = |key: &Key| {
        let signing = format!("user.signingKey={}", key.path.display());
        repo.git(&[
            "-c",
            "gpg.format=ssh",
            "-c",
            &signing,
            "push",
            "--signed",
            "--no-verify",
            "origin",
            "main",
        ])
    };
    // Pushed by the bot (its certificate), a human's commit is still held to the bounds.
    signed_push(&bot).failed().says(&[
        "error[automation-bounds]",
        "pushed by bot (push certificate)",
        "pre-receive hook declined",
    ]);
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(base.as_str())
    );
    // Pushed by alice, it lands.
    signed_push(&alice).ok();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(human.as_str())
    );
}

#[test]
fn a_signer_cannot_borrow_a_colleagues_operation_or_lend_herself_one() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let carol = sb.generate_key("carol");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    for (name, key) in [("bob", &bob), ("carol", &carol)] {
        let public = key.pub_path().display().to_string();
        repo.ops(
            &alice,
            &["keys", "add", name, &public, "--role", "human,approver"],
        )
        .ok();
    }
    repo.commit_all("Adopt git-ops");
    let team = Team { repo, alice, bob };
    let repo = &team.repo;
    server(repo, "server.git");
    // Alice's live operation on the policy file, approved by carol.
    let op = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["ops/policy.yaml"], &[]);
    repo.ops(&carol, &["sign", &op]).ok();
    commit_as(repo, Some(&team.alice), "Declare");
    push(repo).ok();
    let base = repo.rev("HEAD");

    // Bob uses it to raise the policy's version (any policy change), signing with his own key.
    let bump = |repo: &Repo| {
        let policy = repo.read("ops/policy.yaml");
        let version: u64 = policy
            .lines()
            .find_map(|l| l.strip_prefix("version: "))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("the policy has a version");
        repo.write(
            "ops/policy.yaml",
            &policy.replacen(
                &format!("version: {version}"),
                &format!("version: {}", version + 1),
                1,
            ),
        );
    };
    bump(repo);
    commit_as(
        repo,
        Some(&team.bob),
        &format!("Policy tweak\n\nOps-Id: {op}"),
    );
    push(repo)
        .failed()
        .says(&["error[commit-signature]", &op, "is bob"]);

    // Nor can he lend himself an operation by declaring one of his own in the same commit.
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.declare_with(&team.bob, "LOW_RISK_CONFIG", &["deploy/other.yaml"], &[]);
    bump(repo);
    commit_as(
        repo,
        Some(&team.bob),
        &format!("Policy tweak\n\nOps-Id: {op}"),
    );
    push(repo)
        .failed()
        .says(&["error[commit-signature]", &op, "is bob"]);

    // The same change signed by alice, the operation's requester, lands: the signature decided.
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    bump(repo);
    commit_as(
        repo,
        Some(&team.alice),
        &format!("Policy tweak\n\nOps-Id: {op}"),
    );
    push(repo).ok();
}

#[test]
fn require_signature_all_asks_every_commit_for_a_policy_signer() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let eve = sb.generate_key("eve");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    let policy = repo.read("ops/policy.yaml").replacen(
        "commits: { require_signature: governed }",
        "commits: { require_signature: all }",
        1,
    );
    assert!(policy.contains("require_signature: all"), "{policy}");
    repo.write("ops/policy.yaml", &policy);
    repo.commit_all("Adopt git-ops");
    server(&repo, "server.git");
    let base = repo.rev("HEAD");

    repo.write("README.md", "unsigned\n");
    commit_as(&repo, None, "Unsigned docs");
    push(&repo)
        .failed()
        .says(&["error[commit-signature]", "require_signature: all"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.write("README.md", "by eve\n");
    commit_as(&repo, Some(&eve), "Docs by a stranger");
    push(&repo)
        .failed()
        .says(&["error[commit-signature]", "no signer of the policy has"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    repo.write("README.md", "by alice\n");
    commit_as(&repo, Some(&alice), "Docs by alice");
    push(&repo).ok();
}

// ---- Attacks found by a review: each pushes to the server with --no-verify and is refused ----

/// An unsigned root commit `R` (unrelated history, no policy) holding `path` = `text`, and an
/// unsigned merge of `main` and `R` taking `path` from `R`, with `message`; main points at it.
fn smuggle_via_unrelated_root(
    repo: &Repo,
    path: &str,
    text: &str,
    message: &str,
) -> (String, String) {
    repo.git(&["checkout", "-q", "--orphan", "evil"]).ok();
    repo.git(&["rm", "-rfq", "."]).ok();
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(repo.path(&dir.display().to_string())).unwrap();
    }
    repo.write(path, text);
    let root = commit_as(repo, None, "unrelated root");
    repo.git(&["checkout", "-q", "-f", "main"]).ok();
    repo.write(path, text);
    repo.git(&["add", "-A"]).ok();
    let tree = repo.git(&["write-tree"]).ok().stdout().trim().to_string();
    let merge = repo
        .git(&[
            "commit-tree",
            &tree,
            "-p",
            "main",
            "-p",
            &root,
            "-m",
            message,
        ])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/heads/main", &merge]).ok();
    repo.git(&["reset", "-q", "--hard", "main"]).ok();
    (root, merge)
}

#[test]
fn attack_unsigned_content_via_merge_with_unrelated_root() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let remote = server(repo, "server.git");
    repo.write("deploy/a.yaml", "a: 1\n");
    let id = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/a.yaml"], &[]);
    commit_as(repo, Some(&team.alice), &format!("Declare\n\nOps-Id: {id}"));
    push(repo).ok();
    // Sanity: a direct unsigned change is refused.
    let base = repo.rev("HEAD");
    repo.write("deploy/a.yaml", "a: 666\n");
    commit_as(repo, None, &format!("direct\n\nOps-Id: {id}"));
    push(repo).failed().says(&["commit-signature"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    // The attack.
    let (_root, merge) = smuggle_via_unrelated_root(
        repo,
        "deploy/a.yaml",
        "a: 666\n",
        &format!("Merge\n\nOps-Id: {id}"),
    );
    let out = push(repo);
    assert!(
        out.stderr().contains("commit-signature"),
        "refused for its signature\n{out}"
    );
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    let range = format!("{base}..{merge}");
    let v = repo.ops_keyless(&["verify", "--range", &range]);
    assert_eq!(
        v.code,
        Some(1),
        "verify --range as CI runs it refuses the merge too\n{v}"
    );
    assert_ne!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(merge.as_str()),
        "BYPASS: unsigned governed content landed through a merge with an unrelated root"
    );
}

#[test]
fn attack_unpinned_content_via_merge_with_unrelated_root() {
    let (team, remote) = pinned_team();
    let repo = &team.repo;
    let sb = &repo.sb;
    let (id, trailer, _) = declare_and_pin_on_topic(&team);
    commit_as(repo, Some(&team.alice), &format!("Approve {id}"));
    push(repo).ok();
    let approved = repo.rev("HEAD");
    // Sanity: alice's signed direct commit of other content is refused (unpinned-content).
    repo.write("deploy/web.yaml", "replicas: 99\n");
    commit_as(repo, Some(&team.alice), &format!("direct\n\n{trailer}"));
    push(repo).failed().says(&["unpinned-content"]);
    repo.git(&["reset", "-q", "--hard", &approved]).ok();
    let (_root, merge) = smuggle_via_unrelated_root(
        repo,
        "deploy/web.yaml",
        "replicas: 99\n",
        &format!("Merge\n\n{trailer}"),
    );
    let out = push(repo);
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    let range = format!("{approved}..{merge}");
    let v = repo.ops_keyless(&["verify", "--range", &range]);
    assert_eq!(
        v.code,
        Some(1),
        "verify --range as CI runs it refuses it too\n{v}"
    );
    assert!(
        v.text().contains("error[unpinned-content]"),
        "refused for the right reason\n{v}"
    );
    assert_ne!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(merge.as_str()),
        "BYPASS: unpinned, unsigned content landed through a merge with an unrelated root"
    );
}

#[test]
fn attack_old_content_via_merge_with_old_second_parent() {
    let (team, remote) = pinned_team();
    let repo = &team.repo;
    let sb = &repo.sb;
    // deploy/web.yaml is `replicas: 2` at the declaring commit.
    let (id, trailer, adopt) = declare_and_pin_on_topic(&team);
    commit_as(repo, Some(&team.alice), &format!("Approve {id}"));
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_as(
        repo,
        Some(&team.alice),
        &format!("Scale web to 3\n\n{trailer}"),
    );
    push(repo).ok();
    assert_eq!(repo.read("deploy/web.yaml"), "replicas: 3\n");
    // Attack: an unsigned merge whose second parent is the old adopting commit, taking its
    // deploy/web.yaml (replicas: 2, never pinned by the approvers of the live operation).
    repo.write("deploy/web.yaml", "replicas: 2\n");
    repo.git(&["add", "-A"]).ok();
    let tree = repo.git(&["write-tree"]).ok().stdout().trim().to_string();
    let msg = format!("Merge\n\n{trailer}");
    let merge = repo
        .git(&["commit-tree", &tree, "-p", "main", "-p", &adopt, "-m", &msg])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/heads/main", &merge]).ok();
    repo.git(&["reset", "-q", "--hard", "main"]).ok();
    let out = push(repo);
    assert!(
        out.stderr().contains("commit-signature"),
        "refused for its signature\n{out}"
    );
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    let range = format!("{adopt}..{merge}");
    let v = repo.ops_keyless(&["verify", "--range", &range]);
    assert_eq!(
        v.code,
        Some(1),
        "verify --range as CI runs it refuses it too\n{v}"
    );
    assert!(
        v.text().contains("error[commit-signature]"),
        "refused for the right reason\n{v}"
    );
    assert_ne!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(merge.as_str()),
        "BYPASS: unsigned merge brought back unpinned old content"
    );
}

#[test]
fn attack_automation_pusher_escapes_with_a_cert_by_an_unknown_key() {
    let (repo, _alice, _bot) = automation_team();
    let sb = &repo.sb;
    let remote = server(&repo, "server.git");
    let mut c = sb.command("git", &remote);
    c.args(["config", "receive.certNonceSeed", "a server secret"]);
    run(c).ok();
    let eve = sb.generate_key("eve");
    repo.write("README.md", "changed by the agent\n");
    let commit = commit_as(&repo, None, "Agent edits the README");
    // Sanity: the CI runner's plain push is refused.
    repo.git_env(
        &["push", "--no-verify", "origin", "main"],
        &[("GL_USER", "ci-runner")],
    )
    .failed()
    .says(&["automation-bounds"]);
    // The same push by the same authenticated user, with a push certificate by any key.
    let signing = format!("user.signingKey={}", eve.path.display());
    let out = repo.git_env(
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &signing,
            "push",
            "--signed",
            "--no-verify",
            "origin",
            "main",
        ],
        &[("GL_USER", "ci-runner")],
    );
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    assert_ne!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(commit.as_str()),
        "BYPASS: automation pusher escaped the bounds with a push certificate by an unknown key"
    );
}

#[test]
fn attack_automation_signed_merge_with_unrelated_root_escapes_bounds() {
    let (repo, _alice, bot) = automation_team();
    let sb = &repo.sb;
    let remote = server(&repo, "server.git");
    // Sanity: the bot-signed README edit is refused.
    let base = repo.rev("HEAD");
    repo.write("README.md", "rewritten by the agent\n");
    commit_as(&repo, Some(&bot), "Agent edits the README");
    push(&repo).failed().says(&["automation-bounds"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    let (_root, merge) =
        smuggle_via_unrelated_root(&repo, "README.md", "rewritten by the agent\n", "Merge");
    // Re-sign the merge as the bot: amend keeps parents.
    let signing = format!("user.signingKey={}", bot.path.display());
    repo.git(&[
        "-c",
        &signing,
        "commit",
        "-q",
        "--amend",
        "--no-verify",
        "-S",
        "--no-edit",
    ])
    .ok();
    let merge2 = repo.rev("HEAD");
    assert_ne!(merge2, merge, "the merge was signed again");
    let out = repo.git_env(
        &["push", "--no-verify", "origin", "main"],
        &[("GL_USER", "ci-runner")],
    );
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    let range = format!("{base}..{merge2}");
    let v = repo.ops_keyless(&["verify", "--range", &range]);
    assert_eq!(
        v.code,
        Some(1),
        "verify --range as CI runs it refuses it too\n{v}"
    );
    assert!(
        v.text().contains("error[automation-bounds]"),
        "refused for the right reason\n{v}"
    );
    assert_ne!(
        remote_ref(sb, &remote, "refs/heads/main").as_deref(),
        Some(merge2.as_str()),
        "BYPASS: automation (signed and pushed by ci-runner) changed README.md via an unrelated-root merge"
    );
}

#[test]
fn attack_tags_at_unsigned_commits() {
    let team = Team::new();
    let repo = &team.repo;
    server(repo, "server.git");
    repo.write("deploy/a.yaml", "a: 1\n");
    let id = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/a.yaml"], &[]);
    commit_as(repo, Some(&team.alice), &format!("Declare\n\nOps-Id: {id}"));
    push(repo).ok();
    let base = repo.rev("HEAD");
    repo.write("deploy/a.yaml", "a: 666\n");
    commit_as(repo, None, &format!("direct\n\nOps-Id: {id}"));
    repo.git(&["tag", "v1"]).ok();
    repo.git(&["push", "--no-verify", "origin", "refs/tags/v1"])
        .failed()
        .says(&["commit-signature"]);
    repo.git(&["tag", "-a", "-m", "x", "v2"]).ok();
    repo.git(&["push", "--no-verify", "origin", "refs/tags/v2"])
        .failed()
        .says(&["commit-signature"]);
    repo.git(&["reset", "-q", "--hard", &base]).ok();
    // An unrelated root holding governed content, pushed as a branch of its own.
    repo.git(&["checkout", "-q", "--orphan", "evil"]).ok();
    repo.git(&["rm", "-rfq", "."]).ok();
    std::fs::create_dir_all(repo.path("deploy")).unwrap();
    repo.write("deploy/a.yaml", "a: 777\n");
    let root = commit_as(repo, None, "unrelated root");
    repo.git(&["checkout", "-q", "-f", "main"]).ok();
    repo.git(&[
        "push",
        "--no-verify",
        "origin",
        &format!("{root}:refs/heads/junk"),
    ])
    .failed();
}

#[test]
fn attack_non_approver_lends_herself_an_operation_by_signing_it() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let carol = sb.generate_key("carol");
    let dave = sb.generate_key("dave");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    for (name, key, role) in [
        ("bob", &bob, "human,approver"),
        ("carol", &carol, "human,approver"),
        ("dave", &dave, "human"),
    ] {
        let public = key.pub_path().display().to_string();
        repo.ops(&alice, &["keys", "add", name, &public, "--role", role])
            .ok();
    }
    repo.commit_all("Adopt git-ops");
    let team = Team { repo, alice, bob };
    let repo = &team.repo;
    let remote = server(repo, "server.git");
    std::fs::create_dir_all(repo.path("deploy")).unwrap();
    repo.write("deploy/a.yaml", "a: 1\n");
    let op = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/a.yaml"], &[]);
    repo.ops(&carol, &["sign", &op]).ok();
    commit_as(repo, Some(&team.alice), &format!("Declare\n\nOps-Id: {op}"));
    push(repo).ok();
    // dave (human, not approver) signs alice's op and changes deploy/a.yaml in the same commit.
    repo.ops(&dave, &["sign", &op]).failed();
    repo.write("deploy/a.yaml", "a: 666\n");
    let c = commit_as(repo, Some(&dave), &format!("dave change\n\nOps-Id: {op}"));
    let out = push(repo);
    assert_eq!(out.code, Some(1), "the server refuses the push\n{out}");
    assert_ne!(
        remote_ref(&sb, &remote, "refs/heads/main").as_deref(),
        Some(c.as_str()),
        "BYPASS: non-approver lent herself the op"
    );
}

#[test]
fn attack_branch_delete_and_recreate_older() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let remote = server(repo, "server.git");
    let old = repo.rev("HEAD");
    repo.write("deploy/a.yaml", "a: 1\n");
    let id = repo.declare_with(&team.alice, "LOW_RISK_CONFIG", &["deploy/a.yaml"], &[]);
    commit_as(repo, Some(&team.alice), &format!("Declare\n\nOps-Id: {id}"));
    push(repo).ok();
    repo.git(&["push", "--no-verify", "origin", "main:refs/heads/rel"])
        .ok();
    repo.git(&["push", "--no-verify", "origin", "main:refs/heads/backup"])
        .ok();
    repo.git(&["push", "--no-verify", "origin", ":refs/heads/rel"])
        .ok();
    // Recreated behind its last accepted tip: refused, and the branch stays deleted.
    repo.git(&[
        "push",
        "--no-verify",
        "origin",
        &format!("{old}:refs/heads/rel"),
    ])
    .failed();
    assert_eq!(
        remote_ref(sb, &remote, "refs/heads/rel"),
        None,
        "BYPASS: a branch recreated at an older commit"
    );
}
