//! The ledger merge driver that `git ops init` configures, run by a real `git merge`.

use crate::harness::{Key, Sandbox, Team, ledger_file_of};

#[test]
fn merging_branches_keeps_every_record_and_signoff() {
    // Alice's repository is the origin; Bob works in a clone of it.
    let team = Team::new();
    let alice_repo = &team.repo;
    let shared = alice_repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    alice_repo.commit_all("Declare the restart");
    let file = ledger_file_of(&shared);

    let bob_repo = alice_repo.clone_to("bob-clone");
    // The merge driver lives in .git/config, which a clone does not copy: init sets it up and
    // keeps the committed policy.
    bob_repo
        .ops(&team.bob, &["init"])
        .ok()
        .says(&["exists already: kept"]);

    // Alice, on a side branch: a second record.
    alice_repo.git(&["checkout", "-q", "-b", "side"]).ok();
    let alices = alice_repo.declare(&team.alice, "Rotate logs", "SERVICE_RESTART");
    alice_repo.commit_all("Declare the log rotation");

    // Bob sees Alice's branch (so his next id is a fresh one), approves the shared record and
    // declares his own.
    bob_repo.git(&["fetch", "-q", "origin"]).ok();
    bob_repo.ops(&team.bob, &["sign", &shared]).ok();
    let bobs = bob_repo.declare(&team.bob, "Resize cache", "SERVICE_RESTART");
    assert_ne!(bobs, alices, "Bob's id ignores the remote-tracking branch");
    bob_repo.commit_all("Approve the restart, declare the cache resize");

    let attr = bob_repo.git(&["check-attr", "merge", "--", &file]).ok();
    assert!(attr.stdout().trim().ends_with("merge: git-ops"), "{attr}");
    bob_repo
        .git(&["merge", "--no-edit", "-q", "origin/side"])
        .ok();

    let merged = bob_repo.read(&file);
    for id in [&shared, &alices, &bobs] {
        assert_eq!(
            merged
                .matches(&format!("\n{}: {id}\n", "operation_id"))
                .count(),
            1,
            "{id} is missing or doubled in\n{merged}"
        );
    }
    assert!(!merged.contains("<<<<<<<"), "{merged}");
    assert_eq!(bob_repo.state_of(&shared), "approved");
    assert_eq!(bob_repo.state_of(&alices), "pending");
    assert_eq!(bob_repo.state_of(&bobs), "pending");
    bob_repo
        .verify()
        .ok()
        .says(&["3 records (1 approved, 2 pending, 0 invalid), 1 tags: verified"]);
    // The merge commit holds the merged file.
    let committed = bob_repo.git(&["show", &format!("HEAD:{file}")]).ok();
    assert_eq!(committed.stdout(), merged);
}

#[test]
fn the_same_id_with_two_payloads_is_a_merge_conflict() {
    let team = Team::new();
    let repo = &team.repo;
    repo.git(&["checkout", "-q", "-b", "other"]).ok();
    let theirs = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    repo.commit_all("Declare on the other branch");
    let file = ledger_file_of(&theirs);
    let their_text = repo.read(&file);
    repo.git(&["checkout", "-q", "main"]).ok();
    // Ids never collide on their own any more: make the clash by hand, the same id with another
    // payload (the driver judges payloads, not signatures).
    let ours = theirs.clone();
    let our_text = their_text.replace("Restart web", "Restart cache");
    assert_ne!(our_text, their_text, "the test needs two payloads");
    std::fs::create_dir_all(repo.path("ops/ledger")).expect("creating ops/ledger");
    repo.write(&file, &our_text);
    // The edited record no longer verifies: only a hook-less commit gets it onto main.
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "--no-verify", "-m", "Declare on main"])
        .ok();

    let out = repo
        .git(&["merge", "--no-edit", "other"])
        .failed()
        .says(&["both sides changed the payload of", &ours]);
    assert!(out.text().contains("CONFLICT"), "{out}");
    let unmerged = repo.git(&["ls-files", "-u", "--", &file]).ok();
    assert!(
        !unmerged.stdout().is_empty(),
        "{file} is not marked as conflicted"
    );
    // Both versions are left for a person, between conflict markers, and the file cannot be
    // committed as it is.
    let left = repo.read(&file);
    assert!(left.contains(&format!("<<<<<<< ours: {ours}")), "{left}");
    assert!(
        left.contains("Restart cache") && left.contains("Restart web"),
        "{left}"
    );
    repo.git(&["add", &file]).ok();
    repo.git(&["commit", "-q", "--no-edit"]).failed();
    repo.verify().code(1).says(&["schema"]);
}

#[test]
fn signoffs_added_on_both_sides_are_united() {
    let sb = Sandbox::new();
    let keys: Vec<Key> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| sb.generate_key(n))
        .collect();
    let (alice, bob, carol) = (&keys[0], &keys[1], &keys[2]);
    let repo = sb.git_init("repo");
    repo.ops(alice, &["init", "--name", "alice"]).ok();
    for (name, key) in [("bob", bob), ("carol", carol)] {
        let public = key.pub_path().display().to_string();
        repo.ops(
            alice,
            &["keys", "add", name, &public, "--role", "human,approver"],
        )
        .ok();
    }
    // Two approvals for a restart, so that each branch alone stays pending.
    let policy = repo.read("ops/policy.yaml");
    let stricter = policy.replace(
        "SERVICE_RESTART:  { approvals: 1 }",
        "SERVICE_RESTART:  { approvals: 2 }",
    );
    assert_ne!(stricter, policy);
    repo.write("ops/policy.yaml", &stricter);
    repo.commit_all("Adopt git-ops");
    let id = repo.declare(alice, "Restart web", "SERVICE_RESTART");
    repo.commit_all("Declare the restart");

    repo.git(&["checkout", "-q", "-b", "bobs"]).ok();
    repo.ops(bob, &["sign", &id])
        .ok()
        .says(&["pending (1 of 2"]);
    repo.commit_all("Bob approves");
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.ops(carol, &["sign", &id])
        .ok()
        .says(&["pending (1 of 2"]);
    repo.commit_all("Carol approves");

    repo.git(&["merge", "--no-edit", "-q", "bobs"]).ok();
    let merged = repo.read(&ledger_file_of(&id));
    for who in ["alice", "bob", "carol"] {
        assert_eq!(
            merged.matches(&format!("- by: {who}\n")).count(),
            1,
            "{who}'s signoff is missing or doubled in\n{merged}"
        );
    }
    assert_eq!(repo.state_of(&id), "approved");
    repo.verify().ok();
}
