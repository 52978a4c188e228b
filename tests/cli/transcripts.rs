//! Transcripts of output that is a contract: scripts, CI logs and people read `verify`, `status`
//! and the pre-commit hook's rejection. Each test compares the whole of stdout and stderr with
//! the text written here, after replacing what varies from run to run (ids that carry today's
//! date, commit ids, times, the sandbox's path) with named placeholders.

use crate::harness::{Out, Repo, Sandbox, Team, ledger_file_of};

/// Replaces what varies between runs in `text`: each `(value, placeholder)` of `known` first
/// (longest first, so an id is not eaten by its prefix), then every RFC 3339 UTC time with
/// `<TIME>` and every `4h59m`-style duration with `<LEFT>`.
fn normalise(text: &str, known: &[(String, &str)]) -> String {
    let mut known: Vec<&(String, &str)> = known.iter().filter(|(v, _)| !v.is_empty()).collect();
    known.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    let mut s = text.to_string();
    for (value, placeholder) in known {
        s = s.replace(value.as_str(), placeholder);
    }
    replace_shapes(&s)
}

/// `<TIME>` for `dddd-dd-ddTdd:dd:ddZ`, `<LEFT>` for `d+hddm`.
fn replace_shapes(s: &str) -> String {
    const TIME: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let b = s.as_bytes();
    let fits = |at: usize, shape: &[u8]| {
        b.len() >= at + shape.len()
            && shape.iter().zip(&b[at..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                p => p == c,
            })
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if fits(i, TIME) {
            out.push_str("<TIME>");
            i += TIME.len();
            continue;
        }
        // A duration: digits, `h`, two digits, `m`, not inside a word.
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let starts_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if digits > 0 && starts_word && fits(i + digits, b"hddm") {
            let end = i + digits + 4;
            if end == b.len() || !b[end].is_ascii_alphanumeric() {
                out.push_str("<LEFT>");
                i = end;
                continue;
            }
        }
        let ch = s[i..].chars().next().expect("i is on a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Asserts the exit code and the whole of stdout and stderr (normalised).
#[track_caller]
fn transcript(out: &Out, known: &[(String, &str)], code: i32, stdout: &str, stderr: &str) {
    let got_out = normalise(&out.stdout(), known);
    let got_err = normalise(&out.stderr(), known);
    assert_eq!(
        (out.code, got_out.as_str(), got_err.as_str()),
        (Some(code), stdout, stderr),
        "transcript differs\n{out}"
    );
}

/// The values every transcript of `repo` replaces: the sandbox path and the HEAD commit.
fn known_of(repo: &Repo) -> Vec<(String, &'static str)> {
    let head = repo.rev("HEAD");
    vec![
        (repo.sb.root.display().to_string(), "<SANDBOX>"),
        (head[..10].to_string(), "<HEAD>"),
    ]
}

#[test]
fn verify_text_of_a_clean_ledger() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Declare and approve");
    let mut known = known_of(repo);
    known.push((id.clone(), "<OPS>"));
    transcript(
        &repo.verify(),
        &known,
        0,
        "1 records (1 approved, 0 pending, 0 invalid), 1 tags: verified\n",
        "",
    );
}

/// The approved operation's blast radius, edited in the file after the fact.
fn tamper(repo: &Repo, id: &str) {
    let file = ledger_file_of(id);
    let original = repo.read(&file);
    let tampered = original.replace(
        "blast_radius: web pods only; no schema change\n",
        "blast_radius: web pods only\n",
    );
    assert_ne!(tampered, original, "nothing to tamper with in\n{original}");
    repo.write(&file, &tampered);
}

#[test]
fn verify_text_of_a_tampered_record() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    tamper(repo, &id);
    let mut known = known_of(repo);
    known.push((id.clone(), "<OPS>"));
    known.push((id.to_ascii_lowercase(), "<ops>"));
    known.push((ledger_file_of(&id), "<LEDGER>"));
    transcript(
        &repo.verify(),
        &known,
        1,
        r#"<LEDGER>:1: error[bad-signature]: <OPS>: signoff by alice (requester): signature does not verify
<LEDGER>:1: error[bad-signature]: <OPS>: signoff by bob (approver): signature does not verify
<LEDGER>:1: error[tag-unapproved]: tag <ops> exists, but <OPS> is not approved
<LEDGER>:1: error[tag-payload-mismatch]: tag <ops> and the ledger file disagree on the payload of <OPS>
    --- <LEDGER> (<OPS>)
    +++ refs/tags/<ops>
    @@ -4,5 +4,5 @@
     objective: Keep the web tier healthy
     risk_class: SERVICE_RESTART
    -blast_radius: web pods only
    +blast_radius: web pods only; no schema change
     rollback_strategy: git revert and redeploy
     allowed_paths:
1 records (0 approved, 0 pending, 1 invalid), 1 tags: FAILED with 4 errors
"#,
        "",
    );
}

#[test]
fn verify_json_names_its_keys_and_finding_codes() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    tamper(repo, &id);
    let mut known = known_of(repo);
    known.push((id.clone(), "<OPS>"));
    known.push((id.to_ascii_lowercase(), "<ops>"));
    known.push((ledger_file_of(&id), "<LEDGER>"));
    let out = repo.ops_keyless(&["verify", "--format", "json"]);
    transcript(
        &out,
        &known,
        1,
        r#"{
  "ok": false,
  "errors": 4,
  "findings": [
    {
      "severity": "error",
      "code": "bad-signature",
      "file": "<LEDGER>",
      "line": 1,
      "record": "<OPS>",
      "message": "<OPS>: signoff by alice (requester): signature does not verify"
    },
    {
      "severity": "error",
      "code": "bad-signature",
      "file": "<LEDGER>",
      "line": 1,
      "record": "<OPS>",
      "message": "<OPS>: signoff by bob (approver): signature does not verify"
    },
    {
      "severity": "error",
      "code": "tag-unapproved",
      "file": "<LEDGER>",
      "line": 1,
      "record": "<OPS>",
      "message": "tag <ops> exists, but <OPS> is not approved"
    },
    {
      "severity": "error",
      "code": "tag-payload-mismatch",
      "file": "<LEDGER>",
      "line": 1,
      "record": "<OPS>",
      "message": "tag <ops> and the ledger file disagree on the payload of <OPS>",
      "diff": "--- <LEDGER> (<OPS>)\n+++ refs/tags/<ops>\n@@ -4,5 +4,5 @@\n objective: Keep the web tier healthy\n risk_class: SERVICE_RESTART\n-blast_radius: web pods only\n+blast_radius: web pods only; no schema change\n rollback_strategy: git revert and redeploy\n allowed_paths:\n"
    }
  ],
  "records": [
    {
      "id": "<OPS>",
      "kind": "operation",
      "state": "invalid",
      "approvals": 0,
      "required": 1,
      "file": "<LEDGER>",
      "line": 1
    }
  ],
  "tags": 1
}
"#,
        "",
    );
}

#[test]
fn verify_range_and_history_note_what_they_checked() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Declare and approve");
    let root = repo.rev("HEAD~1");
    let mut known = known_of(repo);
    known.push((id.clone(), "<OPS>"));
    known.push((root.clone(), "<ROOT>"));
    let out = repo.ops_keyless(&["verify", "--range", "HEAD~1.."]);
    transcript(
        &out,
        &known,
        0,
        "checked 1 commits in HEAD~1..\n1 commits: verified\n",
        "",
    );
    // The harness dates every commit 2026-01-15, before the signoffs were made: judged as
    // history, at each commit's own time, the signoffs are in the future.
    // The operation's id carries today's date, which is after each commit's own time too.
    known.push((ledger_file_of(&id), "<LEDGER>"));
    let id_date = format!("dated {}, in the future", &id[4..14]);
    known.push((id_date, "dated <DATE>, in the future"));
    let out = repo.ops_keyless(&["verify", "--history", "--format", "github"]);
    transcript(
        &out,
        &known,
        1,
        "::notice::checked the ledger history of 2 commits\n\
         ::notice::trust root: <ROOT> (the first commit that added the policy; pin it with --trust-root or git config ops.trustRoot)\n\
         ::error file=<LEDGER>,line=1,title=git-ops id-date::[<HEAD>] <OPS>: its id is dated <DATE>, in the future\n\
         ::error file=<LEDGER>,line=1,title=git-ops future-signoff::[<HEAD>] <OPS>: signoff by alice is dated <TIME>, in the future\n\
         ::error file=<LEDGER>,line=1,title=git-ops future-signoff::[<HEAD>] <OPS>: signoff by bob is dated <TIME>, in the future\n\
         git-ops verify: FAILED with 3 errors\n",
        "",
    );
}

#[test]
fn verify_usage_errors_say_what_was_wrong() {
    let team = Team::new();
    let repo = &team.repo;
    let known = known_of(repo);
    let out = repo.ops_keyless(&["verify", "--range", "main"]);
    let err = "git-ops: error: --range \"main\": expected A..B\n";
    transcript(&out, &known, 2, "", err);
    let out = repo.ops_keyless(&["verify", "--range", "nope..main"]);
    let err = "git-ops: error: --range: unknown base \"nope\"\n";
    transcript(&out, &known, 2, "", err);
    let out = repo.ops_keyless(&["verify", "--range", "main..nope"]);
    let err = "git-ops: error: --range: unknown tip \"nope\"\n";
    transcript(&out, &known, 2, "", err);
    let out = repo.ops_keyless(&["verify", "--history", "--trust-root", "nope"]);
    let err = "git-ops: error: unknown trust root \"nope\": no such commit\n";
    transcript(&out, &known, 2, "", err);
}

/// Like [`Team::new`], with an automation signer `bot` in the policy it commits.
fn team_with_bot() -> Team {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let bob = sb.generate_key("bob");
    let bot = sb.generate_key("bot");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    for (name, key, role) in [("bob", &bob, "human,approver"), ("bot", &bot, "automation")] {
        let public = key.pub_path().display().to_string();
        repo.ops(&alice, &["keys", "add", name, &public, "--role", role])
            .ok();
    }
    std::fs::create_dir_all(repo.path("deploy")).expect("creating deploy/");
    repo.write("deploy/web.yaml", "replicas: 2\n");
    repo.commit_all("Adopt git-ops");
    Team { repo, alice, bob }
}

#[test]
fn status_ok_with_a_live_grant_and_a_waiting_operation() {
    let team = team_with_bot();
    let repo = &team.repo;
    let grant = repo
        .ops(
            &team.alice,
            &[
                "grant",
                "create",
                "--grantee",
                "bot",
                "--risk-classes",
                "SERVICE_RESTART",
                "--paths",
                "deploy/",
                "--services",
                "web",
                "--environments",
                "prod",
                "--expires-in-hours",
                "5",
            ],
        )
        .ok()
        .stdout()
        .trim()
        .to_string();
    repo.ops(&team.bob, &["sign", &grant]).ok();
    let waiting = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let mut known = known_of(repo);
    known.push((grant.clone(), "<GRANT>"));
    known.push((waiting.clone(), "<OPS>"));
    transcript(
        &repo.ops_keyless(&["status"]),
        &known,
        0,
        "posture: OK\n\
         active grants: 1\n  \
         <GRANT> to bot (<LEFT> left)\n\
         waiting for approval: 1\n  \
         <OPS> (0 of 1 approvals)\n",
        "",
    );
}

#[test]
fn status_halted() {
    let team = Team::new();
    let repo = &team.repo;
    let halt = repo
        .ops(&team.alice, &["halt", "--reason", "incident INC-42"])
        .ok()
        .stdout()
        .trim()
        .to_string();
    let mut known = known_of(repo);
    known.push((halt.clone(), "<HALT>"));
    transcript(
        &repo.ops_keyless(&["status"]),
        &known,
        0,
        "posture: HALTED\n\
         last halt: <HALT> at <TIME>: incident INC-42\n\
         active grants: 0\n\
         waiting for approval: 0\n",
        "",
    );
}

#[test]
fn pre_commit_rejects_an_uncovered_governed_commit() {
    let team = Team::new();
    let repo = &team.repo;
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.git(&["add", "-A"]).ok();
    let out = repo.git(&["commit", "-q", "-m", "Scale web"]);
    let known = known_of(repo);
    transcript(
        &out,
        &known,
        1,
        "",
        r#"git-ops: commit rejected (1); your staged change is kept as it is:
  deploy/web.yaml: error[uncovered]: deploy/web.yaml is governed (deploy/**; min risk LOW_RISK_CONFIG) and no approved, live operation linked to this change covers it; no operation is linked (add one in the same change, or an Ops-Id trailer)
To fix it, declare an operation that covers these paths, get it approved, and link it:
  git ops new --operation '<name>' --objective '<why>' --risk-class LOW_RISK_CONFIG --blast-radius '<what can break>' \
      --rollback-strategy '<how to revert>' --allowed-paths deploy/web.yaml --allowed-services
  git ops sign <id>     # by an approver, when the risk class needs approvals
  git ops use <id>      # your next commits carry `Ops-Id: <id>`
If an approved operation already covers them: git ops use <id>
"#,
    );
}

#[test]
fn the_normaliser_replaces_times_durations_and_known_values_only() {
    let known = vec![
        ("OPS-2026-12-02-001".to_string(), "<OPS>"),
        ("OPS-2026-12-02-0011".to_string(), "<LONGER>"),
    ];
    assert_eq!(
        normalise(
            "OPS-2026-12-02-0011 OPS-2026-12-02-001 at 2026-12-02T16:13:51Z (4h59m left, 12h05m) \
             sha1h22m 2026-12-02 5h0m",
            &known
        ),
        "<LONGER> <OPS> at <TIME> (<LEFT> left, <LEFT>) sha1h22m 2026-12-02 5h0m"
    );
}
