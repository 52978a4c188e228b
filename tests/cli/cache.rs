//! The verified-state cache of `git ops verify` (`.git/git-ops/verify-cache.json`): after any
//! change to what a verdict depends on, a run with the cache in place gives exactly the verdict
//! of a cold run, and a cache file that is missing, corrupt or written by another version is
//! ignored. Every test compares the warm run with a cold run of the same state.

use std::path::PathBuf;

use crate::harness::{Repo, Team, ledger_file_of};

fn cache_file(repo: &Repo) -> PathBuf {
    repo.path(".git/git-ops/verify-cache.json")
}

/// The exit code and the JSON report of `git ops verify`.
fn verdict(repo: &Repo) -> (Option<i32>, serde_json::Value) {
    let out = repo.ops_keyless(&["verify", "--format", "json"]);
    (out.code, out.json())
}

/// The verdict with the cache in place (written by an earlier run) and the verdict of a cold
/// run, with the cache file deleted first; they must agree. Returns it.
fn warm_equals_cold(repo: &Repo) -> (Option<i32>, serde_json::Value) {
    assert!(
        cache_file(repo).exists(),
        "an earlier verify left no cache at {}",
        cache_file(repo).display()
    );
    let warm = verdict(repo);
    std::fs::remove_file(cache_file(repo)).expect("deleting the cache");
    let cold = verdict(repo);
    assert_eq!(warm, cold, "the warm verdict differs from the cold one");
    assert!(cache_file(repo).exists(), "the cold run wrote no cache");
    cold
}

/// A team with an approved operation, verified once so that the cache holds a passing verdict.
fn verified_team() -> (Team, String) {
    let (team, id) = Team::with_approved_operation();
    let (code, report) = verdict(&team.repo);
    assert_eq!(code, Some(0), "{report}");
    (team, id)
}

#[test]
fn an_unchanged_ledger_gives_the_cached_verdict_and_a_deleted_cache_the_same_one() {
    let (team, id) = verified_team();
    let (code, report) = warm_equals_cold(&team.repo);
    assert_eq!(code, Some(0));
    let records = report["records"].as_array().expect("records");
    assert!(
        records
            .iter()
            .any(|r| r["id"] == id.as_str() && r["state"] == "approved"),
        "{report}"
    );
}

#[test]
fn an_edited_record_is_verified_again_and_fails() {
    let (team, id) = verified_team();
    let repo = &team.repo;
    let file = ledger_file_of(&id);
    let original = repo.read(&file);
    let tampered = original.replace("web pods only; no schema change", "web pods only");
    assert_ne!(tampered, original, "nothing to tamper with in\n{original}");
    repo.write(&file, &tampered);
    let (code, report) = warm_equals_cold(repo);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.to_string().contains("bad-signature"), "{report}");
}

#[test]
fn a_changed_policy_is_verified_again() {
    let (team, id) = verified_team();
    let repo = &team.repo;
    // The operation's risk class now needs two approvals: it is pending, not approved.
    let policy = repo.read("ops/policy.yaml");
    let stricter = policy.replace(
        "SERVICE_RESTART:  { approvals: 1 }",
        "SERVICE_RESTART:  { approvals: 2 }",
    );
    assert_ne!(stricter, policy, "no SERVICE_RESTART line in\n{policy}");
    repo.write("ops/policy.yaml", &stricter);
    let (_, report) = warm_equals_cold(repo);
    let record = report["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["id"] == id.as_str())
        .cloned()
        .expect("the record is listed");
    assert_eq!(record["state"], "pending", "{report}");
}

#[test]
fn a_removed_or_rotated_key_is_verified_again() {
    let (team, _) = verified_team();
    let repo = &team.repo;
    let policy = repo.read("ops/policy.yaml");
    let bob = team.bob.public_key();
    assert!(policy.contains(&bob), "bob's key is not in\n{policy}");
    // Rotated: bob's key replaced by another one, which did not sign.
    let other = repo.sb.generate_key("carol");
    let carol = other.public_key();
    repo.write("ops/policy.yaml", &policy.replace(&bob, &carol));
    let (code, rotated) = warm_equals_cold(repo);
    assert_ne!(
        (code, &rotated["findings"]),
        (Some(0), &serde_json::json!([])),
        "bob's signoff still counts under a key he does not hold\n{rotated}"
    );
    // Removed: the line of bob is gone from the policy.
    let removed: String = policy
        .lines()
        .filter(|l| !l.contains(&bob))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(removed, policy);
    repo.write("ops/policy.yaml", &removed);
    let (code, report) = warm_equals_cold(repo);
    assert_ne!(
        code,
        Some(0),
        "a signoff by a removed signer passes\n{report}"
    );
    // Restored: the cached verdict of the original state is not reused blindly either.
    repo.write("ops/policy.yaml", &policy);
    let (code, report) = warm_equals_cold(repo);
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn a_cache_of_another_version_or_a_corrupt_one_is_ignored() {
    let (team, id) = verified_team();
    let repo = &team.repo;
    let path = cache_file(repo);
    let passing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("reading the cache")).expect("JSON");
    // Tamper with the record: its verdict is a failure.
    let file = ledger_file_of(&id);
    let original = repo.read(&file);
    repo.write(
        &file,
        &original.replace("web pods only; no schema change", "web pods only"),
    );
    let (code, cold) = verdict(repo);
    assert_eq!(code, Some(1), "{cold}");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("reading the cache")).expect("JSON");
    // The cache of another version (or format) for the very same key, claiming the old
    // passing verdict: ignored, the verdict is the cold one.
    for (field, value) in [
        ("version", serde_json::json!("0.0.0-other")),
        ("format", serde_json::json!(999)),
    ] {
        let mut forged = written.clone();
        forged["payload"] = passing["payload"].clone();
        forged[field] = value;
        std::fs::write(&path, serde_json::to_vec(&forged).expect("JSON")).expect("writing");
        assert_eq!(
            verdict(repo),
            (code, cold.clone()),
            "a {field} cache was trusted"
        );
    }
    // A corrupt file, an empty one, a directory in its place: a cold run, never an error.
    for bytes in [&b"{not json"[..], b"", b"{\"format\": 1}"] {
        std::fs::write(&path, bytes).expect("writing");
        assert_eq!(verdict(repo), (code, cold.clone()));
    }
    std::fs::remove_file(&path).expect("deleting");
    std::fs::create_dir(&path).expect("a directory in its place");
    assert_eq!(verdict(repo), (code, cold.clone()));
}

#[test]
fn a_new_tag_or_commit_is_verified_again() {
    let (team, id) = verified_team();
    let repo = &team.repo;
    // A lightweight ops tag for the operation: tags are judged, so the verdict must see it.
    repo.git(&["tag", &format!("ops-{id}")]).ok();
    let (code, report) = warm_equals_cold(repo);
    assert_eq!(code, Some(1), "a lightweight ops tag passed\n{report}");
    repo.git(&["tag", "-d", &format!("ops-{id}")]).ok();
    let (code, report) = warm_equals_cold(repo);
    assert_eq!(code, Some(0), "{report}");
}
