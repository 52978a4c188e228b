//! What a push does to a ref (DESIGN §3.1), tried as an attacker would: pushing with
//! `--no-verify` to a bare server with the `pre-receive` hook and a pinned trust root. Each attack
//! is refused by the server with a message that names the ref, and the same range is refused by
//! `git ops verify --range` as CI runs it. Legitimate work keeps passing.

use crate::harness::{Repo, Team};

/// A bare remote with the server hook and a pinned trust root, with `main` pushed.
fn server(team: &Team) -> String {
    let repo = &team.repo;
    let dir = repo.sb.root.join("server.git").display().to_string();
    repo.git(&["init", "-q", "--bare", "-b", "main", &dir]).ok();
    repo.ops_keyless(&["-C", &dir, "hooks", "install"]).ok();
    let root = repo
        .git(&["rev-list", "--max-parents=0", "HEAD"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.git(&["--git-dir", &dir, "config", "ops.trustRoot", &root])
        .ok();
    repo.git(&["push", "-q", &dir, "main"]).ok();
    dir
}

fn server_ref(repo: &Repo, server: &str, name: &str) -> String {
    repo.git(&["--git-dir", server, "rev-parse", "-q", "--verify", name])
        .stdout()
        .trim()
        .to_string()
}

/// A team whose main holds a covered change of `deploy/web.yaml` (replicas 3), pushed; returns
/// the team, the server, the commit before that change and main's tip.
fn covered_change() -> (Team, String, String, String) {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let srv = server(&team);
    let before = repo.rev("HEAD");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.ops(&team.alice, &["use", &id]).ok();
    repo.commit_all("Scale web to 3");
    repo.ops_keyless(&["use", "--clear"]).ok();
    repo.git(&["push", "-q", &srv, "main"]).ok();
    let tip = repo.rev("HEAD");
    (team, srv, before, tip)
}

#[test]
fn a_merge_whose_first_parent_is_an_old_commit_cannot_move_main_back() {
    let (team, srv, before, tip) = covered_change();
    let repo = &team.repo;
    // A merge of main into the old commit, keeping the old content: main fast-forwards to it.
    repo.git(&["checkout", "-q", "--detach", &before]).ok();
    repo.git(&[
        "merge",
        "-q",
        "--no-verify",
        "-s",
        "ours",
        "-m",
        "merge main",
        "main",
    ])
    .ok();
    assert_eq!(repo.read("deploy/web.yaml"), "replicas: 2\n");
    let evil = repo.rev("HEAD");
    repo.git(&["push", "--no-verify", &srv, "HEAD:refs/heads/main"])
        .code(1)
        .says(&[
            "refs/heads/main",
            "deploy/web.yaml",
            "net change",
            "uncovered",
        ]);
    assert_eq!(server_ref(repo, &srv, "refs/heads/main"), tip);
    repo.ops_keyless(&["verify", "--range", &format!("{tip}..{evil}")])
        .code(1)
        .says(&["deploy/web.yaml", "net change"]);
}

#[test]
fn an_ordinary_merge_and_a_fast_forward_of_covered_work_pass() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let srv = server(&team);
    let base = repo.rev("HEAD");
    repo.git(&["checkout", "-q", "-b", "feature"]).ok();
    repo.write("deploy/web.yaml", "replicas: 4\n");
    repo.ops(&team.alice, &["use", &id]).ok();
    repo.commit_all("Scale web to 4");
    repo.ops_keyless(&["use", "--clear"]).ok();
    // The feature branch first, then main fast-forwarded to it: a known commit, judged again
    // for what it does to main (its operation is still live).
    repo.git(&["push", "-q", &srv, "feature"]).ok();
    repo.git(&["push", "-q", &srv, "feature:main"]).ok();
    let tip = repo.rev("HEAD");
    assert_eq!(server_ref(repo, &srv, "refs/heads/main"), tip);
    repo.ops_keyless(&["verify", "--range", &format!("{base}..{tip}")])
        .ok();
    // An ordinary merge of unrelated work.
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.git(&["reset", "-q", "--hard", &tip]).ok();
    repo.git(&["checkout", "-q", "-b", "docs"]).ok();
    repo.write("README.txt", "hello\n");
    repo.commit_all("Docs");
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.write("notes.txt", "notes\n");
    repo.commit_all("Notes");
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge docs", "docs"])
        .ok();
    repo.git(&["push", "-q", &srv, "main"]).ok();
}

#[test]
fn a_governed_branch_deleted_and_recreated_behind_its_last_accepted_tip_is_refused() {
    let (team, srv, before, tip) = covered_change();
    let repo = &team.repo;
    repo.git(&["push", "-q", &srv, "main:refs/heads/release"])
        .ok();
    // main still holds release's commits, so deleting release is allowed...
    repo.git(&["push", "-q", "--no-verify", &srv, ":refs/heads/release"])
        .ok();
    // ...but it cannot come back at an older commit.
    repo.git(&[
        "push",
        "--no-verify",
        &srv,
        &format!("{before}:refs/heads/release"),
    ])
    .code(1)
    .says(&["refs/heads/release", "branch-recreated"]);
    assert_eq!(server_ref(repo, &srv, "refs/heads/release"), "");
    // At its last accepted tip, or ahead of it, it may.
    repo.git(&[
        "push",
        "-q",
        "--no-verify",
        &srv,
        &format!("{tip}:refs/heads/release"),
    ])
    .ok();
}

#[test]
fn existing_tags_do_not_move_and_are_not_deleted() {
    let (team, srv, before, tip) = covered_change();
    let repo = &team.repo;
    repo.git(&["tag", "v1", &tip]).ok();
    repo.git(&["push", "-q", &srv, "v1"]).ok();
    repo.git(&[
        "push",
        "--no-verify",
        "--force",
        &srv,
        &format!("{before}:refs/tags/v1"),
    ])
    .code(1)
    .says(&["refs/tags/v1", "tag-moved"]);
    repo.git(&["push", "--no-verify", &srv, ":refs/tags/v1"])
        .code(1)
        .says(&["refs/tags/v1", "tag-deleted"]);
    assert_eq!(server_ref(repo, &srv, "refs/tags/v1"), tip);
}

#[test]
fn replace_refs_and_other_namespaces_are_refused() {
    let (team, srv, before, tip) = covered_change();
    let repo = &team.repo;
    // A replace ref would make the server show the old content for main's commit.
    repo.git(&["replace", &tip, &before]).ok();
    repo.git(&["push", "--no-verify", &srv, &format!("refs/replace/{tip}")])
        .code(1)
        .says(&["refs/replace/", "ref-namespace"]);
    repo.git(&["push", "--no-verify", &srv, &format!("{tip}:refs/sneaky/x")])
        .code(1)
        .says(&["refs/sneaky/x", "ref-namespace"]);
    assert_eq!(server_ref(repo, &srv, &format!("refs/replace/{tip}")), "");
}
