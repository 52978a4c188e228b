//! Many writers at once, and writers killed at any moment: no record is lost, no id is taken
//! twice, and the ledger always parses.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use crate::harness::{Team, new_args, run};

#[test]
fn concurrent_writers_lose_nothing_and_never_share_an_id() {
    let team = Team::new();
    let repo = &team.repo;
    let printed: Vec<String> = thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let alice = &team.alice;
                s.spawn(move || {
                    (0..5)
                        .map(|i| repo.declare(alice, &format!("Writer {w} op {i}"), "READ_ONLY"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a writer thread panicked"))
            .collect()
    });
    let distinct: BTreeSet<&String> = printed.iter().collect();
    assert_eq!(distinct.len(), 20, "ids printed twice: {printed:?}");

    let records = repo.records();
    let listed: BTreeSet<String> = records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(records.len(), 20, "{records:#?}");
    assert_eq!(
        listed,
        printed.iter().cloned().collect::<BTreeSet<_>>(),
        "the ledger does not hold exactly the printed ids"
    );
    for w in 0..4 {
        for i in 0..5 {
            let name = format!("Writer {w} op {i}");
            assert!(
                records.iter().any(|r| r["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("{name} ")))),
                "{name} was lost"
            );
        }
    }
    repo.verify()
        .ok()
        .says(&["20 records (20 approved, 0 pending, 0 invalid), 20 tags: verified"]);
}

#[test]
fn a_writer_killed_at_any_moment_leaves_a_valid_ledger() {
    let team = Team::new();
    let repo = &team.repo;
    // A temporary file left by an earlier crash must never be read as a ledger file.
    std::fs::create_dir_all(repo.path("ops/ledger")).unwrap();
    repo.write("ops/ledger/.git-ops-tmp-crashed", "{{{ not: [yaml\n");

    // Kill moments spread over the time a whole `git ops new` takes here. The binary is
    // started directly: killing `git` would leave its `git-ops` child running.
    let writer = |name: &str| {
        let mut c = repo.sb.command(repo.sb.root.join("bin/git-ops"), &repo.dir);
        c.args(new_args(name, "READ_ONLY"))
            .env("GIT_OPS_KEY", &team.alice.path);
        c
    };
    let whole = run(writer("Warm-up")).ok().elapsed;
    let mut count = repo.records().len();
    assert_eq!(count, 1);
    let runs = 30u32;
    let mut completed = 0;
    for i in 0..runs {
        let mut c = writer(&format!("Crash {i}"));
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().expect("starting git-ops");
        thread::sleep(whole * 3 / 2 * i / runs + Duration::from_micros(u64::from(i) * 97 % 500));
        // SIGKILL: no destructor, no cleanup.
        let _ = child.kill();
        let status = child.wait().expect("reaping git-ops");
        if status.success() {
            completed += 1;
        }

        let out = repo.ops_keyless(&["verify", "--format", "json"]);
        assert_eq!(
            out.code,
            Some(0),
            "after killing run {i}, verify fails\n{out}"
        );
        let now = out.json()["records"].as_array().expect("records").len();
        assert!(
            now >= count,
            "run {i}: the ledger went from {count} to {now} records"
        );
        assert!(
            now <= count + 1,
            "run {i}: one run added {} records",
            now - count
        );
        count = now;
    }
    // The lock was released with each killed writer: a last one goes through.
    repo.declare(&team.alice, "After the crashes", "READ_ONLY");
    assert_eq!(repo.records().len(), count + 1);
    repo.verify().ok();
    eprintln!(
        "{completed} of {runs} writers finished before the kill; {} records written in all; \
         a whole run takes {whole:?}",
        count + 1
    );
    let leftovers: Vec<String> = std::fs::read_dir(repo.path("ops/ledger"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".yaml"))
        .collect();
    assert!(
        leftovers.iter().all(|n| n.starts_with(".git-ops-tmp-")),
        "unexpected files in ops/ledger: {leftovers:?}"
    );
}
