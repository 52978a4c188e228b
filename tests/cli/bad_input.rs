//! Bad input in the files git-ops reads: every problem is named with its file and line, hostile
//! YAML is refused quickly, and configuration mistakes are exit 2.

use std::time::Duration;

use crate::harness::{Repo, Team, ledger_file_of, run_full};

/// A team with one pending record; returns its ledger file and that file's text.
fn one_record() -> (Team, String, String) {
    let team = Team::new();
    let id = team
        .repo
        .declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let file = ledger_file_of(&id);
    let text = team.repo.read(&file);
    (team, file, text)
}

/// Writes `text` as `file`, runs verify, and expects exit 1 with a schema error at `file:line`.
fn expect_schema_error(repo: &Repo, file: &str, text: &str, line: usize, words: &[&str]) {
    repo.write(file, text);
    let out = repo.verify().code(1);
    let place = format!("{file}:{line}: error[schema]: ");
    let finding = out
        .stdout()
        .lines()
        .find(|l| l.starts_with(&place))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no schema error at {file}:{line}\n{out}"));
    for w in words {
        assert!(finding.contains(w), "{finding:?} lacks {w:?}");
    }
}

/// The 1-based number of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
}

#[test]
fn malformed_yaml_is_named_with_file_and_line() {
    let (team, file, text) = one_record();
    let lines = text.lines().count();
    // The new document's third line is not YAML.
    let bad = format!("{text}---\nrecord: operation\noperation_name: a: b\n");
    expect_schema_error(&team.repo, &file, &bad, lines + 3, &["mapping values"]);
}

#[test]
fn a_duplicate_key_is_refused() {
    let (team, file, text) = one_record();
    let at = line_of(&text, "objective: ");
    let bad = text.replacen(
        "objective: Keep the web tier healthy\n",
        "objective: Keep the web tier healthy\nobjective: something else\n",
        1,
    );
    expect_schema_error(&team.repo, &file, &bad, at + 1, &["duplicate", "objective"]);
}

#[test]
fn an_unknown_field_is_refused_by_name() {
    let (team, file, text) = one_record();
    let at = line_of(&text, "objective: ");
    let bad = text.replacen(
        "objective: Keep the web tier healthy\n",
        "objective: Keep the web tier healthy\nbogus_field: 1\n",
        1,
    );
    expect_schema_error(
        &team.repo,
        &file,
        &bad,
        at + 1,
        &["unknown field", "bogus_field"],
    );
}

#[test]
fn an_unknown_record_kind_is_refused() {
    let (team, file, text) = one_record();
    assert!(text.contains("\nrecord: operation\n"), "{text}");
    let bad = text.replacen("\nrecord: operation\n", "\nrecord: wizard\n", 1);
    expect_schema_error(
        &team.repo,
        &file,
        &bad,
        1,
        &["unknown record kind", "wizard"],
    );
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused_quickly() {
    let (team, file, text) = one_record();
    let repo = &team.repo;
    let mut bomb = String::from("---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let deep_flow = format!("---\nnotes: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let deep_block: String = std::iter::once("---\n".to_string())
        .chain((0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))))
        .chain(std::iter::once(format!("{}v\n", "  ".repeat(200))))
        .collect();
    for (what, doc) in [
        ("alias bomb", bomb),
        ("deep flow nesting", deep_flow),
        ("deep block nesting", deep_block),
    ] {
        repo.write(&file, &format!("{text}{doc}"));
        // The deadline is not a performance target: a parser that expands the bomb or recurses
        // without bound would run out of time or stack long before it.
        let out = run_full(
            repo.sb.ops_command(&repo.dir, None, &["verify"]),
            None,
            Duration::from_secs(10),
        );
        let out = out.code(1);
        assert!(
            out.stdout().contains(&format!("{file}:")) && out.stdout().contains("error[schema]"),
            "{what}: not reported as a schema error in {file}\n{out}"
        );
    }
}

#[test]
fn a_signoff_by_an_unknown_signer_is_refused() {
    let (team, file, text) = one_record();
    let bad = text.replacen("- by: alice\n", "- by: mallory\n", 1);
    assert_ne!(bad, text);
    team.repo.write(&file, &bad);
    team.repo.verify().code(1).says(&[
        "error[unknown-signer]",
        "mallory",
        "not a signer in the policy",
    ]);
}

#[test]
fn signing_a_record_that_does_not_exist_is_a_usage_error() {
    let team = Team::new();
    team.repo
        .ops(&team.bob, &["sign", "OPS-2099-01-01-001"])
        .code(2)
        .says(&["no record OPS-2099-01-01-001"]);
    // Not an id at all: clap's usage error, also 2.
    team.repo.ops(&team.bob, &["sign", "not-an-id"]).code(2);
}

#[test]
fn a_policy_with_an_unknown_field_is_a_configuration_error() {
    let team = Team::new();
    let repo = &team.repo;
    let policy = repo.read("ops/policy.yaml");
    repo.write(
        "ops/policy.yaml",
        &format!("{policy}surprise_field: true\n"),
    );
    for args in [vec!["verify"], vec!["list"]] {
        repo.ops_keyless(&args)
            .code(2)
            .says(&["ops/policy.yaml", "surprise_field"]);
    }
    repo.ops(
        &team.alice,
        &crate::harness::new_args("Restart", "READ_ONLY"),
    )
    .code(2)
    .says(&["ops/policy.yaml"]);
}

#[test]
fn an_io_error_is_exit_3_and_says_its_cause_once() {
    let (team, _file, _text) = one_record();
    let repo = &team.repo;
    std::fs::rename(repo.path("ops/ledger"), repo.path("ledger.moved")).unwrap();
    repo.write("ops/ledger", "not a directory\n");
    let out = repo.verify().code(3).says(&["ops/ledger"]);
    let cause = "Not a directory";
    assert_eq!(
        out.stderr().matches(cause).count(),
        1,
        "the cause should be said once\n{out}"
    );
}

#[test]
fn commands_that_read_a_broken_ledger_say_where_once() {
    let (team, file, text) = one_record();
    let repo = &team.repo;
    let at = line_of(&text, "objective: ");
    let bad = text.replacen(
        "objective: Keep the web tier healthy\n",
        "objective: Keep the web tier healthy\nbogus_field: 1\n",
        1,
    );
    repo.write(&file, &bad);
    let place = format!("{file}: line {}", at + 1);
    for out in [
        repo.ops_keyless(&["list"]),
        repo.ops(&team.bob, &["sign", "OPS-2099-01-01-001"]),
    ] {
        let out = out.code(2).says(&[&place]);
        assert_eq!(
            out.stderr().matches("unknown field `bogus_field`").count(),
            1,
            "the problem should be said once\n{out}"
        );
    }
}

/// Durations too large for the ledger's four-digit years are refused with a message and exit 2,
/// never a panic, and nothing is written.
#[test]
fn overflowing_durations_are_refused_without_a_panic() {
    let team = Team::new();
    let repo = &team.repo;
    let before = repo.records().len();
    for hours in ["4294967295", "70000000"] {
        let mut args = crate::harness::new_args("Too long", "SERVICE_RESTART");
        args.extend(["--expires-in-hours", hours]);
        let out = repo.ops(&team.alice, &args).code(2);
        assert!(
            out.stderr().contains("latest time the ledger can hold"),
            "{out}"
        );
        let out = repo
            .ops(
                &team.alice,
                &[
                    "grant",
                    "create",
                    "--grantee",
                    "bob",
                    "--risk-classes",
                    "SERVICE_RESTART",
                    "--paths",
                    "deploy/",
                    "--services",
                    "web",
                    "--environments",
                    "prod",
                    "--expires-in-hours",
                    hours,
                ],
            )
            .code(2);
        assert!(!out.stderr().contains("panicked"), "{out}");
    }
    let out = repo
        .ops(
            &team.alice,
            &[
                "record",
                "--operation",
                "x",
                "--objective",
                "y",
                "--risk-class",
                "READ_ONLY",
                "--blast-radius",
                "none",
                "--changes-summary",
                "nothing",
                "--evidence-timeout",
                "18446744073709551615",
            ],
        )
        .code(2);
    assert!(!out.stderr().contains("panicked"), "{out}");
    assert_eq!(repo.records().len(), before, "something was written");
}
