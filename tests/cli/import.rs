//! `git ops import`: the seeds' own ledgers (Markdown YAML blocks and flat entries) come in as
//! imported records, attested by the importer and never approvals; idempotent; what cannot be
//! read is reported by file and line.
//!
//! The fixtures in tests/fixtures/seeds/ are copied verbatim from the seeds:
//! `p27-deploy.yaml` and `p27-rollback.yaml` are the "Example Output" blocks of the auto-ledger
//! README (OPS-2026-01-27-011 and -012), `p5-template.yaml` is the "Ledger Entry Format" block of
//! the Ops Governor's P5 section (a template, with placeholders).

use std::path::PathBuf;

use crate::harness::{Repo, Team, run};

const DEPLOY: &str = include_str!("../fixtures/seeds/p27-deploy.yaml");
const ROLLBACK: &str = include_str!("../fixtures/seeds/p27-rollback.yaml");
const TEMPLATE: &str = include_str!("../fixtures/seeds/p5-template.yaml");

/// The seed's `docs/OPS_CHANGELOG.md`: a month section, newest first, fenced YAML blocks, and
/// the P5 template at the end (line numbers below depend on this layout).
fn seed_changelog() -> String {
    format!(
        "# Operations Changelog\n\n## 2026-01\n\n```yaml\n{ROLLBACK}```\n\n```yaml\n{DEPLOY}```\n\n\
         Template:\n\n```yaml\n{TEMPLATE}```\n"
    )
}

/// The line of `needle` in `text` (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
        + 1
}

fn import_records(repo: &Repo) -> Vec<serde_json::Value> {
    repo.records()
        .into_iter()
        .filter(|r| r["kind"] == "import")
        .collect()
}

/// A bare remote with the server hook, as `origin` of the team's repository.
fn bare_remote(team: &Team) -> PathBuf {
    let sb = &team.repo.sb;
    let dir = sb.root.join("remote.git");
    let dir_s = dir.display().to_string();
    let mut c = sb.command("git", &sb.root);
    c.args(["init", "-q", "--bare", &dir_s]);
    run(c).ok();
    run(sb.ops_command(&sb.root, None, &["-C", &dir_s, "hooks", "install"]))
        .ok()
        .says(&["pre-receive"]);
    team.repo.git(&["remote", "add", "origin", &dir_s]).ok();
    dir
}

#[test]
fn the_seeds_changelog_comes_in_once_attested_and_reported() {
    let team = Team::new();
    let repo = &team.repo;
    std::fs::create_dir_all(repo.path("docs")).unwrap();
    let changelog = seed_changelog();
    repo.write("docs/OPS_CHANGELOG.md", &changelog);
    repo.commit_all("The ledger we kept by hand");
    bare_remote(&team);
    repo.git(&["push", "-q", "origin", "main"]).ok();

    // The template cannot be read: reported by file and line, exit 2, the rest imported.
    let template_line = line_of(&changelog, "OPS-YYYY-MM-DD-NNN") - 1;
    let out = repo.ops(&team.alice, &["import"]).code(2).says(&[
        "imported OPS-2026-01-27-011",
        "imported OPS-2026-01-27-012",
        &format!("could not read docs/OPS_CHANGELOG.md:{template_line}"),
        "OPS-YYYY-MM-DD-NNN",
        "2 imported, 0 already there, 1 could not be read",
    ]);
    assert!(!out.text().contains("panicked"), "{out}");
    let ledger = repo.read("ops/ledger/2026-01.yaml");
    assert!(ledger.contains("record: import"), "{ledger}");
    assert!(ledger.contains("role: importer"), "{ledger}");
    assert!(!ledger.contains("role: approver"), "{ledger}");

    // Kept field for field, with where it came from, and attested by alice.
    let deploy = repo
        .ops_keyless(&["show", "OPS-2026-01-27-011", "--format", "json"])
        .ok()
        .json();
    assert_eq!(deploy["record"], "import");
    assert_eq!(deploy["imported_by"], "alice");
    assert_eq!(deploy["entry"]["approved_by"], "SELF");
    assert_eq!(deploy["entry"]["proof_file"]["size_bytes"], 15234);
    assert_eq!(
        deploy["entry"]["services_status"]["quantum-portfolio-clusters"],
        "active"
    );
    assert_eq!(deploy["source"]["file"], "docs/OPS_CHANGELOG.md");
    assert_eq!(
        deploy["source"]["line"],
        line_of(&changelog, "OPS-2026-01-27-011") as u64 - 1
    );
    assert_eq!(deploy["source"]["commit"], repo.rev("HEAD").as_str());
    assert_eq!(deploy["signoffs"][0]["role"], "importer");
    let rollback = repo
        .ops_keyless(&["show", "OPS-2026-01-27-012", "--format", "json"])
        .ok()
        .json();
    assert_eq!(rollback["entry"]["rollback_of"], "OPS-2026-01-27-010");
    assert_eq!(rollback["entry"]["outcome"], "ROLLBACK");
    repo.verify().ok();
    for r in import_records(repo) {
        assert_eq!(r["state"], "imported", "{r}");
    }
    repo.ops_keyless(&["list", "--state", "approved", "--format", "json"])
        .ok()
        .says(&["[]"]);
    // Nobody can approve it after the fact.
    repo.ops(&team.bob, &["sign", "OPS-2026-01-27-011"])
        .code(2)
        .says(&["imported", "cannot be signed"]);
    assert_eq!(repo.read("ops/ledger/2026-01.yaml"), ledger);

    // Twice adds nothing, byte for byte.
    repo.ops(&team.alice, &["import"])
        .code(2)
        .says(&["0 imported, 2 already there, 1 could not be read"]);
    assert_eq!(repo.read("ops/ledger/2026-01.yaml"), ledger);
    repo.commit_all("Import the hand-kept ledger");
    repo.git(&["push", "-q", "origin", "main"]).ok();

    // Bob's clone, where the ledger is written too: importing again adds nothing, and bob
    // importing a file that only names the same ids adds nothing either.
    let bob = repo.clone_to("bob");
    bob.ops(&team.bob, &["import"])
        .code(2)
        .says(&["0 imported, 2 already there"]);
    assert_eq!(bob.read("ops/ledger/2026-01.yaml"), ledger);
    bob.git(&["status", "--porcelain"]).ok();
    assert_eq!(import_records(&bob).len(), 2);
    bob.verify().ok();
}

#[test]
fn a_seed_entry_in_the_ledger_is_named_and_imported_in_place() {
    let team = Team::new();
    let repo = &team.repo;
    std::fs::create_dir_all(repo.path("ops/ledger")).unwrap();
    repo.write("ops/ledger/2026-01.yaml", &format!("{DEPLOY}{ROLLBACK}"));
    // Every reader says what it is and what to do, not "unknown field approved_by".
    for args in [
        &["list"][..],
        &["verify"][..],
        &["show", "OPS-2026-01-27-011"][..],
    ] {
        let out = repo.ops_keyless(args).failed();
        let text = out.text();
        assert!(text.contains("git ops import"), "{args:?}: {out}");
        assert!(text.contains("ops/ledger/2026-01.yaml"), "{args:?}: {out}");
        assert!(!text.contains("unknown field"), "{args:?}: {out}");
    }
    repo.ops(&team.alice, &["import"])
        .ok()
        .says(&["2 imported", "ops/ledger/2026-01.yaml"]);
    let text = repo.read("ops/ledger/2026-01.yaml");
    assert!(!text.contains("\napproved_by"), "{text}");
    assert_eq!(import_records(repo).len(), 2);
    repo.verify().ok();
    repo.commit_all("Import the flat entries");
    repo.ops(&team.alice, &["import"])
        .ok()
        .says(&["0 imported"]);
    assert_eq!(repo.read("ops/ledger/2026-01.yaml"), text);
}

#[test]
fn an_imported_approval_covers_nothing_at_the_server() {
    let team = Team::new();
    let repo = &team.repo;
    bare_remote(&team);
    repo.git(&["push", "-q", "origin", "main"]).ok();
    // A hand-kept entry that claims exactly the change below, approved by alice.
    let claimed = "---\noperation_id: OPS-2026-01-14-001\noperation_name: Scale web\n\
                   requested_by: alice\napproved_by: alice\n\
                   approval_timestamp: 2026-01-14T10:00:00Z\nrisk_class: LOW_RISK_CONFIG\n\
                   blast_radius: web\nrollback_ref: git revert\nallowed_paths:\n  - deploy/web.yaml\n\
                   allowed_services:\n  - web\noutcome: SUCCESS\n";
    repo.write("hand-ledger.yaml", claimed);
    repo.ops(&team.alice, &["import", "hand-ledger.yaml"])
        .ok()
        .says(&["imported OPS-2026-01-14-001"]);
    repo.commit_all("Import the hand-kept entry");
    repo.git(&["push", "-q", "origin", "main"]).ok();

    // Claimed as the approval of a change, past every client hook: the server refuses.
    repo.write("deploy/web.yaml", "replicas: 5\n");
    repo.git(&["add", "-A"]).ok();
    repo.git(&[
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "Scale web\n\nOps-Id: OPS-2026-01-14-001",
    ])
    .ok();
    repo.git(&["push", "--no-verify", "origin", "main"])
        .failed()
        .says(&[
            "remote:",
            "deploy/web.yaml",
            "imported",
            "pre-receive hook declined",
        ]);
    // verify says the same in CI.
    repo.ops_keyless(&["verify", "--range", "origin/main..HEAD"])
        .code(1)
        .says(&["imported"]);
}
