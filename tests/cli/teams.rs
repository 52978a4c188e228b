//! Teams: two clones of one bare remote carrying the server hook, or two worktrees of one
//! repository, declaring and signing at the same time, offline, then merging, rebasing or
//! cherry-picking. Every record is kept once, ids never collide, the server accepts the push, and
//! every branch verifies on its own.

use std::collections::BTreeSet;

use crate::harness::{Out, Repo, Team, ledger_file_of, run};

/// `git <args>` with the real time as author and committer date: `verify --history` judges
/// signoffs by the time of the commit that brought them, and these were signed just now.
fn git_now(repo: &Repo, args: &[&str]) -> Out {
    let date = format!("{} +0000", chrono::Utc::now().timestamp() + 1);
    repo.git_env(
        args,
        &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
    )
}

fn commit_all(repo: &Repo, message: &str) {
    repo.git(&["add", "-A"]).ok();
    git_now(repo, &["commit", "-q", "-m", message]).ok();
}

/// A bare `origin` with the server hooks, `main` pushed from alice's repository, and bob's clone
/// of it (with the merge driver configured by `git ops init`).
fn two_clones(team: &Team) -> (String, Repo) {
    let sb = &team.repo.sb;
    let dir = sb.root.join("origin.git").display().to_string();
    let mut c = sb.command("git", &sb.root);
    c.args(["init", "-q", "--bare", &dir]);
    run(c).ok();
    run(sb.ops_command(&sb.root, None, &["-C", &dir, "hooks", "install"]))
        .ok()
        .says(&["pre-receive"]);
    team.repo.git(&["remote", "add", "origin", &dir]).ok();
    team.repo.git(&["push", "-q", "-u", "origin", "main"]).ok();
    let bob = Repo {
        sb: std::sync::Arc::clone(sb),
        dir: sb.root.join("bob"),
    };
    team.repo
        .git(&["clone", "-q", &dir, &bob.dir.display().to_string()])
        .ok();
    bob.ops(&team.bob, &["init"]).ok();
    (dir, bob)
}

/// The operation ids in `repo`'s ledger, in ledger order.
fn ids(repo: &Repo) -> Vec<String> {
    repo.records()
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Every check a branch must pass: the ledger, its history, and the range since `base`.
fn verifies(repo: &Repo, base: &str) {
    repo.verify().ok().says(&["verified"]);
    repo.ops_keyless(&["verify", "--history"]).ok();
    repo.ops_keyless(&["verify", "--range", &format!("{base}..HEAD")])
        .ok();
}

/// Both clones declare offline on the same day, bob approves a shared record (which tags it);
/// returns (shared, alice's, bob's) ids and the commit both started from.
fn offline_work(team: &Team, bob: &Repo) -> (String, String, String, String) {
    let alice = &team.repo;
    let shared = alice.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    commit_all(alice, "Declare the restart");
    alice.git(&["push", "-q", "origin", "main"]).ok();
    git_now(bob, &["pull", "-q", "--no-rebase"]).ok();
    let base = alice.rev("HEAD");

    // Offline from here: nobody fetches.
    let alices = alice.declare(&team.alice, "Rotate logs", "SERVICE_RESTART");
    commit_all(alice, "Declare the log rotation");
    bob.ops(&team.bob, &["sign", &shared]).ok();
    let bobs = bob.declare(&team.bob, "Resize cache", "SERVICE_RESTART");
    commit_all(bob, "Approve the restart, declare the cache resize");
    assert_ne!(alices, bobs, "two offline clones drew the same id");
    assert!(bob.tag_exists(&shared.to_ascii_lowercase()));
    bob.git(&["push", "-q", "origin", "main"]).ok();
    bob.git(&["push", "-q", "origin", "--tags"]).ok();
    (shared, alices, bobs, base)
}

fn holds_each_once(repo: &Repo, want: &[&String]) {
    let got = ids(repo);
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "an id twice: {got:?}");
    for id in want {
        assert!(got.contains(id), "{id} is lost: {got:?}");
    }
}

#[test]
fn two_clones_merge_their_offline_work_and_the_server_accepts_it() {
    let team = Team::new();
    let (_origin, bob) = two_clones(&team);
    let (shared, alices, bobs, base) = offline_work(&team, &bob);
    let alice = &team.repo;

    // Alice fetches bob's tag before his branch is merged: her branch still verifies.
    alice.git(&["fetch", "-q", "--tags", "origin"]).ok();
    alice.verify().ok().says(&["verified"]);

    git_now(
        alice,
        &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
    )
    .ok();
    let text = alice.read(&ledger_file_of(&shared));
    assert!(!text.contains("<<<<<<<"), "{text}");
    holds_each_once(alice, &[&shared, &alices, &bobs]);
    assert_eq!(alice.state_of(&shared), "approved");
    verifies(alice, &base);
    alice.git(&["push", "-q", "origin", "main"]).ok();

    // Bob takes the merge back; both sides end with the same ledger.
    git_now(&bob, &["pull", "-q", "--no-rebase"]).ok();
    verifies(&bob, &base);
    assert_eq!(ids(&bob), ids(alice));
}

#[test]
fn two_clones_rebase_their_offline_work_and_the_server_accepts_it() {
    let team = Team::new();
    let (_origin, bob) = two_clones(&team);
    let (shared, alices, bobs, base) = offline_work(&team, &bob);
    let alice = &team.repo;

    git_now(alice, &["pull", "-q", "--rebase", "origin", "main"]).ok();
    holds_each_once(alice, &[&shared, &alices, &bobs]);
    assert_eq!(alice.field(&alices, "operation_name"), "Rotate logs");
    verifies(alice, &base);
    alice.git(&["push", "-q", "origin", "main"]).ok();
    alice.git(&["fetch", "-q", "--tags", "origin"]).ok();
    alice.verify().ok().says(&["verified"]);
}

#[test]
fn a_record_cherry_picked_between_branches_is_kept_once() {
    let team = Team::new();
    let (_origin, bob) = two_clones(&team);
    let (shared, alices, bobs, base) = offline_work(&team, &bob);
    let alice = &team.repo;

    // Alice's own side branch, cherry-picked onto what bob pushed.
    alice.git(&["checkout", "-q", "-b", "side"]).ok();
    let picked = alice.declare(&team.alice, "Flush cache", "SERVICE_RESTART");
    commit_all(alice, "Declare the cache flush");
    alice.git(&["fetch", "-q", "origin"]).ok();
    alice
        .git(&["checkout", "-q", "-b", "next", "origin/main"])
        .ok();
    git_now(alice, &["cherry-pick", "side"]).ok();
    // The driver merges files as sets, without the base: the picked side's file brings every
    // record it holds (records are only ever added, so that is never a loss).
    holds_each_once(alice, &[&shared, &bobs, &picked, &alices]);
    verifies(alice, &base);
    alice.git(&["push", "-q", "origin", "next:main"]).ok();
}

#[test]
fn two_worktrees_of_one_repository_never_share_an_id_and_merge_cleanly() {
    let team = Team::new();
    let repo = &team.repo;
    let base = repo.rev("HEAD");
    let other = Repo {
        sb: std::sync::Arc::clone(&repo.sb),
        dir: repo.sb.root.join("wt-other"),
    };
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "other",
        &other.dir.display().to_string(),
    ])
    .ok();
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..3 {
        mine.push(repo.declare(&team.alice, &format!("Main op {i}"), "SERVICE_RESTART"));
        theirs.push(other.declare(&team.alice, &format!("Other op {i}"), "SERVICE_RESTART"));
    }
    let all: BTreeSet<&String> = mine.iter().chain(&theirs).collect();
    assert_eq!(all.len(), 6, "worktrees shared an id: {mine:?} {theirs:?}");
    // Approvals on both sides, so both worktrees hold tags the other branch lacks.
    repo.ops(&team.bob, &["sign", &mine[0]]).ok();
    other.ops(&team.bob, &["sign", &theirs[0]]).ok();
    commit_all(repo, "Main's operations");
    commit_all(&other, "Other's operations");
    repo.verify().ok().says(&["verified"]);
    other.verify().ok().says(&["verified"]);

    git_now(repo, &["merge", "-q", "--no-edit", "other"]).ok();
    holds_each_once(repo, &all.iter().copied().collect::<Vec<_>>());
    verifies(repo, &base);
}

#[test]
fn a_tag_with_no_record_anywhere_names_the_way_to_delete_it() {
    let team = Team::new();
    let repo = &team.repo;
    repo.git(&["tag", "-a", "ops-2026-01-27-042", "-m", "made by mistake"])
        .ok();
    repo.verify()
        .code(1)
        .says(&["error[tag-without-record]", "git tag -d ops-2026-01-27-042"]);
}

#[test]
fn a_crashed_writer_leaves_nothing_in_the_work_tree() {
    let team = Team::new();
    let repo = &team.repo;
    // Debris of an older version, in the ledger directory, goes with the next write.
    std::fs::create_dir_all(repo.path("ops/ledger")).expect("creating ops/ledger");
    repo.write("ops/ledger/.git-ops-tmp-crashed", "{{{ not: [yaml\n");
    repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let status = repo
        .git(&["status", "--porcelain", "--untracked-files=all"])
        .ok();
    assert!(!status.stdout().contains("git-ops-tmp"), "{status}");
}

#[test]
fn an_id_clash_between_clones_is_left_with_markers_and_renumbered() {
    let team = Team::new();
    let (_origin, bob) = two_clones(&team);
    let alice = &team.repo;
    let base = alice.rev("HEAD");
    let bobs = bob.declare(&team.bob, "Resize cache", "SERVICE_RESTART");
    commit_all(&bob, "Declare the cache resize");
    bob.git(&["push", "-q", "origin", "main"]).ok();

    // Alice, offline, records a read-only check under the very same id (the clash a random
    // draw makes about once in 100,000): approved at once, so also tagged here.
    let mut args = crate::harness::new_args("Check health", "READ_ONLY");
    args[0] = "record";
    args.extend(["--operation-id", bobs.as_str(), "--changes-summary", "none"]);
    alice.ops(&team.alice, &args).ok();
    // Bob, at alice's desk, approves it too: a signoff that renumbering must drop.
    alice.ops(&team.bob, &["sign", &bobs]).ok();
    commit_all(alice, "Record the health check");
    assert!(alice.tag_exists(&bobs.to_ascii_lowercase()));

    // The merge stops with both versions between markers, and says what to do.
    git_now(alice, &["fetch", "-q", "origin"]).ok();
    let out = git_now(alice, &["merge", "--no-edit", "origin/main"])
        .failed()
        .says(&[
            "both sides changed the payload of",
            &bobs,
            "git ops renumber",
        ]);
    let file = ledger_file_of(&bobs);
    let left = alice.read(&file);
    assert!(
        left.contains("Check health") && left.contains("Resize cache"),
        "{out}\n{left}"
    );
    alice.git(&["merge", "--abort"]).ok();

    // Renumbering gives alice's record a fresh id, re-signed, and drops her local tag.
    let out = alice.ops(&team.alice, &["renumber"]).ok().says(&[
        "renumbered",
        &bobs,
        "a remote-tracking branch has",
        "Resize cache",
        "signoffs were dropped and must be given again: bob (approver)",
        "git reset --soft",
    ]);
    let printed = out.stdout();
    let (old, new) = printed
        .trim()
        .split_once(' ')
        .expect("the old and the new id");
    assert_eq!(old, bobs);
    assert_ne!(new, bobs);
    assert!(!alice.tag_exists(&bobs.to_ascii_lowercase()));
    assert_eq!(alice.field(new, "operation_name"), "Check health");
    // Nothing left to do the second time.
    alice
        .ops(&team.alice, &["renumber"])
        .ok()
        .says(&["nothing to renumber"]);
    // The old id was committed, so the unpushed commit is redone with the new id.
    alice.git(&["reset", "-q", "--soft", &base]).ok();
    commit_all(alice, "Record the health check");

    git_now(alice, &["merge", "-q", "--no-edit", "origin/main"]).ok();
    holds_each_once(alice, &[&bobs, &new.to_string()]);
    assert_eq!(alice.field(&bobs, "operation_name"), "Resize cache");
    // The renumbered record is approved again (READ_ONLY needs only its requester), and tagged
    // with `git ops tag`.
    alice.ops(&team.alice, &["tag", new]).ok();
    verifies(alice, &base);
    alice.git(&["push", "-q", "origin", "main", "--tags"]).ok();
}

#[test]
fn a_stale_tag_lock_is_named_and_the_tag_is_made_by_the_next_command() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let tag = id.to_ascii_lowercase();
    // What a git process killed while writing the tag ref leaves, an hour ago.
    let lock = repo.path(&format!(".git/refs/tags/{tag}.lock"));
    std::fs::create_dir_all(lock.parent().expect("a directory")).expect("creating refs/tags");
    let file = std::fs::File::create(&lock).expect("creating the lock");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    file.set_modified(hour_ago).expect("dating the lock");
    drop(file);

    repo.ops(&team.bob, &["sign", &id]).ok().says(&[
        "no tag was made",
        &format!("{tag}.lock"),
        "seconds old",
        "rm ",
    ]);
    assert!(!repo.tag_exists(&tag));
    std::fs::remove_file(&lock).expect("clearing the lock");
    // Bob's next writing command makes the tag his signoff was due, and says so.
    repo.ops(
        &team.bob,
        &crate::harness::new_args("Rotate logs", "SERVICE_RESTART"),
    )
    .ok()
    .says(&[&format!("tagged {id} as {tag}")]);
    assert!(repo.tag_exists(&tag), "the missing tag was not made");
    repo.verify().ok().says(&["verified"]);
}

/// A write that ended before its tag leaves an approved operation without one:
/// `git ops tag --missing` makes every missing tag, and says when there is none to make.
#[test]
fn tag_missing_makes_the_tags_writes_left_undone() {
    let (team, id) = crate::harness::Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let tag = id.to_ascii_lowercase();
    assert!(repo.tag_exists(&tag));
    repo.git(&["tag", "-d", &tag]).ok();
    repo.ops(&team.alice, &["tag", "--missing"])
        .ok()
        .says(&[&format!("tagged {id} as {tag}")]);
    assert!(repo.tag_exists(&tag));
    repo.ops(&team.alice, &["tag", "--missing"])
        .ok()
        .says(&["no approved operation lacks its tag"]);
    repo.ops(&team.alice, &["tag"]).code(2);
}
