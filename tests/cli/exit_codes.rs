//! Exit codes are a contract (docs/CLI-ERRORS.md): one row per kind of fault, run through every
//! command that can meet it, each asserting the code and the message that names the fault.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Key, Repo, Sandbox, Team, ledger_file_of, new_args, run};

const UNKNOWN_ID: &str = "OPS-2099-01-01-001";

#[test]
fn an_unknown_record_id_is_a_usage_error_for_every_command_that_takes_one() {
    let team = Team::new();
    let repo = &team.repo;
    repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    for command in ["show", "sign", "use", "report", "runbook"] {
        repo.ops(&team.bob, &[command, UNKNOWN_ID])
            .code(2)
            .says(&[UNKNOWN_ID]);
    }
}

#[test]
fn outside_a_repository_is_a_usage_error() {
    let sb = Sandbox::new();
    let plain = sb.root.join("plain");
    std::fs::create_dir_all(&plain).expect("creating a plain directory");
    for command in ["list", "status", "verify"] {
        run(sb.ops_command(&plain, None, &[command]))
            .code(2)
            .says(&["not inside a git repository"]);
    }
}

/// A ledger file that does not parse fails `verify` (1) and is a configuration problem (2) for
/// every command that needs to read it, whatever way it fails to parse.
#[test]
fn a_ledger_file_that_does_not_parse_fails_verify_and_stops_other_commands() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let file = ledger_file_of(&id);
    let text = repo.read(&file);
    let broken: [(&str, Vec<u8>); 3] = [
        (
            "not YAML",
            format!("{text}---\nrecord: operation\noperation_name: a: b\n").into_bytes(),
        ),
        (
            "an unknown field",
            text.replacen("objective: ", "bogus: 1\nobjective: ", 1)
                .into_bytes(),
        ),
        (
            "not text",
            b"record: operation\nobjective: \xff\xfe\n".to_vec(),
        ),
    ];
    for (what, bytes) in broken {
        std::fs::write(repo.path(&file), &bytes).expect("writing the broken ledger file");
        let verify = repo.verify();
        assert_eq!(verify.code, Some(1), "verify of {what}\n{verify}");
        let mut new = new_args("Another", "READ_ONLY");
        new.extend(["--notes", what]);
        for (command, out) in [
            ("list", repo.ops_keyless(&["list"])),
            ("status", repo.ops_keyless(&["status"])),
            ("new", repo.ops(&team.alice, &new)),
        ] {
            assert_eq!(out.code, Some(2), "{command} with {what}\n{out}");
            assert!(
                out.stderr().contains(&file),
                "{command} with {what} does not name {file}\n{out}"
            );
        }
    }
}

#[test]
fn a_key_file_that_cannot_be_used_is_a_usage_error() {
    let team = Team::new();
    let repo = &team.repo;
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let missing = Key {
        path: repo.sb.root.join("keys/nobody"),
    };
    let not_a_key = Key {
        path: repo.sb.root.join("keys/not-a-key"),
    };
    std::fs::write(&not_a_key.path, "this is no key\n").expect("writing a file that is no key");
    let a_directory = Key {
        path: repo.sb.root.join("keys"),
    };
    for key in [&missing, &not_a_key, &a_directory] {
        let shown = key.path.display().to_string();
        repo.ops(key, &["sign", &id]).code(2).says(&[&shown]);
        repo.ops(key, &new_args("Another", "READ_ONLY"))
            .code(2)
            .says(&[&shown]);
        repo.ops(key, &["halt"]).code(2).says(&[&shown]);
    }
    // Nothing was signed or declared with them.
    assert_eq!(repo.state_of(&id), "pending");
    assert_eq!(repo.records().len(), 1);
}

/// `git ops list | head -0`: the reader is gone before the first line is written. The command
/// stops without an error and exits 0.
#[test]
fn a_closed_pipe_is_not_an_error() {
    let team = Team::new();
    let repo = &team.repo;
    for n in 0..3 {
        repo.declare(&team.alice, &format!("Restart web {n}"), "SERVICE_RESTART");
    }
    assert!(!repo.ops_keyless(&["list"]).ok().stdout().is_empty());
    for args in [["list"].as_slice(), &["log"], &["show", "--format", "json"]] {
        let mut args = args.to_vec();
        let id = repo.records()[0]["id"]
            .as_str()
            .expect("a record id")
            .to_string();
        if args[0] == "show" {
            args.insert(1, &id);
        }
        let (code, stderr) = with_closed_stdout(repo, &args);
        assert_eq!(code, Some(0), "{args:?} into a closed pipe: {stderr}");
        assert!(
            stderr.is_empty(),
            "{args:?} into a closed pipe said {stderr:?}"
        );
    }
}

/// Runs `git ops <args>` with its standard output a pipe whose reading end is already closed.
fn with_closed_stdout(repo: &Repo, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = repo.sb.ops_command(&repo.dir, None, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting git ops");
    drop(child.stdout.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for git ops") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("git ops {args:?} hung writing into a closed pipe");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut stderr)
            .expect("reading standard error");
    }
    (status.code(), stderr)
}
