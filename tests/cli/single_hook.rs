//! `git ops hooks install --single`: one commit-msg hook that does what pre-commit,
//! prepare-commit-msg and commit-msg do (docs/HOOKS.md). The same commits as tests/cli/enforce.rs,
//! through real `git commit`: nothing the split hooks refuse gets through, and a trailer written
//! by hand now links the staged change too.

use crate::harness::{Out, Repo, Team, ledger_file_of};

/// Switches the team's repository to the single hook and checks what is installed.
fn single(repo: &Repo) {
    let out = repo.ops_keyless(&["hooks", "install", "--single"]).ok();
    assert!(out.stdout().contains("removed"), "{out}");
    for gone in ["pre-commit", "prepare-commit-msg"] {
        assert!(
            !repo.path(&format!(".git/hooks/{gone}")).exists(),
            "{gone} is still installed"
        );
    }
    let hook = repo.read(".git/hooks/commit-msg");
    assert!(hook.contains("exec git-ops hook commit \"$@\""), "{hook}");
}

fn commit_all(repo: &Repo, message: &str) -> Out {
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "-m", message])
}

fn head_message(repo: &Repo) -> String {
    repo.git(&["log", "-1", "--format=%B"]).ok().stdout()
}

#[test]
fn the_single_hook_refuses_uncovered_changes_and_passes_the_rest() {
    let team = Team::new();
    let repo = &team.repo;
    single(repo);
    let head = repo.rev("HEAD");
    repo.write("README.md", "hello\n");
    commit_all(repo, "Readme").ok();
    assert_ne!(repo.rev("HEAD"), head);
    assert!(!head_message(repo).contains("Ops-Id"));

    let head = repo.rev("HEAD");
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_all(repo, "Scale web")
        .code(1)
        .says(&["error[uncovered]", "deploy/web.yaml"]);
    assert_eq!(repo.rev("HEAD"), head);
    assert_eq!(repo.staged(), ["deploy/web.yaml"]);
    // `git commit -a` and `git commit <path>` are judged from git's temporary index.
    repo.git(&["reset", "-q"]).ok();
    repo.git(&["commit", "-q", "-a", "-m", "Scale web"])
        .code(1)
        .says(&["error[uncovered]"]);
    repo.git(&["commit", "-q", "-m", "Scale web", "deploy/web.yaml"])
        .code(1)
        .says(&["error[uncovered]"]);
    assert_eq!(repo.rev("HEAD"), head);
    // --no-verify skips it, as it skips pre-commit: the server hook is the enforcement point.
    repo.git(&["commit", "-q", "--no-verify", "-a", "-m", "Scale web"])
        .ok();
    assert_ne!(repo.rev("HEAD"), head);
}

#[test]
fn the_single_hook_adds_the_active_trailer_and_a_written_trailer_links_too() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    commit_all(repo, "Declare the restart").ok();
    single(repo);

    repo.ops_keyless(&["use", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    commit_all(repo, "Scale web\n\nSigned-off-by: A <a@example.org>").ok();
    let trailers = repo
        .git(&["log", "-1", "--format=%(trailers:key=Ops-Id,valueonly)"])
        .ok()
        .stdout();
    assert_eq!(trailers.trim(), id, "git does not read it as a trailer");
    assert!(
        head_message(repo).contains(&format!("Signed-off-by: A <a@example.org>\nOps-Id: {id}")),
        "{}",
        head_message(repo)
    );

    // Without an active operation, a trailer written in the message links the change: the
    // split pre-commit hook could not know it.
    repo.ops_keyless(&["use", "--clear"]).ok();
    repo.write("deploy/web.yaml", "replicas: 4\n");
    let head = repo.rev("HEAD");
    commit_all(repo, "Scale web again")
        .code(1)
        .says(&["error[uncovered]", "deploy/web.yaml"]);
    assert_eq!(repo.rev("HEAD"), head);
    repo.git(&[
        "commit",
        "-q",
        "-m",
        &format!("Scale web again\n\nOps-Id: {id}"),
    ])
    .ok();
    assert_ne!(repo.rev("HEAD"), head);

    // Unknown and malformed trailers are refused, on an ungoverned change too.
    repo.write("README.md", "x\n");
    let head = repo.rev("HEAD");
    commit_all(repo, "Readme\n\nOps-Id: OPS-2099-01-01-001")
        .code(1)
        .says(&["OPS-2099-01-01-001", "no such record"]);
    commit_all(repo, "Readme\n\nOps-Id: nonsense")
        .code(1)
        .says(&["malformed trailer", "nonsense"]);
    assert_eq!(repo.rev("HEAD"), head);
}

#[test]
fn a_pending_active_operation_does_not_cover_under_the_single_hook() {
    let team = Team::new();
    let repo = &team.repo;
    single(repo);
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    repo.ops_keyless(&["use", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let head = repo.rev("HEAD");
    commit_all(repo, "Scale web")
        .code(1)
        .says(&["error[uncovered]", &id, "pending"]);
    assert_eq!(repo.rev("HEAD"), head);
    assert!(repo.staged().contains(&ledger_file_of(&id)));
    repo.ops(&team.bob, &["sign", &id]).ok();
    commit_all(repo, "Scale web").ok();
    assert_ne!(repo.rev("HEAD"), head);
}

#[test]
fn installing_the_split_hooks_again_replaces_the_single_one() {
    let team = Team::new();
    let repo = &team.repo;
    single(repo);
    repo.ops_keyless(&["hooks", "install"]).ok();
    let hook = repo.read(".git/hooks/commit-msg");
    assert!(
        hook.contains("exec git-ops hook commit-msg \"$@\""),
        "{hook}"
    );
    assert!(repo.path(".git/hooks/pre-commit").exists());
    repo.ops_keyless(&["hooks", "uninstall"]).ok();
    assert!(!repo.path(".git/hooks/commit-msg").exists());
}
