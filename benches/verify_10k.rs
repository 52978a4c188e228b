//! `git ops verify` over a ledger of 10,000 signed records, against baselines measured in the
//! same run.
//!
//! ```text
//! cargo bench --bench verify_10k                        # 10,000 records, 7 runs each
//! cargo bench --bench verify_10k -- --records 2000 --runs 3 --keep
//! ```
//!
//! It builds a temporary git repository with `ledger/samples/policy.yaml` as its policy and the
//! records spread over twelve month files (one commit per month), signed in-process with the
//! test keys of `tests/fixtures/keys/`. Then it times, alternating so they share the machine's
//! noise: `cat` of the ledger files, `git log --oneline`, `git-ops --version` (process start),
//! `git-ops verify` and `git-ops verify --history` (the release binary cargo builds for the
//! bench, `target/release/git-ops`), and in-process the parse alone and `verify_ledger` alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git_ops::model::yaml;
use git_ops::store::ledger::LedgerFile;
use git_ops::verify::ledger::verify_ledger;

#[path = "support/gen.rs"]
mod generator;
use generator::ledger;

struct Env {
    home: PathBuf,
}

impl Env {
    fn command(&self, program: &str, repo: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(repo)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("LANG", "C")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, repo: &Path, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program, repo)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{text}",
            out.status
        );
        text
    }
}

/// Times `f` once: what it returns must be `true` (the command succeeded).
fn time(f: &mut dyn FnMut() -> bool) -> Duration {
    let t = Instant::now();
    let ok = f();
    let d = t.elapsed();
    assert!(ok, "a timed step failed");
    d
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let mut records = 10_000usize;
    let mut runs = 7usize;
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => {
                records = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--records N")
            }
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--keep" => keep = true,
            // cargo bench passes --bench; a test filter may follow it.
            _ => {}
        }
    }
    let git_ops = env!("CARGO_BIN_EXE_git-ops");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::Builder::new()
        .prefix("git-ops-bench-")
        .tempdir()
        .expect("a temporary directory");
    let env = Env {
        home: tmp.path().join("home"),
    };
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("ops/ledger")).expect("mkdir");
    std::fs::create_dir_all(&env.home).expect("mkdir");

    let t = Instant::now();
    let files = ledger(records);
    let generate = t.elapsed();

    let git = |args: &[&str]| {
        let mut full = vec![
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.org",
        ];
        full.extend_from_slice(args);
        env.run(&repo, "git", &full)
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::copy(
        manifest.join("ledger/samples/policy.yaml"),
        repo.join("ops/policy.yaml"),
    )
    .expect("copy the policy");
    git(&["add", "ops/policy.yaml"]);
    git(&["commit", "-q", "-m", "Adopt git-ops"]);
    let mut bytes = 0;
    let mut paths = Vec::new();
    for (month, text) in &files {
        let rel = format!("ops/ledger/{month}.yaml");
        std::fs::write(repo.join(&rel), text).expect("write a ledger file");
        bytes += text.len();
        git(&["add", &rel]);
        git(&["commit", "-q", "-m", &format!("Ledger for {month}")]);
        paths.push(rel);
    }

    // Check the setup before timing it: every record verifies.
    let out = env.run(&repo, git_ops, &["verify"]);
    eprintln!("git-ops verify: {}", out.trim());
    let history = env
        .command(git_ops, &repo)
        .args(["verify", "--history"])
        .output()
        .expect("run git-ops verify --history");
    let history_ok = history.status.success();
    if !history_ok {
        eprintln!(
            "git-ops verify --history failed, so it is not timed:\n{}",
            String::from_utf8_lossy(&history.stdout)
        );
    }

    let policy = yaml::parse_policy(
        &std::fs::read_to_string(repo.join("ops/policy.yaml")).expect("read the policy"),
    )
    .expect("the sample policy");
    let texts: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::read_to_string(repo.join(p)).expect("read"),
            )
        })
        .collect();
    let parse_all = || -> Vec<Result<LedgerFile, git_ops::store::Error>> {
        texts
            .iter()
            .map(|(p, t)| LedgerFile::parse(p, t.clone()))
            .collect()
    };
    let parsed = parse_all();
    let report = verify_ledger(&policy, &parsed, &[]);
    assert!(
        report.ok(),
        "the generated ledger does not verify in-process"
    );
    assert_eq!(
        report.records.len(),
        records,
        "every record is in the report"
    );

    let cache = repo.join(".git/git-ops/verify-cache.json");
    let verify_ok = || {
        env.command(git_ops, &repo)
            .arg("verify")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let extra = generator::extra_record();
    let last_path = repo.join(paths.last().expect("twelve months"));
    let last_text = std::fs::read_to_string(&last_path).expect("read the last month");
    // Peak memory of one cold run, by /usr/bin/time (GNU time: %M is the maximum RSS in KiB).
    let _ = std::fs::remove_file(&cache);
    let peak_kib = env
        .command("/usr/bin/time", &repo)
        .args(["-f", "%M", git_ops, "verify"])
        .stdout(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
        });

    let mut steps: Vec<(String, Box<dyn FnMut() -> bool + '_>)> = vec![
        (
            "cat ops/ledger/*.yaml".into(),
            Box::new(|| {
                env.command("cat", &repo)
                    .args(&paths)
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
        ),
        (
            "git log --oneline".into(),
            Box::new(|| {
                env.command("git", &repo)
                    .args(["log", "--oneline"])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
        ),
        (
            "git-ops --version (process start)".into(),
            Box::new(|| {
                env.command(git_ops, &repo)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
        ),
        (
            "parse only (in-process)".into(),
            Box::new(|| parse_all().iter().all(Result::is_ok)),
        ),
        (
            "verify_ledger only (in-process)".into(),
            Box::new(|| verify_ledger(&policy, &parsed, &[]).ok()),
        ),
        (
            "git-ops verify".into(),
            Box::new(|| {
                // Cold: without the verified-state cache of the last run.
                let _ = std::fs::remove_file(&cache);
                verify_ok()
            }),
        ),
        (
            "git-ops verify (warm: nothing changed)".into(),
            Box::new(&verify_ok),
        ),
        (
            "one new record, then git-ops verify".into(),
            Box::new(|| {
                // The record is appended, verified, and taken out again for the next round.
                let mut grown = last_text.clone();
                grown.push_str(&extra);
                std::fs::write(&last_path, grown).expect("append a record");
                let ok = verify_ok();
                std::fs::write(&last_path, &last_text).expect("restore the month");
                ok
            }),
        ),
    ];
    if history_ok {
        steps.push((
            "git-ops verify --history".into(),
            Box::new(|| {
                env.command(git_ops, &repo)
                    .args(["verify", "--history"])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
        ));
    }

    // One warm-up round (page cache, binary), then alternate the steps `runs` times.
    for (_, f) in steps.iter_mut() {
        time(f.as_mut());
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    for _ in 0..runs {
        for (i, (_, f)) in steps.iter_mut().enumerate() {
            times[i].push(ms(time(f.as_mut())));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);

    println!(
        "git-ops verify over {records} records ({} ledger files, {:.1} MB, {} commits); \
         {runs} runs each after a warm-up",
        paths.len(),
        bytes as f64 / 1e6,
        paths.len() + 1
    );
    println!("  binary: {git_ops}");
    println!(
        "  generating and signing in-process (once): {:.0} ms",
        ms(generate)
    );
    println!("  {:<38} {:>10} {:>10}", "", "median ms", "min ms");
    for (i, (name, _)) in steps.iter().enumerate() {
        println!(
            "  {name:<38} {:>10.1} {:>10.1}",
            median(&times[i]),
            min(&times[i])
        );
    }
    let at = |name: &str| {
        steps
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| median(&times[i]))
            .expect("a step")
    };
    let verify = at("git-ops verify");
    println!("ratios (medians; `git-ops verify` is a cold run, its cache deleted first):");
    for base in [
        "cat ops/ledger/*.yaml",
        "git log --oneline",
        "parse only (in-process)",
        "verify_ledger only (in-process)",
    ] {
        println!("  git-ops verify / {base:<32} {:>8.1}x", verify / at(base));
    }
    let warm = at("git-ops verify (warm: nothing changed)");
    let grown = at("one new record, then git-ops verify");
    println!(
        "  warm verify / cold verify {:>28.1}%   (target <= 5%)",
        warm * 100.0 / verify
    );
    println!(
        "  one new record, then verify: {grown:.1} ms   (target <= 50 ms), {:.2}x of cold",
        grown / verify
    );
    match peak_kib {
        Some(k) => println!(
            "  peak memory of a cold verify: {:.1} MiB   (target <= 256 MB at 100k records)",
            k as f64 / 1024.0
        ),
        None => println!("  peak memory: /usr/bin/time (GNU) is not installed, not measured"),
    }
    println!(
        "  per record: {:.1} us; throughput {:.0} records/s, {:.1} MB/s",
        verify * 1000.0 / records as f64,
        records as f64 / (verify / 1000.0),
        bytes as f64 / 1e6 / (verify / 1000.0)
    );
    if keep {
        let kept = tmp.keep();
        println!("kept the repository in {}", kept.join("repo").display());
    }
}
