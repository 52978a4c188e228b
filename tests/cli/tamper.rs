//! Tampering with an approved ledger: every kind of edit is caught by `git ops verify` (exit 1),
//! while a merely pending record is reported and passes.

use crate::harness::{Out, Team, ledger_file_of};

/// The text without the signoff list item whose first line is `- by: <signer>`.
fn without_signoff(text: &str, signer: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == format!("- by: {signer}") {
            skipping = true;
            continue;
        }
        // The item's other lines are indented; the next item or key is not.
        if skipping && line.starts_with(' ') {
            continue;
        }
        skipping = false;
        out.push_str(line);
    }
    out
}

/// The text without the YAML document that holds `operation_id: <id>`.
fn without_document(text: &str, id: &str) -> String {
    let mut docs: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" || docs.is_empty() {
            docs.push(String::new());
        }
        docs.last_mut().expect("pushed above").push_str(line);
    }
    let key = format!("\noperation_id: {id}\n");
    let kept: Vec<String> = docs.into_iter().filter(|d| !d.contains(&key)).collect();
    kept.concat()
}

fn finding_codes(out: &Out) -> Vec<String> {
    let report = out.json();
    report["findings"]
        .as_array()
        .expect("findings is a list")
        .iter()
        .map(|f| f["code"].as_str().expect("code is a string").to_string())
        .collect()
}

#[test]
fn an_edited_payload_fails_verify_with_a_diff_against_the_tag() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    let file = ledger_file_of(&id);
    let original = repo.read(&file);
    let tampered = original.replace(
        "blast_radius: web pods only; no schema change\n",
        "blast_radius: web pods only\n",
    );
    assert_ne!(tampered, original, "nothing to tamper with in\n{original}");
    repo.write(&file, &tampered);

    let out =
        repo.verify()
            .code(1)
            .says(&["error[bad-signature]", "error[tag-payload-mismatch]", &file]);
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
    assert!(
        lines.contains(&"-blast_radius: web pods only"),
        "no '-' line for the file's payload\n{out}"
    );
    assert!(
        lines.contains(&"+blast_radius: web pods only; no schema change"),
        "no '+' line for the tag's payload\n{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("@@ ")),
        "no hunk header\n{out}"
    );
    // Both signoffs are now over another payload.
    assert_eq!(text.matches("error[bad-signature]").count(), 2, "{out}");

    let json = repo.ops_keyless(&["verify", "--format", "json"]).code(1);
    let codes = finding_codes(&json);
    assert!(
        codes.contains(&"tag-payload-mismatch".to_string()),
        "{codes:?}"
    );
    assert_eq!(json.json()["ok"], false);

    repo.write(&file, &original);
    repo.verify().ok();
}

#[test]
fn a_removed_signoff_fails_verify() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    let file = ledger_file_of(&id);
    let original = repo.read(&file);
    let tampered = without_signoff(&original, "bob");
    assert_ne!(tampered, original);
    assert!(tampered.contains("- by: alice"), "{tampered}");
    repo.write(&file, &tampered);

    repo.verify()
        .code(1)
        .says(&["error[signoff-removed]", "bob"]);
    // The record itself is intact, just back to pending.
    assert_eq!(repo.state_of(&id), "pending");
}

#[test]
fn a_deleted_record_whose_tag_remains_fails_verify() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    let other = repo.declare(&team.alice, "Rotate logs", "SERVICE_RESTART");
    let file = ledger_file_of(&id);
    let original = repo.read(&file);
    let tampered = without_document(&original, &id);
    assert!(!tampered.contains(&id), "{tampered}");
    assert!(tampered.contains(&other), "{tampered}");
    repo.write(&file, &tampered);

    let out = repo
        .verify()
        .code(1)
        .says(&["error[tag-without-record]", &id.to_ascii_lowercase()]);
    // The record that is left is still fine.
    assert!(
        out.stdout().contains(&format!("note[pending]: {other}")),
        "{out}"
    );
}

#[test]
fn a_stray_ops_tag_fails_verify() {
    let (team, _id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.verify().ok();
    repo.git(&["tag", "-a", "ops-foo", "-m", "x"]).ok();
    repo.verify().code(1).says(&["error[stray-tag]", "ops-foo"]);
}

#[test]
fn a_pending_record_is_reported_but_passes() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let file = ledger_file_of(&id);
    let out = repo.verify().ok();
    let expected = format!("{file}:1: note[pending]: {id}: pending, 0 of 1 approvals");
    assert!(out.stdout().contains(&expected), "{out}");
    assert!(
        out.stdout()
            .contains("1 records (0 approved, 1 pending, 0 invalid), 0 tags: verified"),
        "{out}"
    );
    let json = repo.ops_keyless(&["verify", "--format", "json"]).ok();
    assert_eq!(json.json()["ok"], true);
    assert_eq!(finding_codes(&json), ["pending"]);
}
