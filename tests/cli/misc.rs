//! `git ops demo`, and output that must not let ledger text drive the terminal.

use crate::harness::{Sandbox, Team, new_args, run};

#[test]
fn demo_tells_the_whole_story_in_a_fresh_directory() {
    let sb = Sandbox::new();
    let dir = sb.root.join("demo");
    let target = dir.display().to_string();
    let out = run(sb.ops_command(&sb.root, None, &["demo", &target]))
        .ok()
        .says(&[
            "Good \"git\" signature",
            "Good \"git-ops\" signature",
            "error[tag-payload-mismatch]",
        ]);
    assert!(dir.join("repo/ops/policy.yaml").is_file(), "{out}");

    // A directory with something in it is never used.
    let busy = sb.root.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("precious.txt"), "keep me\n").unwrap();
    let busy_arg = busy.display().to_string();
    run(sb.ops_command(&sb.root, None, &["demo", &busy_arg]))
        .code(2)
        .says(&["not empty"]);
    let left: Vec<_> = std::fs::read_dir(&busy).unwrap().collect();
    assert_eq!(left.len(), 1, "the demo wrote into a non-empty directory");
}

#[test]
fn ledger_text_cannot_send_terminal_escapes() {
    let team = Team::new();
    let repo = &team.repo;
    let evil = "evil\x1b[31m\u{202e}";
    let mut args = new_args(evil, "SERVICE_RESTART");
    args.extend(["--notes", "line one\x1b]0;pwned\x07"]);
    let out = repo.ops(&team.alice, &args).ok();
    let id = out.stdout().trim().to_string();
    assert!(
        repo.read(&crate::harness::ledger_file_of(&id))
            .contains("evil"),
        "the record was not written"
    );
    repo.ops(&team.bob, &["sign", &id]).ok();

    for args in [
        vec!["list"],
        vec!["log"],
        vec!["show", &id],
        vec!["show", &id, "--format", "seed"],
        vec!["show", &id, "--format", "json"],
        vec!["list", "--format", "json"],
        vec!["verify"],
    ] {
        let out = repo.ops_keyless(&args).ok();
        assert!(
            !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
            "raw ESC in the output of git ops {}\n{out}",
            args.join(" ")
        );
        // JSON is for programs, which see `\u{202e}` as data; text is for terminals.
        let json = args.contains(&"json");
        assert!(
            json || !out.stdout().contains('\u{202e}'),
            "raw bidi override in git ops {}\n{out}",
            args.join(" ")
        );
        if args[0] != "verify" {
            assert!(out.stdout().contains("evil"), "{out}");
        }
    }
    // The tag's title line is sanitised too.
    let tag = id.to_ascii_lowercase();
    let subject = repo
        .git(&["tag", "-l", "--format=%(contents:subject)", &tag])
        .ok();
    assert!(!subject.stdout.contains(&0x1b), "{subject}");
}

/// A shallow clone (CI's default fetch depth) cannot check history: `verify --history` says so
/// and how to fetch it, with the configuration exit code, instead of "missing commit".
#[test]
fn verify_history_in_a_shallow_clone_names_the_fetch_depth() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all(&format!("Approve {id}"));
    let url = format!("file://{}", repo.path("").display());
    let shallow = repo.sb.root.join("shallow");
    repo.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        &url,
        &shallow.display().to_string(),
    ])
    .ok();
    let out = run(repo
        .sb
        .ops_command(&shallow, None, &["verify", "--history"]))
    .code(2)
    .says(&["shallow clone", "git fetch --unshallow", "fetch-depth: 0"]);
    assert!(!out.text().contains("missing commit"), "{}", out.text());
}
