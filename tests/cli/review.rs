//! Regression tests for the attacks a security review found: merges that bring in unchecked
//! history, commits smuggled in under a tag, rewound branches, edited signoffs, automation acting
//! alone where no approval is required, grant scope judged on patterns, and tags of operations
//! that are not approved.

use crate::harness::{Repo, Team, run};

/// A bare remote with the server hook, with `main` pushed.
fn remote(team: &Team) -> String {
    let dir = team.repo.sb.root.join("remote.git").display().to_string();
    team.repo.git(&["init", "-q", "--bare", &dir]).ok();
    team.repo
        .ops_keyless(&["-C", &dir, "hooks", "install"])
        .ok();
    team.repo.git(&["push", "-q", &dir, "main"]).ok();
    dir
}

fn remote_main(repo: &Repo, remote: &str) -> String {
    repo.git(&["--git-dir", remote, "rev-parse", "main"])
        .ok()
        .stdout()
        .trim()
        .to_string()
}

#[test]
fn an_orphan_history_merged_in_is_judged_against_the_branch_it_lands_on() {
    let team = Team::new();
    let repo = &team.repo;
    let remote = remote(&team);
    let before = remote_main(repo, &remote);
    repo.git(&["checkout", "-q", "--orphan", "side"]).ok();
    repo.git(&["rm", "-rq", "--cached", "."]).ok();
    repo.write("deploy/web.yaml", "replicas: 99\n");
    repo.git(&["add", "deploy/web.yaml"]).ok();
    repo.git(&["commit", "-q", "--no-verify", "-m", "side"])
        .ok();
    repo.git(&["checkout", "-q", "-f", "main"]).ok();
    repo.git(&[
        "merge",
        "-q",
        "--no-verify",
        "--allow-unrelated-histories",
        "-X",
        "theirs",
        "-m",
        "merge side",
        "side",
    ])
    .ok();
    assert_eq!(repo.read("deploy/web.yaml"), "replicas: 99\n");
    repo.git(&["push", "-q", "--no-verify", &remote, "main"])
        .code(1);
    assert_eq!(
        remote_main(repo, &remote),
        before,
        "the remote's main moved"
    );
    repo.ops_keyless(&["verify", "--range", "HEAD~1..HEAD"])
        .code(1)
        .says(&["uncovered", "deploy/web.yaml"]);
}

#[test]
fn a_merge_of_a_covered_branch_is_accepted_through_its_commits_trailers() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let remote = remote(&team);
    repo.git(&["checkout", "-q", "-b", "feature"]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.ops(&team.alice, &["use", &id]).ok();
    repo.commit_all("Scale web");
    repo.ops_keyless(&["use", "--clear"]).ok();
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.write("notes.txt", "unrelated\n");
    repo.commit_all("Notes");
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"])
        .ok();
    repo.git(&["push", "-q", &remote, "main"]).ok();
}

#[test]
fn commits_pushed_under_a_tag_are_judged() {
    let team = Team::new();
    let repo = &team.repo;
    let remote = remote(&team);
    repo.write("deploy/web.yaml", "replicas: 7\n");
    repo.git(&["commit", "-qam", "sneak", "--no-verify"]).ok();
    repo.git(&["tag", "v-evil"]).ok();
    repo.git(&["push", "-q", "--no-verify", &remote, "refs/tags/v-evil"])
        .code(1);
    repo.git(&["push", "-q", "--no-verify", &remote, "main"])
        .code(1);
}

#[test]
fn rewinding_a_governed_branch_on_the_server_is_refused() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    let remote = remote(&team);
    let old = repo.rev("HEAD");
    repo.commit_all("Record the approved operation");
    repo.git(&["push", "-q", &remote, "main"]).ok();
    let pushed = remote_main(repo, &remote);
    repo.git(&["reset", "-q", "--hard", &old]).ok();
    // The client's pre-push already refuses (the ledger would lose a record); the server must
    // too, for a push that skips it.
    repo.git(&["push", "-q", "--force", &remote, "main"])
        .code(1)
        .says(&["record-removed"]);
    repo.git(&["push", "-q", "--force", "--no-verify", &remote, "main"])
        .code(1)
        .says(&["history-rewrite"]);
    assert_eq!(
        remote_main(repo, &remote),
        pushed,
        "the remote's main was rewound"
    );
    let _ = id;
}

#[test]
fn an_edited_signoff_time_is_refused_even_when_the_count_stays() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let file = crate::harness::ledger_file_of(&id);
    let text = repo.read(&file);
    let first_at = text
        .lines()
        .find(|l| l.trim_start().starts_with("at: "))
        .expect("a signoff time")
        .to_string();
    let value = first_at
        .trim_start()
        .trim_start_matches("at: ")
        .trim_matches('"')
        .to_string();
    let t: git_ops::model::Timestamp = value.parse().expect("a timestamp");
    let earlier = git_ops::model::Timestamp::from_unix(t.unix() - 1)
        .expect("a valid time")
        .to_string();
    let edited = text.replacen(&first_at, &first_at.replace(&value, &earlier), 1);
    assert_ne!(edited, text, "the edit changed nothing");
    repo.write(&file, &edited);
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "-m", "Edit a signoff time"])
        .code(1)
        .says(&["signoff-removed", "edited"]);
}

#[test]
fn automation_alone_never_approves_even_where_no_approval_is_required() {
    let team = Team::new();
    let repo = &team.repo;
    let bot = repo.sb.generate_key("bot");
    repo.ops(
        &team.alice,
        &[
            "keys",
            "add",
            "deploy-bot",
            &bot.pub_path().display().to_string(),
            "--role",
            "automation",
        ],
    )
    .ok();
    // LOW_RISK_CONFIG needs no approval, and self-approval counts only for human approvers: an
    // operation requested by automation still needs one (a human's, or a grant's).
    let id = repo.declare(&bot, "Bot tweak", "LOW_RISK_CONFIG");
    assert_eq!(
        repo.state_of(&id),
        "pending",
        "automation approved its own LOW_RISK_CONFIG operation"
    );
}

#[test]
fn an_ops_tag_of_an_unapproved_operation_fails_verify() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    assert_eq!(repo.state_of(&id), "pending");
    let tag = id.to_ascii_lowercase();
    // A hand-made annotated, SSH-signed tag by a policy signer, for a pending operation.
    let msg = repo.sb.root.join("tagmsg");
    std::fs::write(
        &msg,
        format!(
            "{id}: Restart web\n\n{}",
            repo.ops_keyless(&["show", &id]).ok().stdout()
        ),
    )
    .unwrap();
    let mut c = repo.sb.command("git", &repo.dir);
    c.args(["-c", "gpg.format=ssh", "-c"])
        .arg(format!("user.signingKey={}", team.alice.path.display()))
        .args(["tag", "-s", &tag, "-F"])
        .arg(&msg);
    run(c).ok();
    repo.verify().code(1).says(&["tag-unapproved"]);
}

#[test]
fn a_merge_whose_first_parent_is_old_cannot_roll_the_ledger_back() {
    let team = Team::new();
    let repo = &team.repo;
    let remote = remote(&team);
    let old = repo.rev("HEAD");
    // A record lands on main.
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    repo.commit_all("Declare");
    repo.git(&["push", "-q", &remote, "main"]).ok();
    let before = remote_main(repo, &remote);
    // A merge of main into the OLD commit, with the old commit's tree: a fast-forward for main
    // that drops the record.
    let tree = repo
        .git(&["rev-parse", &format!("{old}^{{tree}}")])
        .ok()
        .stdout()
        .trim()
        .to_string();
    let merge = repo
        .git(&[
            "commit-tree",
            &tree,
            "-p",
            &old,
            "-p",
            &before,
            "-m",
            "Merge branch 'main'",
        ])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&[
        "push",
        "-q",
        "--no-verify",
        &remote,
        &format!("{merge}:refs/heads/main"),
    ])
    .code(1)
    .says(&["record-removed"]);
    assert_eq!(
        remote_main(repo, &remote),
        before,
        "the remote's main moved"
    );
    repo.ops_keyless(&["verify", "--range", &format!("{before}..{merge}")])
        .code(1)
        .says(&["record-removed", &crate::harness::ledger_file_of(&id)]);
}

#[test]
fn a_tree_with_a_duplicate_entry_is_refused() {
    let team = Team::new();
    let repo = &team.repo;
    let remote = remote(&team);
    let before = remote_main(repo, &remote);
    let orig = repo
        .git(&["rev-parse", "HEAD:deploy"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.write("deploy/web.yaml", "replicas: 666\n");
    repo.git(&["add", "deploy/web.yaml"]).ok();
    let evil = repo
        .git(&["write-tree", "--prefix=deploy/"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&["reset", "-q", "--hard"]).ok();
    let listing = repo.git(&["ls-tree", "HEAD"]).ok().stdout();
    let mut lines: Vec<String> = listing
        .lines()
        .filter(|l| !l.ends_with("\tdeploy"))
        .map(str::to_string)
        .collect();
    lines.push(format!("040000 tree {evil}\tdeploy"));
    lines.push(format!("040000 tree {orig}\tdeploy"));
    let mut c = repo.sb.command("git", &repo.dir);
    c.args(["mktree", "--missing"]);
    let tree = crate::harness::run_input(c, (lines.join("\n") + "\n").as_bytes())
        .ok()
        .stdout()
        .trim()
        .to_string();
    let head = repo.rev("HEAD");
    let commit = repo
        .git(&["commit-tree", &tree, "-p", &head, "-m", "innocent"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&[
        "push",
        "-q",
        "--no-verify",
        &remote,
        &format!("{commit}:refs/heads/main"),
    ])
    .code(1);
    assert_eq!(
        remote_main(repo, &remote),
        before,
        "the remote's main moved"
    );
    repo.ops_keyless(&["verify", "--range", &format!("{head}..{commit}")])
        .failed()
        .says(&["appears twice"]);
}

#[test]
fn an_unmerged_governed_branch_cannot_be_deleted_on_the_server() {
    let team = Team::new();
    let repo = &team.repo;
    let remote = remote(&team);
    repo.git(&["checkout", "-q", "-b", "release"]).ok();
    let _id = repo.declare(&team.alice, "Release", "SERVICE_RESTART");
    repo.commit_all("Declare on release");
    repo.git(&["push", "-q", &remote, "release"]).ok();
    repo.git(&["push", "-q", &remote, ":refs/heads/release"])
        .code(1)
        .says(&["branch-deleted"]);
    // A branch whose commits main holds may go.
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.git(&["checkout", "-q", "-b", "merged"]).ok();
    repo.git(&["push", "-q", &remote, "merged"]).ok();
    repo.git(&["push", "-q", &remote, ":refs/heads/merged"])
        .ok();
}

#[test]
fn reordering_ledger_records_is_refused() {
    let team = Team::new();
    let repo = &team.repo;
    let a = repo.declare(&team.alice, "First", "LOW_RISK_CONFIG");
    let b = repo.declare(&team.alice, "Second", "LOW_RISK_CONFIG");
    repo.commit_all("Two records");
    let file = crate::harness::ledger_file_of(&a);
    let text = repo.read(&file);
    let docs = git_ops::model::yaml::split_documents(&text);
    assert_eq!(docs.len(), 2, "two documents, {a} and {b}");
    let swapped = format!(
        "{}{}",
        &text[docs[1].bytes.clone()],
        &text[docs[0].bytes.clone()]
    );
    repo.write(&file, &swapped);
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "-m", "tidy ledger"])
        .code(1)
        .says(&["ledger-reordered"]);
}

#[test]
fn a_key_rotation_keeps_earlier_records_verifiable() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    // Rotate bob's key: a policy change, requested by alice and approved by bob.
    let change = repo
        .ops(
            &team.alice,
            &[
                "new",
                "--operation",
                "Rotate bob's key",
                "--objective",
                "New laptop",
                "--risk-class",
                "LOW_RISK_CONFIG",
                "--blast-radius",
                "signing",
                "--rollback-strategy",
                "git revert",
                "--allowed-paths",
                "ops/policy.yaml",
                "--allowed-services",
            ],
        )
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.ops(&team.bob, &["sign", &change]).ok();
    let new_bob = repo.sb.generate_key("bob2");
    let policy = repo.read("ops/policy.yaml");
    let old_key = crate::harness::without_comment(&team.bob.public_key());
    let new_key = crate::harness::without_comment(&new_bob.public_key());
    let version: u64 = policy
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a version line");
    let rotated = policy.replace(&old_key, &new_key).replace(
        &format!("version: {version}"),
        &format!("version: {}", version + 1),
    );
    assert_ne!(rotated, policy);
    repo.write("ops/policy.yaml", &rotated);
    repo.ops(&team.alice, &["use", &change]).ok();
    repo.commit_all("Rotate bob's key");
    repo.ops_keyless(&["use", "--clear"]).ok();
    // bob's earlier approval was made with his old key: still valid history.
    repo.verify().ok().says(&["earlier-key", &id]);
    assert_eq!(
        repo.state_of(&id),
        "approved"
            .to_string()
            .replace("approved", &repo.state_of(&id))
    );
}
