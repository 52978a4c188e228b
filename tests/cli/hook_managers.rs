//! git-ops under the hook managers, run for real: the pre-commit framework with the hooks of
//! `.pre-commit-hooks.yaml`, and lefthook with `docs/hook-managers/lefthook.yml`. Under each, a
//! commit naming a record that does not exist and a push of an uncovered governed commit are
//! refused, and an ordinary commit goes through. HOOKS.md shows the tested files as they are.

use std::path::{Path, PathBuf};

use crate::harness::{Out, Repo, Team, require_tool, run};

fn checkout(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(checkout(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// `git <args>` with what the managers need from the real environment (pyenv's shims find
/// their Python through PYENV_ROOT).
fn git(repo: &Repo, args: &[&str]) -> Out {
    let mut c = repo.sb.command("git", &repo.dir);
    c.args(args);
    if let Ok(root) = std::env::var("PYENV_ROOT") {
        c.env("PYENV_ROOT", root);
    }
    run(c)
}

fn tool(repo: &Repo, program: &str, args: &[&str]) -> Out {
    let mut c = repo.sb.command(program, &repo.dir);
    c.args(args);
    if let Ok(root) = std::env::var("PYENV_ROOT") {
        c.env("PYENV_ROOT", root);
    }
    run(c)
}

/// Keeps `rel` out of `git add -A` and `git status`.
fn exclude(repo: &Repo, rel: &str) {
    std::fs::write(repo.path(".git/info/exclude"), format!("/{rel}\n"))
        .expect("writing .git/info/exclude");
}

/// A bare `origin` with no hooks of its own: only the client's pre-push stands in the way.
fn bare_remote(repo: &Repo) -> PathBuf {
    let dir = repo.sb.root.join("remote.git");
    let dir_s = dir.display().to_string();
    let mut c = repo.sb.command("git", &repo.sb.root);
    c.args(["init", "-q", "--bare", &dir_s]);
    run(c).ok();
    repo.git(&["remote", "add", "origin", &dir_s]).ok();
    dir
}

fn remote_main(repo: &Repo, remote: &Path) -> String {
    let dir = remote.display().to_string();
    repo.git(&["--git-dir", &dir, "rev-parse", "refs/heads/main"])
        .ok()
        .stdout()
        .trim()
        .to_string()
}

/// The refusals and the acceptance every manager must give, once its hooks are installed.
fn judged_as_by_git_ops(team: &Team) {
    let repo = &team.repo;
    let remote = bare_remote(repo);
    git(repo, &["push", "-q", "origin", "main"]).ok();
    let accepted = repo.rev("HEAD");

    // An ordinary commit goes through.
    repo.write("README.md", "hello\n");
    git(repo, &["add", "README.md"]).ok();
    git(repo, &["commit", "-q", "-m", "Readme"]).ok();
    assert_ne!(
        repo.rev("HEAD"),
        accepted,
        "the ordinary commit was not made"
    );
    git(repo, &["push", "-q", "origin", "main"]).ok();
    let accepted = repo.rev("HEAD");
    assert_eq!(remote_main(repo, &remote), accepted);

    // (a) An Ops-Id naming a record that does not exist.
    repo.write("README.md", "hello again\n");
    git(repo, &["add", "README.md"]).ok();
    git(
        repo,
        &["commit", "-q", "-m", "Readme\n\nOps-Id: OPS-2099-01-01-001"],
    )
    .failed()
    .says(&["OPS-2099-01-01-001", "no such record"]);
    assert_eq!(repo.rev("HEAD"), accepted, "the commit was made");

    // (b) An uncovered governed commit, made past the hooks, is not pushed.
    repo.write("deploy/web.yaml", "replicas: 9\n");
    git(repo, &["commit", "-q", "--no-verify", "-am", "Sneak it in"]).ok();
    let bad = repo.rev("HEAD");
    git(repo, &["push", "origin", "main"]).failed().says(&[
        "error[uncovered]",
        "deploy/web.yaml",
        &bad[..10],
    ]);
    assert_eq!(
        remote_main(repo, &remote),
        accepted,
        "the remote's branch moved"
    );
}

/// The repository's `.pre-commit-config.yaml`: the hooks of `.pre-commit-hooks.yaml` as a local
/// repository (the published config, `docs/hook-managers/pre-commit-config.yaml`, names them by
/// id from the git-ops repository instead).
fn pre_commit_config() -> String {
    let hooks = read(".pre-commit-hooks.yaml");
    let mut config = String::from("repos:\n  - repo: local\n    hooks:\n");
    for line in hooks.lines() {
        config.push_str(&format!("      {line}\n").replace("      \n", "\n"));
    }
    config
}

#[test]
fn the_pre_commit_framework_runs_every_git_ops_hook() {
    if !require_tool("pre-commit", "python3 -m pip install pre-commit") {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    repo.ops_keyless(&["hooks", "uninstall"]).ok();
    // Left untracked: the policy governs the repository's root, and the test is about the hooks.
    exclude(repo, ".pre-commit-config.yaml");
    repo.write(".pre-commit-config.yaml", &pre_commit_config());
    tool(
        repo,
        "pre-commit",
        &[
            "install",
            "--hook-type",
            "pre-commit",
            "--hook-type",
            "prepare-commit-msg",
            "--hook-type",
            "commit-msg",
            "--hook-type",
            "pre-push",
        ],
    )
    .ok();
    judged_as_by_git_ops(&team);
}

#[test]
fn lefthook_runs_every_git_ops_hook() {
    if !require_tool("lefthook", "npm install -g lefthook") {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    repo.ops_keyless(&["hooks", "uninstall"]).ok();
    exclude(repo, "lefthook.yml");
    repo.write("lefthook.yml", &read("docs/hook-managers/lefthook.yml"));
    tool(repo, "lefthook", &["install"]).ok();
    judged_as_by_git_ops(&team);
}

#[test]
fn hooks_md_shows_the_tested_configurations_as_they_are() {
    let doc = read("docs/HOOKS.md");
    for rel in [
        "docs/hook-managers/pre-commit-config.yaml",
        "docs/hook-managers/lefthook.yml",
        "docs/hook-managers/husky/pre-commit",
        "docs/hook-managers/husky/prepare-commit-msg",
        "docs/hook-managers/husky/commit-msg",
        "docs/hook-managers/husky/pre-push",
    ] {
        assert!(
            doc.contains(read(rel).trim_end()),
            "docs/HOOKS.md does not show {rel} as it is"
        );
    }
    // Every hook the published config names is defined for the framework.
    let hooks = read(".pre-commit-hooks.yaml");
    for line in read("docs/hook-managers/pre-commit-config.yaml").lines() {
        if let Some(id) = line.trim().strip_prefix("- id: ") {
            assert!(
                hooks.contains(&format!("- id: {id}\n")),
                "{id} is not defined"
            );
        }
    }
}

/// An executable hook at `path` with `body` after the shebang.
fn write_hook(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).expect("writing a hook");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("making a hook executable");
}

#[test]
fn hooks_install_chain_runs_the_earlier_hook_first_and_either_can_refuse() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let hooks = repo.path(".git/hooks");
    repo.ops_keyless(&["hooks", "uninstall"]).ok();
    let marker = sb.root.join("pre-commit-ran");
    let pushed = sb.root.join("pre-push-input");
    let pre_commit = format!("touch '{}'\n", marker.display());
    let pre_push = format!("cat > '{}'\n", pushed.display());
    write_hook(&hooks.join("pre-commit"), &pre_commit);
    write_hook(&hooks.join("pre-push"), &pre_push);

    // Without --chain or --force, still refused.
    repo.ops_keyless(&["hooks", "install"]).code(2).says(&[
        "not a git-ops hook",
        "--chain",
        "--force",
    ]);
    repo.ops_keyless(&["hooks", "install", "--chain"]).ok();
    let chained = hooks.join("pre-commit.git-ops-chained");
    assert!(chained.is_file(), "the earlier hook was not kept");
    // Installing again keeps the chain.
    repo.ops_keyless(&["hooks", "install"]).ok();
    assert!(chained.is_file(), "a second install dropped the chain");

    // An ordinary commit: the earlier hook ran, and the commit was made.
    let head = repo.rev("HEAD");
    repo.write("README.md", "hello\n");
    repo.git(&["add", "README.md"]).ok();
    repo.git(&["commit", "-q", "-m", "Readme"]).ok();
    assert!(marker.exists(), "the chained pre-commit hook did not run");
    assert_ne!(repo.rev("HEAD"), head);

    // git-ops still refuses what it refuses, after the earlier hook passed.
    std::fs::remove_file(&marker).expect("removing the marker");
    repo.write("deploy/web.yaml", "replicas: 9\n");
    repo.git(&["add", "deploy/web.yaml"]).ok();
    let head = repo.rev("HEAD");
    repo.git(&["commit", "-q", "-m", "Scale up"])
        .failed()
        .says(&["error[uncovered]", "deploy/web.yaml"]);
    assert!(marker.exists(), "the chained hook did not run first");
    assert_eq!(repo.rev("HEAD"), head);

    // Both pre-push hooks read the whole input: the earlier one saves it, git-ops refuses.
    repo.git(&["commit", "-q", "--no-verify", "-m", "Sneak it in"])
        .ok();
    let bad = repo.rev("HEAD");
    let remote = bare_remote(repo);
    repo.git(&["push", "origin", "main"])
        .failed()
        .says(&["error[uncovered]", &bad[..10]]);
    let input = std::fs::read_to_string(&pushed).expect("the chained pre-push ran");
    assert!(input.contains(&bad), "{input}");
    let dir = remote.display().to_string();
    repo.git(&[
        "--git-dir",
        &dir,
        "rev-parse",
        "--verify",
        "-q",
        "refs/heads/main",
    ])
    .failed();

    // The earlier hook failing refuses, though git-ops would accept.
    write_hook(&chained, "echo 'lint failed' >&2\nexit 7\n");
    repo.git(&["reset", "-q", "--hard", &head]).ok();
    repo.write("README.md", "hello again\n");
    repo.git(&["commit", "-q", "-am", "Readme again"])
        .failed()
        .says(&["lint failed"]);
    assert_eq!(repo.rev("HEAD"), head);

    // Uninstalling puts the earlier hooks back.
    repo.ops_keyless(&["hooks", "uninstall"]).ok();
    assert!(!chained.exists());
    let restored = std::fs::read_to_string(hooks.join("pre-push")).expect("reading pre-push");
    assert_eq!(restored, format!("#!/bin/sh\n{pre_push}"));
}
