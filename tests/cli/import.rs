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

    // Stock ssh-keygen checks the importer's attestation over the exact statement bytes.
    let allowed = repo.sb.root.join("allowed_signers").display().to_string();
    repo.ops_keyless(&["keys", "allowed-signers", "--out", &allowed])
        .ok();
    let show = |extra: &[&str]| {
        let mut args = vec!["show", "OPS-2026-01-27-011", "--statement", "--by", "alice"];
        args.extend_from_slice(extra);
        repo.ops_keyless(&args).ok().stdout
    };
    let statement = show(&["--role", "importer"]);
    let st: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(st["role"], "importer");
    let sig_file = repo.sb.root.join("importer.sig");
    std::fs::write(&sig_file, show(&["--role", "importer", "--sig"])).unwrap();
    let ssh_verify = |data: &[u8]| {
        let mut c = repo.sb.command("ssh-keygen", &repo.dir);
        c.args([
            "-Y", "verify", "-n", "git-ops", "-f", &allowed, "-I", "alice", "-s",
        ])
        .arg(&sig_file);
        crate::harness::run_input(c, data)
    };
    ssh_verify(&statement)
        .ok()
        .says(&["Good \"git-ops\" signature for alice"]);
    let mut tampered = statement.clone();
    tampered.extend_from_slice(b" ");
    ssh_verify(&tampered).failed();

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
    // Every command says what it is and what to do, not "unknown field approved_by".
    let new = crate::harness::new_args("Restart", "SERVICE_RESTART");
    for args in [
        &["list"][..],
        &["verify"][..],
        &["status"][..],
        &["show", "OPS-2026-01-27-011"][..],
        &new[..],
    ] {
        let out = repo.ops(&team.alice, args).failed();
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

    // The same id pasted in again with other content is not dropped: reported, left in place.
    let edited = DEPLOY.replace("outcome: SUCCESS", "outcome: PARTIAL");
    let with_copy = format!("{text}{edited}");
    repo.write("ops/ledger/2026-01.yaml", &with_copy);
    repo.ops(&team.alice, &["import"]).code(2).says(&[
        "could not read ops/ledger/2026-01.yaml:",
        "OPS-2026-01-27-011 is already in the ledger as another record",
    ]);
    assert_eq!(repo.read("ops/ledger/2026-01.yaml"), with_copy);
    // The very same entry again is recognised and taken out.
    repo.write("ops/ledger/2026-01.yaml", &format!("{text}{DEPLOY}"));
    repo.ops(&team.alice, &["import"])
        .ok()
        .says(&["0 imported, 1 already there"]);
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

    // Nor does a tag, signed by a signer, that calls the imported entry approved.
    repo.git(&["reset", "-q", "--hard", "origin/main"]).ok();
    let ledger = repo.read("ops/ledger/2026-01.yaml");
    let doc = &ledger[ledger.find("---\nrecord: import").unwrap()..];
    let msg = repo.sb.root.join("tag-message");
    std::fs::write(&msg, format!("OPS-2026-01-14-001: Scale web\n\n{doc}")).unwrap();
    let key = team.alice.path.display().to_string();
    let msg = msg.display().to_string();
    repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("user.signingKey={key}"),
        "tag",
        "-s",
        "ops-2026-01-14-001",
        "-F",
        &msg,
    ])
    .ok();
    repo.git(&[
        "push",
        "--no-verify",
        "origin",
        "refs/tags/ops-2026-01-14-001",
    ])
    .failed()
    .says(&[
        "remote:",
        "tag-unapproved",
        "not an operation",
        "pre-receive hook declined",
    ]);
}

/// The YAML blocks of a Markdown changelog, parsed, by operation_id.
fn changelog_blocks(text: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    git_ops::engine::import::markdown_blocks(text)
        .into_iter()
        .map(|(line, doc)| {
            let v: serde_json::Value = serde_saphyr::from_str(&doc)
                .unwrap_or_else(|e| panic!("block at line {line}: {e}\n{doc}"));
            (v["operation_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn seed_view(repo: &Repo, id: &str) -> serde_json::Value {
    let out = repo
        .ops_keyless(&["show", id, "--format", "seed"])
        .ok()
        .stdout();
    serde_saphyr::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

#[test]
fn seed_view_and_changelog_follow_the_seed_and_carry_outcomes() {
    let team = Team::new();
    let repo = &team.repo;
    let mut args = crate::harness::new_args("Restart web", "SERVICE_RESTART");
    args.retain(|a| *a != "web");
    args.extend(["web", "api"]);
    let out = repo.ops(&team.alice, &args).ok();
    let id = out.stdout().trim().to_string();
    repo.ops(&team.bob, &["sign", &id]).ok();

    // The seed's names and layout.
    let v = seed_view(repo, &id);
    assert_eq!(v["rollback_ref"], "git revert and redeploy", "{v}");
    assert!(v.get("rollback_strategy").is_none(), "{v}");
    assert_eq!(v["requested_by"], "alice");
    assert_eq!(v["approved_by"], "bob");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    assert!(
        at("operation_id") < at("requested_by")
            && at("approval_timestamp") < at("risk_class")
            && at("objective") < at("rollback_ref")
            && at("rollback_ref") < at("allowed_paths"),
        "{keys:?}"
    );

    // Closed with an outcome (and evidence): the changelog the flag keeps shows it.
    repo.ops(
        &team.alice,
        &[
            "close",
            &id,
            "--outcome",
            "PARTIAL",
            "--notes",
            "api stayed on the old build",
            "--changelog",
        ],
    )
    .ok()
    .says(&["wrote docs/OPS_CHANGELOG.md"]);
    let text = repo.read("docs/OPS_CHANGELOG.md");
    let blocks = changelog_blocks(&text);
    let b = &blocks[&id];
    assert_eq!(b["outcome"], "PARTIAL", "{b}");
    assert!(b["outcome_id"].as_str().unwrap().starts_with("OUT-"), "{b}");
    assert_eq!(b["outcome_notes"], "api stayed on the old build");
    assert!(b["execution_timestamp"].is_string(), "{b}");
    // services_status as the seed writes it: service: state.
    let services = b["services_status"].as_object().expect("services_status");
    assert_eq!(services.keys().collect::<Vec<_>>(), ["api", "web"]);
    assert!(services.values().all(|s| s.is_string()), "{b}");
    assert_eq!(seed_view(repo, &id)["outcome"], "PARTIAL");

    // A rollback through the flag: its own block, pointing at the operation.
    let rb = repo
        .ops(&team.alice, &["rollback", &id, "--changelog"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    let blocks = changelog_blocks(&repo.read("docs/OPS_CHANGELOG.md"));
    assert_eq!(blocks[&rb]["rollback_of"], id.as_str());
    assert_eq!(blocks[&rb]["outcome"], "ROLLBACK");
    assert_eq!(blocks.len(), 2);
}

#[test]
fn the_changelog_imports_back_to_nothing_new() {
    // x: a ledger with an imported entry and native records.
    let team = Team::new();
    let repo = &team.repo;
    std::fs::create_dir_all(repo.path("docs")).unwrap();
    repo.write(
        "docs/OPS_CHANGELOG.md",
        &format!("## 2026-01\n\n```yaml\n{DEPLOY}```\n"),
    );
    repo.ops(&team.alice, &["import"]).ok();
    let native = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    repo.ops(&team.bob, &["sign", &native]).ok();
    let mut args = vec!["record", "--operation", "Tune web", "--objective", "o"];
    args.extend([
        "--risk-class",
        "LOW_RISK_CONFIG",
        "--blast-radius",
        "web",
        "--changes-summary",
        "tuned",
        "--allowed-paths",
        "deploy/",
        "--changelog",
    ]);
    repo.ops(&team.alice, &args).ok();
    let changelog = repo.read("docs/OPS_CHANGELOG.md");
    let ids: Vec<String> = changelog_blocks(&changelog).into_keys().collect();
    assert_eq!(ids.len(), 3, "{changelog}");
    repo.commit_all("Ledger and changelog");

    // import(changelog(x)) in x: nothing new, nothing rewritten.
    let ledger_before = std::fs::read_dir(repo.path("ops/ledger"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    repo.ops(&team.alice, &["import", "docs/OPS_CHANGELOG.md"])
        .ok()
        .says(&["0 imported, 3 already there"]);
    let ledger_after = std::fs::read_dir(repo.path("ops/ledger"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(ledger_before, ledger_after);
    repo.git(&["status", "--porcelain"])
        .ok()
        .stdout()
        .is_empty()
        .then_some(())
        .expect("import changed the work tree");

    // In another team's repository it all comes in once, and its own changelog imports back
    // to nothing new.
    let other = Team::new();
    let o = &other.repo;
    std::fs::create_dir_all(o.path("docs")).unwrap();
    o.write("docs/OPS_CHANGELOG.md", &changelog);
    o.ops(&other.alice, &["import"])
        .ok()
        .says(&["3 imported, 0 already there"]);
    assert_eq!(import_records(o).len(), 3);
    o.ops(
        &other.alice,
        &["changelog", "--out", "docs/OPS_CHANGELOG.md"],
    )
    .ok();
    let again = o.read("docs/OPS_CHANGELOG.md");
    let blocks = changelog_blocks(&again);
    assert_eq!(
        blocks.keys().collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>()
    );
    assert_eq!(blocks["OPS-2026-01-27-011"]["approved_by"], "SELF");
    o.ops(&other.alice, &["import"])
        .ok()
        .says(&["0 imported, 3 already there"]);
}

#[test]
fn a_hand_kept_changelog_is_not_overwritten_before_import() {
    let team = Team::new();
    let repo = &team.repo;
    std::fs::create_dir_all(repo.path("docs")).unwrap();
    let hand = format!("## 2026-01\n\n```yaml\n{DEPLOY}```\n");
    repo.write("docs/OPS_CHANGELOG.md", &hand);
    let args = [
        "record",
        "--operation",
        "Tune web",
        "--objective",
        "o",
        "--risk-class",
        "LOW_RISK_CONFIG",
        "--blast-radius",
        "web",
        "--changes-summary",
        "tuned",
        "--allowed-paths",
        "deploy/",
        "--changelog",
    ];
    repo.ops(&team.alice, &args)
        .code(2)
        .says(&["OPS-2026-01-27-011", "git ops import"]);
    assert_eq!(repo.read("docs/OPS_CHANGELOG.md"), hand);
    assert!(
        repo.records().is_empty(),
        "nothing is recorded when the changelog would lose entries"
    );
    repo.ops_keyless(&["changelog", "--out", "docs/OPS_CHANGELOG.md"])
        .code(2)
        .says(&["git ops import"]);
    repo.ops(&team.alice, &["import"]).ok();
    repo.ops(&team.alice, &args).ok();
    let blocks = changelog_blocks(&repo.read("docs/OPS_CHANGELOG.md"));
    assert_eq!(blocks.len(), 2);
}

#[test]
fn one_bad_document_is_named_while_the_others_are_listed_and_writes_refuse_the_month() {
    let team = Team::new();
    let repo = &team.repo;
    let a = repo.declare(&team.alice, "First", "SERVICE_RESTART");
    let b = repo.declare(&team.alice, "Second", "SERVICE_RESTART");
    let c = repo.declare(&team.alice, "Third", "SERVICE_RESTART");
    let file = crate::harness::ledger_file_of(&b);
    let text = repo.read(&file);
    let start = text.find(&format!("operation_id: {b}")).unwrap();
    let broken = format!(
        "{}{}",
        &text[..start],
        text[start..].replacen("objective: ", "bogus_field: 1\nobjective: ", 1)
    );
    repo.write(&file, &broken);
    let doc_line = broken
        .lines()
        .position(|l| l.starts_with("bogus_field"))
        .unwrap()
        + 1;

    let out = repo.ops_keyless(&["list"]).code(2);
    let (stdout, stderr) = (out.stdout(), out.stderr());
    assert!(stdout.contains(&a) && stdout.contains(&c), "{out}");
    assert!(!stdout.contains(&b), "{out}");
    assert!(
        stderr.contains(&format!("{file}: line {doc_line}: {b}")) && stderr.contains("bogus_field"),
        "{out}"
    );
    let json = repo
        .ops_keyless(&["list", "--format", "json"])
        .code(2)
        .json();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // The others can be shown; the bad one is named with its line.
    repo.ops_keyless(&["show", &a])
        .ok()
        .says(&["First", &format!("warning: {file}: line {doc_line}: {b}")]);
    repo.ops_keyless(&["show", &b])
        .code(2)
        .says(&[&format!("{b} does not read"), "bogus_field"]);

    // Writes refuse the month, with file, line and field.
    repo.ops(
        &team.alice,
        &crate::harness::new_args("Fourth", "SERVICE_RESTART"),
    )
    .code(2)
    .says(&[&file, "bogus_field"]);
    repo.ops(&team.bob, &["sign", &a])
        .code(2)
        .says(&[&file, "bogus_field"]);
    assert_eq!(repo.read(&file), broken);
}
