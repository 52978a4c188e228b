//! The operator toolkit end to end: `git ops record` (the seed's auto-ledger, with every seed
//! argument and its underscore spelling), evidence from real components (a real HTTP server on
//! loopback serving a metrics page, a real `redis-server` child on a free loopback port, real proof
//! files, the real git repository), lenient and strict collection failures, idempotency, `close`
//! and `rollback`, and the documents made from the ledger: `prompt`, `runbook`, `report` and
//! `changelog`. Signatures are cross-checked with stock `ssh-keygen`, digests with `sha256sum`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use git_ops::evidence::testkit::{HttpBehaviour, HttpServer, RedisServer, closed_port};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{
    Key, Out, Repo, Sandbox, Team, is_operation_id, ledger_file_of, require_tool, run, run_input,
};

/// A Prometheus-style page, as the seed's `p27` service would serve it.
const METRICS_PAGE: &str = "# HELP p27_corr_ready Correlation matrix ready\n\
    # TYPE p27_corr_ready gauge\n\
    p27_corr_ready 1.0\n\
    p27_clusters_count 1.0\n\
    other_metric_total 42\n\
    process_cpu_seconds_total 12.5\n";

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

const CLUSTER_KEY: &str = "quantum:portfolio:cluster_state";

/// `git ops <args>` as the owner of `key`, with extra environment variables.
fn ops_env(repo: &Repo, key: &Key, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = repo.sb.ops_command(&repo.dir, Some(key), args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

/// Every file of `ops/ledger/` with its bytes, sorted by name.
fn ledger_snapshot(repo: &Repo) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(repo.path("ops/ledger")) {
        for e in dir {
            let e = e.expect("reading ops/ledger");
            let name = e.file_name().to_string_lossy().into_owned();
            out.push((
                name,
                std::fs::read(e.path()).expect("reading a ledger file"),
            ));
        }
    }
    out.sort();
    out
}

/// Asserts that the ledger files are byte for byte as in `before` (naming sizes, not bytes).
#[track_caller]
fn assert_ledger_unchanged(repo: &Repo, before: &[(String, Vec<u8>)], what: &str) {
    let after = ledger_snapshot(repo);
    if after != before {
        let list = |s: &[(String, Vec<u8>)]| {
            s.iter()
                .map(|(n, b)| format!("{n} ({} bytes)", b.len()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        panic!(
            "{what} changed the ledger: before [{}], after [{}]",
            list(before),
            list(&after)
        );
    }
}

fn ledger_names(repo: &Repo) -> Vec<String> {
    ledger_snapshot(repo).into_iter().map(|(n, _)| n).collect()
}

fn tags(repo: &Repo) -> String {
    repo.git(&["tag", "-l"]).ok().stdout()
}

/// Writes a proof file outside the repository with a fixed mtime (2026-01-27T06:15:28Z).
fn proof_file(sb: &Sandbox, name: &str, body: &[u8]) -> PathBuf {
    let path = sb.root.join(name);
    std::fs::write(&path, body).expect("writing the proof file");
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_769_494_528);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .expect("setting the proof file's mtime");
    path
}

const PROOF_MTIME: &str = "2026-01-27T06:15:28Z";

/// `sha256sum FILE`, the digest part.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("running sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// The record `id` as `git ops show --format json` prints it.
fn show(repo: &Repo, id: &str) -> Value {
    repo.ops_keyless(&["show", id, "--format", "json"])
        .ok()
        .json()
}

/// The single line of stdout a recording command prints: the new id.
#[track_caller]
fn printed_id(out: &Out) -> String {
    let id = out.stdout().trim().to_string();
    assert_eq!(
        out.stdout(),
        format!("{id}\n"),
        "stdout must be the id alone\n{out}"
    );
    id
}

/// The `evidence.errors` of record `id`.
fn evidence_errors(repo: &Repo, id: &str) -> Vec<String> {
    match &show(repo, id)["evidence"]["errors"] {
        Value::Array(v) => v
            .iter()
            .map(|e| e.as_str().expect("errors are strings").to_string())
            .collect(),
        Value::Null => Vec::new(),
        other => panic!("evidence.errors of {id} is {other}"),
    }
}

/// A minimal `git ops record` (LOW_RISK_CONFIG on deploy/, no services), plus `extra`.
fn record_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "record",
        "--operation",
        name,
        "--objective",
        "Keep the web tier healthy",
        "--risk-class",
        "LOW_RISK_CONFIG",
        "--blast-radius",
        "web pods only",
        "--changes-summary",
        "Scaled web",
        "--allowed-paths",
        "deploy/",
    ];
    v.extend_from_slice(extra);
    v
}

/// The text between the line `start` and the next line starting with `## ` (or the end).
fn section<'a>(text: &'a str, start: &str) -> &'a str {
    let i = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in\n{text}"));
    let rest = &text[i + start.len()..];
    match rest.find("\n## ") {
        Some(j) => &rest[..j],
        None => rest,
    }
}

/// Bytes a terminal would act on: ESC, BEL, C1 CSI/OSC (UTF-8 encoded) and bidi overrides.
fn raw_controls(bytes: &[u8]) -> Vec<&'static str> {
    let mut found = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    if bytes.contains(&0x1b) {
        found.push("ESC");
    }
    if bytes.contains(&0x07) {
        found.push("BEL");
    }
    if text.contains('\u{9b}') || text.contains('\u{9d}') {
        found.push("C1 control");
    }
    if text.contains('\u{202e}') {
        found.push("bidi override");
    }
    found
}

// ---------------------------------------------------------------------------------------------
// record: every seed argument, evidence, signature.
// ---------------------------------------------------------------------------------------------

/// `git ops record` with every argument of the seed's `ops_ledger_append.py`, in its underscore
/// spellings, lands in the month file of its id, signed by the caller (checked by `git ops verify`,
/// by stock `ssh-keygen -Y verify` and by recomputing the payload digest), with evidence that
/// matches what independent tools see: `git rev-parse`, `hostname`, `sha256sum`, the HTTP page
/// filtered by the regexes, and `redis-cli HGETALL` of a hash seeded with redis-cli.
#[test]
fn record_with_every_seed_argument_lands_signed_with_matching_evidence() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    if !require_tool("sha256sum", "apt-get install coreutils") {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let page = HttpServer::start(HttpBehaviour::Page(METRICS_PAGE.into()));
    let redis = RedisServer::start();
    let redis_url = match &redis {
        Some(r) => r.url(),
        None => format!("redis://127.0.0.1:{}", closed_port()),
    };
    let hgetall = redis.as_ref().map(|r| {
        r.cli(&[
            "HSET",
            CLUSTER_KEY,
            "cluster_stress",
            "0.788493010732072",
            "updated_ts",
            "1769492127",
        ]);
        r.cli(&["HGETALL", CLUSTER_KEY])
    });
    let proof = proof_file(
        sb,
        "P2_7_PROOF_20260127.txt",
        b"P2.7 proof: corr ready, 1 cluster\n",
    );
    let proof_s = proof.display().to_string();
    let (url1, url2) = (page.url("/metrics"), page.url("/federate"));
    let hgetall_cmd = format!("HGETALL {CLUSTER_KEY}");
    let id = "OPS-2026-01-27-011";

    let mut args = vec![
        "record",
        "--operation",
        "P2.7 Deploy — Portfolio Clusters",
        "--objective",
        "Deploy correlation matrix + capital clustering",
        "--risk_class",
        "SERVICE_RESTART",
        "--blast_radius",
        "Portfolio gating layer only",
        "--changes_summary",
        "Deployed P2.7 with warmup observability",
        "--operation_id",
        id,
        "--allowed_paths",
        "microservices/portfolio_clusters/",
        "deploy/",
        "--allowed_services",
        "quantum-portfolio-clusters",
        "quantum-portfolio-gate",
        "--rollback-strategy",
        "git revert + systemctl restart quantum-portfolio-gate",
        "--environment",
        "prod",
        "--proof_path",
        &proof_s,
        "--metrics_urls",
        &url1,
        &url2,
        "--metrics_grep",
        "^p27_corr_ready ",
        "^p27_clusters_count ",
        "--redis_cmds",
        &hgetall_cmd,
        "--redis-url",
        &redis_url,
        "--outcome",
        "SUCCESS",
        "--notes",
        "Manual ledger entry",
    ];
    if redis.is_none() {
        // Without a server the command would still run; only its reply cannot be checked.
        args.retain(|a| *a != "--redis_cmds" && *a != hgetall_cmd.as_str());
    }
    let out = repo.ops(&team.alice, &args).ok();
    assert_eq!(printed_id(&out), id);
    out.says(&["recorded OPS-2026-01-27-011 (SUCCESS) in ops/ledger/2026-01.yaml"]);

    // The month file of the id's date, and only that one; a YAML stream with this one record.
    assert_eq!(ledger_names(repo), ["2026-01.yaml"]);
    assert_eq!(ledger_file_of(id), "ops/ledger/2026-01.yaml");
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&repo.read("ops/ledger/2026-01.yaml")).expect("YAML stream");
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["operation_id"], id);

    let r = show(repo, id);
    for (k, v) in [
        ("record", "operation"),
        ("operation_name", "P2.7 Deploy — Portfolio Clusters"),
        (
            "objective",
            "Deploy correlation matrix + capital clustering",
        ),
        ("risk_class", "SERVICE_RESTART"),
        ("blast_radius", "Portfolio gating layer only"),
        ("changes_summary", "Deployed P2.7 with warmup observability"),
        (
            "rollback_strategy",
            "git revert + systemctl restart quantum-portfolio-gate",
        ),
        ("environment", "prod"),
        ("outcome", "SUCCESS"),
        ("notes", "Manual ledger entry"),
        ("requested_by", "alice"),
        ("git_branch", "main"),
    ] {
        assert_eq!(r[k], v, "{k} of\n{r:#}");
    }
    assert_eq!(
        r["allowed_paths"],
        serde_json::json!(["microservices/portfolio_clusters/", "deploy/"])
    );
    assert_eq!(
        r["allowed_services"],
        serde_json::json!(["quantum-portfolio-clusters", "quantum-portfolio-gate"])
    );
    assert!(
        r["execution_timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{r:#}"
    );

    // Git: the commit, its short form, the branch, a clean tree.
    let ev = &r["evidence"];
    let head = repo.rev("HEAD");
    assert_eq!(ev["git"]["commit"], head.as_str());
    assert_eq!(r["git_commit"], head.as_str());
    let short = ev["git"]["commit_short"].as_str().expect("commit_short");
    assert!(
        short.len() >= 7 && head.starts_with(short),
        "{short} vs {head}"
    );
    assert_eq!(ev["git"]["branch"], "main");
    assert_eq!(ev["git"]["dirty"], false);

    // The host, as the hostname command names it.
    let host = match Command::new("hostname").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("the kernel's hostname")
            .trim()
            .to_string(),
    };
    assert_eq!(ev["hostname"], host.as_str());
    assert_eq!(r["hostname"], host.as_str());

    // The proof file: the full digest sha256sum computes, the size, the mtime.
    let pf = &ev["proof_file"];
    assert_eq!(pf["path"], proof_s.as_str());
    let digest = sha256sum(&proof);
    assert_eq!(pf["sha256"], digest.as_str(), "{pf}");
    assert_eq!(digest.len(), 64);
    let size = std::fs::metadata(&proof).expect("the proof file").len();
    assert_eq!(pf["size_bytes"], size);
    assert_eq!(pf["mtime_utc"], PROOF_MTIME);

    // Metrics: per URL a `curl | grep` style header and the matching lines, nothing else.
    let block = |u: &str| {
        format!(
            "# {u} | grep -e '^p27_corr_ready ' -e '^p27_clusters_count '\n\
             p27_corr_ready 1.0\np27_clusters_count 1.0\n"
        )
    };
    let metrics = ev["metrics_snapshot"].as_str().expect("a metrics snapshot");
    assert_eq!(metrics, block(&url1) + &block(&url2));
    assert!(!metrics.contains("other_metric_total") && !metrics.contains("# HELP"));

    // Redis: the reply of HGETALL, as redis-cli prints it.
    if let Some(hgetall) = &hgetall {
        assert!(hgetall.contains("0.788493010732072"), "{hgetall}");
        assert_eq!(
            ev["redis_snapshot"].as_str().expect("a redis snapshot"),
            format!("# redis-cli {hgetall_cmd}\n{hgetall}")
        );
    }

    // Services were asked for; where systemd cannot answer (containers, CI) that, and only that,
    // is a recorded collector error.
    let services = ev["services_status"].as_object().expect("services_status");
    assert_eq!(
        services.keys().collect::<Vec<_>>(),
        ["quantum-portfolio-clusters", "quantum-portfolio-gate"]
    );
    for e in evidence_errors(repo, id) {
        assert!(
            e.starts_with("service quantum-portfolio-"),
            "unexpected collector error: {e}"
        );
    }

    // Signed by the caller: one requester signoff by alice with alice's key.
    let signoffs = r["signoffs"].as_array().expect("signoffs");
    assert_eq!(signoffs.len(), 1, "{signoffs:?}");
    assert_eq!(signoffs[0]["by"], "alice");
    assert_eq!(signoffs[0]["role"], "requester");
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(team.alice.pub_path())
        .output()
        .expect("ssh-keygen -l");
    let fp = String::from_utf8_lossy(&fp.stdout).to_string();
    assert_eq!(
        signoffs[0]["key"],
        fp.split_whitespace().nth(1).expect("a fingerprint")
    );
    repo.verify().ok().says(&["verified"]);

    // The statement names the payload digest: recomputed here from the record (RFC 8785 JSON).
    let statement = repo
        .ops_keyless(&["show", id, "--statement", "--by", "alice"])
        .ok()
        .stdout;
    let st: Value = serde_json::from_slice(&statement).expect("the statement is JSON");
    let mut payload = r.clone();
    payload
        .as_object_mut()
        .expect("an object")
        .remove("signoffs");
    let canonical = serde_json_canonicalizer::to_vec(&payload).expect("canonical JSON");
    let digest: String = Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(st["payload_sha256"], digest.as_str(), "{st}");
    assert_eq!(st["record"], id);
    assert_eq!(st["role"], "requester");

    // Stock ssh-keygen accepts the requester's signature over those exact bytes.
    let allowed = sb.root.join("allowed_signers").display().to_string();
    repo.ops_keyless(&["keys", "allowed-signers", "--out", &allowed])
        .ok();
    let sig = repo
        .ops_keyless(&["show", id, "--statement", "--by", "alice", "--sig"])
        .ok()
        .stdout;
    let sig_file = sb.root.join("alice.sig");
    std::fs::write(&sig_file, &sig).expect("writing the signature");
    let verify = |data: &[u8]| {
        let mut c = sb.command("ssh-keygen", &repo.dir);
        c.args([
            "-Y", "verify", "-n", "git-ops", "-f", &allowed, "-I", "alice", "-s",
        ])
        .arg(&sig_file);
        run_input(c, data)
    };
    verify(&statement)
        .ok()
        .says(&["Good \"git-ops\" signature for alice"]);
    let mut tampered = statement.clone();
    tampered.push(b' ');
    verify(&tampered).failed();

    // Strict, with every collector that is asked for working (no services here): recorded, and
    // the evidence has no errors. A tracked file changed and not committed makes the tree dirty.
    repo.write("deploy/web.yaml", "replicas: 3\n");
    let mut strict = vec![
        "record",
        "--operation",
        "P2.7 follow-up",
        "--objective",
        "Verify the clusters",
        "--risk_class",
        "READ_ONLY",
        "--blast_radius",
        "none",
        "--changes_summary",
        "Checked",
        "--operation_id",
        "OPS-2026-01-27-012",
        "--proof_path",
        &proof_s,
        "--metrics_urls",
        &url1,
        "--metrics_grep",
        "corr",
        "--outcome",
        "PARTIAL",
        "--strict",
        "--redis-url",
        &redis_url,
    ];
    if redis.is_some() {
        strict.extend(["--redis_cmds", &hgetall_cmd, "PING"]);
    }
    let out = repo.ops(&team.alice, &strict).ok();
    assert_eq!(printed_id(&out), "OPS-2026-01-27-012");
    assert_eq!(ledger_names(repo), ["2026-01.yaml"]);
    let r2 = show(repo, "OPS-2026-01-27-012");
    assert_eq!(r2["outcome"], "PARTIAL");
    assert_eq!(r2["evidence"]["git"]["dirty"], true);
    assert!(evidence_errors(repo, "OPS-2026-01-27-012").is_empty());
    if redis.is_some() {
        let snap = r2["evidence"]["redis_snapshot"].as_str().expect("redis");
        assert!(snap.ends_with("# redis-cli PING\nPONG\n"), "{snap}");
    }
    repo.verify().ok();
}

// ---------------------------------------------------------------------------------------------
// Idempotency and month files.
// ---------------------------------------------------------------------------------------------

/// The operation id is the idempotency key: the same id again prints "already recorded", exits
/// 0 and leaves the file byte for byte (even when the rerun's own evidence would fail strictly).
/// Each id lands in the month file of its own date; an id-less record gets today's next id.
#[test]
fn record_is_idempotent_by_operation_id_and_files_each_id_by_its_month() {
    let team = Team::new();
    let repo = &team.repo;
    let proof = proof_file(&repo.sb, "proof.txt", b"ok\n");
    let proof_s = proof.display().to_string();

    let id = "OPS-2026-01-27-011";
    let args = record_args(
        "Deploy web",
        &["--operation-id", id, "--proof-path", &proof_s],
    );
    assert_eq!(printed_id(&repo.ops(&team.alice, &args).ok()), id);
    let jan = repo.read("ops/ledger/2026-01.yaml").into_bytes();
    let tags_before = tags(repo);

    // The same command again, and a rerun with other values, with an underscore spelling, with a
    // failing collector in strict mode: every time "already recorded", exit 0, nothing written.
    let missing = repo.sb.root.join("missing-proof.txt").display().to_string();
    for rerun in [
        args.clone(),
        record_args(
            "Something else",
            &["--operation_id", id, "--notes", "again"],
        ),
        record_args(
            "Deploy web",
            &["--operation-id", id, "--proof-path", &missing, "--strict"],
        ),
    ] {
        let out = repo.ops(&team.alice, &rerun).ok();
        assert_eq!(out.stdout(), format!("{id} already recorded\n"), "{out}");
        assert_eq!(repo.read("ops/ledger/2026-01.yaml").into_bytes(), jan);
    }
    let out = ops_env(repo, &team.alice, &args, &[("STRICT_LEDGER", "true")]).ok();
    out.says(&["already recorded"]);
    assert_eq!(ledger_names(repo), ["2026-01.yaml"]);
    assert_eq!(repo.read("ops/ledger/2026-01.yaml").into_bytes(), jan);
    assert_eq!(tags(repo), tags_before);

    // Another month's id goes to that month's file; January's file is not touched.
    let dec = "OPS-2025-12-31-004";
    let out = repo
        .ops(
            &team.alice,
            &record_args("Year-end", &["--operation_id", dec]),
        )
        .ok();
    assert_eq!(printed_id(&out), dec);
    assert!(
        repo.read("ops/ledger/2025-12.yaml")
            .contains("operation_id: OPS-2025-12-31-004")
    );
    assert!(!repo.read("ops/ledger/2025-12.yaml").contains(id));
    assert_eq!(repo.read("ops/ledger/2026-01.yaml").into_bytes(), jan);

    // No id: the next free id of today, in today's month file.
    let today = || chrono::Utc::now().format("%Y-%m-%d").to_string();
    let before = today();
    let out = repo.ops(&team.alice, &record_args("Today", &[])).ok();
    let auto = printed_id(&out);
    assert!(is_operation_id(&auto), "{auto}");
    let date = &auto[4..14];
    assert!(date == before || date == today(), "{auto} is not of today");
    assert!(
        repo.read(&ledger_file_of(&auto))
            .contains(&format!("operation_id: {auto}"))
    );
    // Rerunning with the id it was given is a no-op too.
    let again = repo
        .ops(
            &team.alice,
            &record_args("Today", &["--operation-id", &auto]),
        )
        .ok();
    again.says(&["already recorded"]);

    // A non-operation id is a usage error.
    repo.ops(
        &team.alice,
        &record_args("x", &["--operation-id", "OUT-2026-01-27-001"]),
    )
    .code(2)
    .says(&["not an operation id"]);

    let mut expected = vec![
        "2025-12.yaml".to_string(),
        "2026-01.yaml".to_string(),
        format!("{}.yaml", &auto[4..11]),
    ];
    expected.sort();
    expected.dedup();
    assert_eq!(ledger_names(repo), expected);
    repo.verify().ok().says(&["3 records"]);
}

// ---------------------------------------------------------------------------------------------
// Lenient and strict collection failures.
// ---------------------------------------------------------------------------------------------

/// The most one recording run may take with `--evidence-timeout 1` (one collector timeout plus
/// process start, generous for a loaded machine).
const RUN_BUDGET: Duration = Duration::from_secs(6);

/// One failing collector, three ways: lenient (exit 0, the record exists, its evidence.errors
/// names the failure), `--strict` and `STRICT_LEDGER=true` (exit 1, the ledger files and tags
/// unchanged byte for byte, the message names the failure). Returns the lenient record's id.
fn lenient_then_strict(team: &Team, extra: &[&str], needle: &str) -> String {
    let repo = &team.repo;
    let mut args = record_args("Deploy web", &["--evidence-timeout", "1"]);
    args.extend_from_slice(extra);

    let t = Instant::now();
    let out = repo.ops(&team.alice, &args).ok();
    assert!(
        out.elapsed < RUN_BUDGET,
        "the lenient run took {:?}",
        out.elapsed
    );
    let id = printed_id(&out);
    out.says(&["warning"]);
    let errors = evidence_errors(repo, &id);
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "evidence.errors of {id} lacks {needle:?}: {errors:?}"
    );
    let r = show(repo, &id);
    assert!(r["evidence"]["hostname"].is_string(), "{r:#}");
    assert_eq!(r["evidence"]["git"]["commit"], repo.rev("HEAD").as_str());
    repo.verify().ok();

    let before = ledger_snapshot(repo);
    let tags_before = tags(repo);
    let mut strict = args.clone();
    strict.push("--strict");
    for (how, out) in [
        ("--strict", repo.ops(&team.alice, &strict)),
        (
            "STRICT_LEDGER=true",
            ops_env(repo, &team.alice, &args, &[("STRICT_LEDGER", "true")]),
        ),
    ] {
        let out = out
            .code(1)
            .says(&[needle, "nothing was recorded (strict mode)"]);
        assert!(out.stdout().is_empty(), "{how}: printed an id\n{out}");
        assert_ledger_unchanged(repo, &before, how);
        assert_eq!(tags(repo), tags_before, "{how} changed the tags");
    }
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "three runs took {:?}",
        t.elapsed()
    );
    id
}

#[test]
fn a_missing_proof_file_is_recorded_or_refused() {
    let team = Team::new();
    let missing = team.repo.sb.root.join("P2_7_PROOF_missing.txt");
    let missing = missing.display().to_string();
    let id = lenient_then_strict(
        &team,
        &["--proof-path", &missing],
        &format!("proof_file: {missing} does not exist"),
    );
    let pf = &show(&team.repo, &id)["evidence"]["proof_file"];
    assert_eq!(pf["path"], missing.as_str());
    assert!(pf["sha256"].is_null(), "{pf}");
}

#[test]
fn a_proof_path_that_is_a_directory_is_recorded_or_refused() {
    let team = Team::new();
    let dir = team.repo.sb.root.join("proofs");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.display().to_string();
    lenient_then_strict(
        &team,
        &["--proof_path", &dir],
        &format!("proof_file: {dir} is a directory, not a file"),
    );
}

#[test]
fn a_metrics_url_that_refuses_is_recorded_or_refused() {
    let team = Team::new();
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    lenient_then_strict(
        &team,
        &["--metrics-url", &url],
        &format!("metrics {url}: connection refused by 127.0.0.1:{port}"),
    );
}

#[test]
fn a_metrics_url_that_never_answers_times_out_and_is_recorded_or_refused() {
    let team = Team::new();
    let hang = HttpServer::start(HttpBehaviour::Hang);
    let url = hang.url("/metrics");
    let t = Instant::now();
    lenient_then_strict(
        &team,
        &["--metrics_urls", &url],
        &format!("metrics {url}: timed out after 1 s"),
    );
    // Three runs of one 1-second timeout each.
    assert!(t.elapsed() < Duration::from_secs(12), "{:?}", t.elapsed());
}

#[test]
fn an_endless_metrics_response_stops_at_the_size_cap_and_is_recorded_or_refused() {
    let team = Team::new();
    let endless = HttpServer::start(HttpBehaviour::Endless);
    let url = endless.url("/metrics");
    let t = Instant::now();
    let id = lenient_then_strict(
        &team,
        &["--metrics-url", &url],
        &format!("metrics {url}: more than 1048576 bytes; stopped reading at the limit"),
    );
    assert!(t.elapsed() < Duration::from_secs(12), "{:?}", t.elapsed());
    // Nothing of the endless body is kept in the record.
    assert!(show(&team.repo, &id)["evidence"]["metrics_snapshot"].is_null());
    let sent = endless.bytes_sent();
    assert!(
        sent < 256 << 20,
        "the client kept reading: {sent} bytes sent"
    );
}

/// SET, DEL and XADD are never sent, whatever the mode: the lenient record says why the redis
/// snapshot is missing, strict refuses, and redis-cli sees the data untouched.
#[test]
fn redis_write_commands_are_refused_and_never_sent() {
    let team = Team::new();
    let repo = &team.repo;
    let redis = RedisServer::start();
    let url = match &redis {
        Some(r) => {
            r.cli(&["SET", "quantum:flag", "original"]);
            r.cli(&["SET", "quantum:keep", "1"]);
            r.url()
        }
        None => format!("redis://127.0.0.1:{}", closed_port()),
    };
    for (cmd, word) in [
        ("SET quantum:flag hacked", "SET"),
        ("DEL quantum:keep", "DEL"),
        ("XADD quantum:stream:trade.intent * side buy", "XADD"),
    ] {
        let needle = format!("redis command `{word}` is refused");
        let id = lenient_then_strict(
            &team,
            &["--redis-url", &url, "--redis_cmds", "GET quantum:flag", cmd],
            &needle,
        );
        let errors = evidence_errors(repo, &id);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("redis") && e.contains(&needle)),
            "{errors:?}"
        );
        // Whatever else is kept, nothing of the write command is.
        if let Some(snap) = show(repo, &id)["evidence"]["redis_snapshot"].as_str() {
            assert!(!snap.contains(word), "{snap}");
        }
    }
    if let Some(r) = &redis {
        assert_eq!(r.cli(&["GET", "quantum:flag"]), "original\n");
        assert_eq!(r.cli(&["EXISTS", "quantum:keep"]), "1\n");
        assert_eq!(r.cli(&["EXISTS", "quantum:stream:trade.intent"]), "0\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Rollback and close.
// ---------------------------------------------------------------------------------------------

/// `--outcome ROLLBACK` needs `--rollback-of`: exit 2 and nothing appended; with it (underscore
/// spelling too) the record carries the link.
#[test]
fn a_rollback_outcome_without_rollback_of_is_a_usage_error() {
    let team = Team::new();
    let repo = &team.repo;
    let orig = printed_id(&repo.ops(&team.alice, &record_args("Deploy web", &[])).ok());
    let before = ledger_snapshot(repo);
    repo.ops(
        &team.alice,
        &record_args("Revert web", &["--outcome", "ROLLBACK"]),
    )
    .code(2)
    .says(&["--rollback-of"]);
    assert_ledger_unchanged(repo, &before, "a refused ROLLBACK");
    // Also when STRICT_LEDGER is set and evidence would fail: the usage error comes first.
    ops_env(
        repo,
        &team.alice,
        &record_args(
            "Revert web",
            &["--outcome", "ROLLBACK", "--proof-path", "/nonexistent"],
        ),
        &[("STRICT_LEDGER", "true")],
    )
    .code(2);
    assert_ledger_unchanged(repo, &before, "a refused ROLLBACK under STRICT_LEDGER");

    let out = repo
        .ops(
            &team.alice,
            &record_args(
                "Revert web",
                &["--outcome", "ROLLBACK", "--rollback_of", &orig],
            ),
        )
        .ok();
    let rb = printed_id(&out);
    let r = show(repo, &rb);
    assert_eq!(r["outcome"], "ROLLBACK");
    assert_eq!(r["rollback_of"], orig.as_str());
    assert!(ledger_snapshot(repo)[0].1.starts_with(&before[0].1));
}

/// PRODUCT BUG (see the report): `git ops rollback` and `git ops close` refuse an id that is not
/// in the ledger, but `record --outcome ROLLBACK --rollback-of <unknown id>` appends a rollback
/// linked to nothing. It should be the same usage error, with nothing appended.
#[test]
fn a_rollback_of_an_unknown_operation_is_refused() {
    let team = Team::new();
    let repo = &team.repo;
    printed_id(&repo.ops(&team.alice, &record_args("Deploy web", &[])).ok());
    let before = ledger_snapshot(repo);
    repo.ops(&team.alice, &["rollback", "OPS-2019-01-01-999"])
        .code(2)
        .says(&["no operation OPS-2019-01-01-999"]);
    assert_ledger_unchanged(repo, &before, "`git ops rollback` of an unknown id");
    let out = repo.ops(
        &team.alice,
        &record_args(
            "Revert web",
            &[
                "--outcome",
                "ROLLBACK",
                "--rollback-of",
                "OPS-2019-01-01-999",
            ],
        ),
    );
    assert_eq!(
        out.code,
        Some(2),
        "a ROLLBACK record linked to an operation that is not in the ledger was accepted\n{out}"
    );
    out.says(&["OPS-2019-01-01-999"]);
    assert_ledger_unchanged(repo, &before, "a ROLLBACK of an unknown id");
}

/// `git ops rollback <id>` records a new ROLLBACK operation pointing at the original, with fresh
/// evidence, signed by the caller; the original record's bytes stay as they were.
#[test]
fn rollback_records_a_linked_operation_with_evidence_and_leaves_the_original_alone() {
    if !require_tool("sha256sum", "apt-get install coreutils") {
        return;
    }
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Declare and approve");
    let original = show(repo, &id);
    let file = ledger_file_of(&id);
    let before = repo.read(&file);
    let proof = proof_file(&repo.sb, "rollback-proof.txt", b"web back to 2 replicas\n");
    let proof_s = proof.display().to_string();

    let out = repo
        .ops(
            &team.alice,
            &[
                "rollback",
                &id,
                "--proof_path",
                &proof_s,
                "--notes",
                "Rollback due to 5xx spike",
                "--changes_summary",
                "Reverted the web scale-up",
            ],
        )
        .ok();
    let rb = printed_id(&out);
    assert_ne!(rb, id);
    out.says(&[&format!("recorded the rollback of {id} as {rb}")]);

    let r = show(repo, &rb);
    assert_eq!(r["record"], "operation");
    assert_eq!(r["outcome"], "ROLLBACK");
    assert_eq!(r["rollback_of"], id.as_str());
    assert_eq!(r["requested_by"], "alice");
    assert_eq!(r["notes"], "Rollback due to 5xx spike");
    assert_eq!(r["changes_summary"], "Reverted the web scale-up");
    assert_eq!(r["risk_class"], original["risk_class"]);
    assert_eq!(r["allowed_paths"], original["allowed_paths"]);
    assert_eq!(r["allowed_services"], original["allowed_services"]);
    assert!(r["operation_name"].as_str().unwrap().contains(&id), "{r:#}");
    let ev = &r["evidence"];
    assert_eq!(ev["proof_file"]["sha256"], sha256sum(&proof).as_str());
    assert_eq!(ev["git"]["commit"], repo.rev("HEAD").as_str());
    assert!(ev["hostname"].is_string());
    assert_eq!(r["signoffs"][0]["by"], "alice");

    // Append-only: the original's bytes are the prefix of the file, and it reads the same.
    let after = repo.read(&file);
    assert!(after.starts_with(&before), "the original record was edited");
    assert_eq!(show(repo, &id), original);
    repo.verify().ok();
    repo.commit_all("Record the rollback");
    repo.verify().ok();

    // Rolling back an operation that is not in the ledger: a usage error, nothing appended.
    repo.ops(&team.alice, &["rollback", "OPS-2019-01-01-999"])
        .code(2);
    assert_eq!(repo.read(&file), after);
}

/// `git ops close <id> --outcome SUCCESS --proof-path F` appends an outcome record; from then on
/// the operation covers nothing: a commit linked to it (`git ops use`) is rejected by the hooks.
#[test]
fn close_appends_an_outcome_and_a_closed_operation_covers_nothing() {
    if !require_tool("sha256sum", "apt-get install coreutils") {
        return;
    }
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Declare and approve");

    // While open it covers a linked change of deploy/web.yaml.
    repo.ops_keyless(&["use", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.commit_all("Scale web to 3");
    let msg = repo.git(&["log", "-1", "--format=%B"]).ok().stdout();
    assert!(msg.contains(&format!("Ops-Id: {id}")), "{msg}");
    assert_eq!(repo.read("deploy/web.yaml"), "replicas: 3\n");

    let file = ledger_file_of(&id);
    let before = repo.read(&file);
    let original = show(repo, &id);
    let proof = proof_file(&repo.sb, "P_close.txt", b"3 replicas healthy\n");
    let proof_s = proof.display().to_string();

    // Strict with a failing collector: refused, nothing appended, still open.
    let missing = repo.sb.root.join("nope.txt").display().to_string();
    repo.ops(
        &team.alice,
        &[
            "close",
            &id,
            "--outcome",
            "SUCCESS",
            "--proof-path",
            &missing,
            "--strict",
        ],
    )
    .code(1)
    .says(&["does not exist", "nothing was recorded"]);
    assert_eq!(repo.read(&file), before);
    // An unknown operation cannot be closed.
    repo.ops(
        &team.alice,
        &["close", "OPS-2019-01-01-999", "--outcome", "SUCCESS"],
    )
    .code(2);
    assert_eq!(repo.read(&file), before);

    let out = repo
        .ops(
            &team.alice,
            &[
                "close",
                &id,
                "--outcome",
                "SUCCESS",
                "--proof-path",
                &proof_s,
                "--notes",
                "3 replicas healthy",
            ],
        )
        .ok();
    let outcome = printed_id(&out);
    assert!(outcome.starts_with("OUT-"), "{outcome}");
    let o = show(repo, &outcome);
    assert_eq!(o["record"], "outcome");
    assert_eq!(o["operation_id"], id.as_str());
    assert_eq!(o["outcome"], "SUCCESS");
    assert_eq!(o["notes"], "3 replicas healthy");
    assert_eq!(
        o["evidence"]["proof_file"]["sha256"],
        sha256sum(&proof).as_str()
    );
    assert_eq!(o["evidence"]["proof_file"]["mtime_utc"], PROOF_MTIME);
    assert_eq!(o["signoffs"][0]["by"], "alice");

    // Records are immutable: the operation's bytes are untouched, the outcome is appended.
    let after = repo.read(&file);
    assert!(
        after.starts_with(&before),
        "close edited the existing records"
    );
    assert_eq!(show(repo, &id), original);
    repo.verify().ok();
    repo.commit_all("Close the operation");
    let head = repo.rev("HEAD");

    // Closed: a change linked to it is rejected, and the commit is not made.
    repo.ops_keyless(&["use", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 4\n");
    repo.git(&["add", "-A"]).ok();
    repo.git(&["commit", "-q", "-m", "Scale web to 4"])
        .failed()
        .says(&[&format!("closed by outcome {outcome}")]);
    assert_eq!(repo.rev("HEAD"), head);
    repo.verify().ok();
}

// ---------------------------------------------------------------------------------------------
// prompt
// ---------------------------------------------------------------------------------------------

fn prompt_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "prompt",
        "--operation",
        "Fix Grafana provisioning wrappers",
        "--objective",
        "Unwrap dashboard JSON and remove UID duplicates",
        "--risk_class",
        "LOW_RISK_CONFIG",
        "--blast_radius",
        "Grafana dashboards only",
        "--rollback_strategy",
        "Restore JSON files from git + restart grafana-server",
        "--allowed_paths",
        "/etc/grafana/provisioning",
        "/var/lib/grafana/dashboards/quantum",
        "--allowed_services",
        "grafana-server",
    ];
    v.extend_from_slice(extra);
    v
}

/// The bullet lines under `NOT ALLOWED:`, up to the next blank line.
fn not_allowed(prompt: &str) -> Vec<String> {
    let rest = &prompt[prompt
        .find("NOT ALLOWED:\n")
        .unwrap_or_else(|| panic!("no NOT ALLOWED in\n{prompt}"))
        + "NOT ALLOWED:\n".len()..];
    rest.lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.to_string())
        .collect()
}

const DEFAULT_FORBIDDEN: [&str; 5] = [
    "- No changes outside the operation's allowed paths and services",
    "- No writes to production data stores, queues or streams",
    "- No secrets, credentials or key changes",
    "- No database schema or dashboard store modifications",
    "- No firewall/network/user permission changes",
];

/// The prompt carries the declaration, the scope contract (ALLOWED from the arguments, NOT
/// ALLOWED from the policy's `forbidden` list), the execution contract and the reporting contract.
#[test]
fn prompt_fills_every_contract_from_the_arguments_and_the_policy() {
    let team = Team::new();
    let repo = &team.repo;
    let policy = repo.read("ops/policy.yaml");
    let last = "  - \"No firewall/network/user permission changes\"\n";
    assert!(
        policy.contains(last),
        "the starter policy changed:\n{policy}"
    );
    repo.write(
        "ops/policy.yaml",
        &policy.replace(
            last,
            &format!("{last}  - \"No changes to the order router\"\n"),
        ),
    );

    let p = repo.ops_keyless(&prompt_args(&[])).ok().stdout();
    for needle in [
        "OPERATION_NAME: Fix Grafana provisioning wrappers",
        "OBJECTIVE: Unwrap dashboard JSON and remove UID duplicates",
        "RISK_CLASS: LOW_RISK_CONFIG",
        "BLAST_RADIUS: Grafana dashboards only",
        "ROLLBACK_STRATEGY: Restore JSON files from git + restart grafana-server",
        "ALLOWED_PATHS:\n- /etc/grafana/provisioning\n- /var/lib/grafana/dashboards/quantum\n",
        "ALLOWED_SERVICES:\n- grafana-server\n",
        "ALLOWED:\n- Modify ONLY files under: /etc/grafana/provisioning, /var/lib/grafana/dashboards/quantum\n\
         - Restart/reload ONLY services: grafana-server\n",
        "[STEP N | UTC timestamp]",
        "Command:",
        "Status: PASS/FAIL",
        "Verification:",
        "HALT and ASK",
    ] {
        assert!(p.contains(needle), "the prompt lacks {needle:?}\n{p}");
    }
    assert!(
        p.lines()
            .any(|l| l.contains("STOP") && l.contains("rollback")),
        "no STOP-and-roll-back rule\n{p}"
    );
    assert_eq!(
        not_allowed(&p),
        [
            "- No changes outside the operation's allowed paths and services",
            "- No writes to production data stores, queues or streams",
            "- No secrets, credentials or key changes",
            "- No firewall/network/user permission changes",
            "- No changes to the order router",
        ],
        "NOT ALLOWED must be the policy's forbidden list\n{p}"
    );
    let reporting = &p[p.find("REPORTING CONTRACT").expect("a reporting contract")..];
    let mut at = 0;
    for s in [
        "EXEC SUMMARY",
        "CHANGES MADE",
        "VERIFICATION EVIDENCE",
        "RISK ASSESSMENT",
        "NEXT SAFE ACTIONS",
    ] {
        let i = reporting[at..]
            .find(s)
            .unwrap_or_else(|| panic!("no {s} (in order) in the reporting contract\n{p}"));
        at += i + s.len();
    }
    assert!(!p.contains("{{"), "an unfilled placeholder\n{p}");

    // A policy with no forbidden list: the seed's defaults.
    let cut = policy.find("forbidden:").expect("a forbidden list");
    repo.write("ops/policy.yaml", &policy[..cut]);
    let p = repo.ops_keyless(&prompt_args(&[])).ok().stdout();
    assert_eq!(not_allowed(&p), DEFAULT_FORBIDDEN, "\n{p}");

    // Outside any repository: the seed's defaults too.
    let p = run(repo.sb.ops_command(&repo.sb.root, None, &prompt_args(&[])))
        .ok()
        .stdout();
    assert_eq!(not_allowed(&p), DEFAULT_FORBIDDEN, "\n{p}");
    assert!(p.contains("OPERATION_NAME: Fix Grafana provisioning wrappers"));
}

/// Any of the seven declaration fields missing (or empty): exit 2, no prompt.
#[test]
fn prompt_refuses_a_declaration_missing_a_field() {
    let sb = Sandbox::new();
    let full = prompt_args(&[]);
    run(sb.ops_command(&sb.root, None, &full)).ok();
    for flag in [
        "--operation",
        "--objective",
        "--risk_class",
        "--blast_radius",
        "--rollback_strategy",
        "--allowed_paths",
        "--allowed_services",
    ] {
        let mut args = Vec::new();
        let mut skipping = false;
        for a in &full {
            if a.starts_with("--") {
                skipping = *a == flag;
            }
            if !skipping {
                args.push(*a);
            }
        }
        let out = run(sb.ops_command(&sb.root, None, &args)).code(2);
        assert!(out.stdout().is_empty(), "without {flag}\n{out}");
    }
    let mut empty = full.clone();
    empty[2] = "  ";
    run(sb.ops_command(&sb.root, None, &empty))
        .code(2)
        .says(&["--operation is empty"]);
    let mut bad = full.clone();
    bad[6] = "YOLO";
    run(sb.ops_command(&sb.root, None, &bad)).code(2);
}

/// `ops/prompt_template.txt` replaces the built-in template; `--ledger` prints a P5 YAML snippet
/// that parses; `--grant` adds the grant's bounds.
#[test]
fn prompt_template_override_ledger_snippet_and_grant_bounds() {
    let team = Team::new();
    let repo = &team.repo;

    repo.write(
        "ops/prompt_template.txt",
        "HOUSE TEMPLATE\nop={{OPERATION_NAME}}\nrisk={{RISK_CLASS}}\n\
         paths={{ALLOWED_PATHS_INLINE}}\nservices={{ALLOWED_SERVICES_INLINE}}\n\
         forbidden:\n{{NOT_ALLOWED}}\n{{UNKNOWN}}\n",
    );
    let p = repo.ops_keyless(&prompt_args(&[])).ok().stdout();
    assert_eq!(
        p,
        "HOUSE TEMPLATE\nop=Fix Grafana provisioning wrappers\nrisk=LOW_RISK_CONFIG\n\
         paths=/etc/grafana/provisioning, /var/lib/grafana/dashboards/quantum\n\
         services=grafana-server\nforbidden:\n\
         - No changes outside the operation's allowed paths and services\n\
         - No writes to production data stores, queues or streams\n\
         - No secrets, credentials or key changes\n\
         - No firewall/network/user permission changes\n{{UNKNOWN}}\n"
    );
    std::fs::remove_file(repo.path("ops/prompt_template.txt")).unwrap();

    let snippet = repo
        .ops_keyless(&prompt_args(&[
            "--ledger",
            "--changes_summary",
            "Unwrapped 12 dashboards",
            "--notes",
            "yes",
        ]))
        .ok()
        .stdout();
    assert!(snippet.starts_with("---\n"), "{snippet}");
    let y: Value = serde_saphyr::from_str(&snippet).expect("the ledger snippet is YAML");
    for k in [
        "operation_id",
        "operation_name",
        "requested_by",
        "approved_by",
        "approval_timestamp",
        "execution_timestamp",
        "risk_class",
        "blast_radius",
        "changes_summary",
        "objective",
        "rollback_strategy",
        "allowed_paths",
        "allowed_services",
        "outcome",
        "notes",
    ] {
        assert!(y.get(k).is_some(), "the snippet lacks {k}\n{snippet}");
    }
    assert_eq!(y["operation_name"], "Fix Grafana provisioning wrappers");
    assert_eq!(y["risk_class"], "LOW_RISK_CONFIG");
    assert_eq!(y["changes_summary"], "Unwrapped 12 dashboards");
    // `yes` must stay a string, not turn into a boolean.
    assert_eq!(y["notes"], "yes");
    assert_eq!(
        y["allowed_paths"],
        serde_json::json!([
            "/etc/grafana/provisioning",
            "/var/lib/grafana/dashboards/quantum"
        ])
    );
    assert_eq!(y["allowed_services"], serde_json::json!(["grafana-server"]));

    // A grant to an automation signer, approved by bob: its bounds appear in the scope contract.
    let bot = repo.sb.generate_key("deploy-bot");
    let bot_pub = bot.pub_path().display().to_string();
    repo.ops(
        &team.alice,
        &[
            "keys",
            "add",
            "deploy-bot",
            &bot_pub,
            "--role",
            "automation",
        ],
    )
    .ok();
    let out = repo
        .ops(
            &team.alice,
            &[
                "grant",
                "create",
                "--grantee",
                "deploy-bot",
                "--risk-classes",
                "LOW_RISK_CONFIG",
                "SERVICE_RESTART",
                "--paths",
                "deploy/",
                "--services",
                "grafana-server",
                "--environments",
                "prod",
                "--expires-in-hours",
                "4",
            ],
        )
        .ok();
    let grant = printed_id(&out);
    assert!(grant.starts_with("GRANT-"), "{grant}");
    repo.ops(&team.bob, &["sign", &grant]).ok();
    let p = repo
        .ops_keyless(&prompt_args(&["--grant", &grant]))
        .ok()
        .stdout();
    let scope = &p[p.find("## SCOPE CONTRACT").unwrap()..p.find("NOT ALLOWED:").unwrap()];
    for needle in [
        format!("grant {grant} to deploy-bot, valid until "),
        "risk classes: LOW_RISK_CONFIG, SERVICE_RESTART".into(),
        "paths: deploy/".into(),
        "services: grafana-server".into(),
        "environments: prod".into(),
        format!("--grant {grant}"),
    ] {
        assert!(scope.contains(&needle), "the scope lacks {needle:?}\n{p}");
    }
    repo.ops_keyless(&prompt_args(&["--grant", "GRANT-2019-01-01-001"]))
        .code(2);
}

// ---------------------------------------------------------------------------------------------
// runbook, report, changelog
// ---------------------------------------------------------------------------------------------

/// The latest `at` of the signoffs of record `id`.
fn last_signoff_at(repo: &Repo, id: &str) -> String {
    show(repo, id)["signoffs"]
        .as_array()
        .expect("signoffs")
        .iter()
        .map(|s| s["at"].as_str().expect("at").to_string())
        .max()
        .expect("a signoff")
}

#[test]
fn runbook_section_6_carries_the_signoff_fields() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    let text = repo.ops_keyless(&["runbook", &id]).ok().stdout();
    for s in [
        "## 1) Operation declaration",
        "## 2) Scope contract",
        "## 6) Signoff & Ledger Entry",
    ] {
        assert!(text.contains(s), "no {s:?}\n{text}");
    }
    assert!(text.contains("- OPERATION_NAME: Restart web"), "{text}");
    let six = section(&text, "## 6) Signoff & Ledger Entry");
    let at = last_signoff_at(repo, &id);
    for needle in [
        "- requested_by: alice".to_string(),
        "- approved_by: bob".to_string(),
        format!("- approval_timestamp: {at}"),
        format!("operation_id: {id}"),
    ] {
        assert!(six.contains(&needle), "section 6 lacks {needle:?}\n{six}");
    }
    // The YAML block of section 6 parses and agrees.
    let block = &six[six.find("```yaml\n").expect("a yaml block") + 8..];
    let block = &block[..block.find("```").expect("the block's end")];
    let y: Value = serde_saphyr::from_str(block).expect("section 6 YAML");
    assert_eq!(y["requested_by"], "alice");
    assert_eq!(y["approved_by"], "bob");
    assert_eq!(y["approval_timestamp"], at.as_str());

    // Pending: nothing is filled in that has not happened.
    let pending = repo.declare(&team.alice, "Restart api", "SERVICE_RESTART");
    let text = repo.ops_keyless(&["runbook", &pending]).ok().stdout();
    let six = section(&text, "## 6) Signoff & Ledger Entry");
    assert!(six.contains("- requested_by: alice"), "{six}");
    assert!(six.contains("- approved_by: (not yet)"), "{six}");
    assert!(six.contains("- approval_timestamp: (not yet)"), "{six}");

    // A self-approved low-risk record: SELF, as the seed writes it.
    let own = printed_id(&repo.ops(&team.alice, &record_args("Tune web", &[])).ok());
    let text = repo.ops_keyless(&["runbook", &own]).ok().stdout();
    assert!(
        section(&text, "## 6) Signoff & Ledger Entry").contains("- approved_by: SELF"),
        "{text}"
    );
    repo.ops_keyless(&["runbook", "OPS-2019-01-01-999"]).code(2);
}

/// The reporting contract of a recorded operation: the five sections, CHANGES MADE listing the
/// files of the commits carrying `Ops-Id: <id>` and not an unrelated commit, the proof digest as
/// verification evidence; the same as JSON.
#[test]
fn report_follows_the_reporting_contract_with_linked_commits_and_evidence() {
    if !require_tool("sha256sum", "apt-get install coreutils") {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    let proof = proof_file(&repo.sb, "P_report.txt", b"web: 3 replicas ready\n");
    let digest = sha256sum(&proof);
    let proof_s = proof.display().to_string();
    let out = repo
        .ops(
            &team.alice,
            &record_args("Scale web", &["--proof-path", &proof_s, "--notes", "peak"]),
        )
        .ok();
    let id = printed_id(&out);
    repo.commit_all("Record the web scale-up");

    repo.ops_keyless(&["use", &id]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    std::fs::create_dir_all(repo.path("deploy/extra")).unwrap();
    repo.write("deploy/extra/hpa.yaml", "max: 6\n");
    repo.commit_all("Scale web to 3");
    let linked = repo.rev("HEAD");
    let msg = repo.git(&["log", "-1", "--format=%B"]).ok().stdout();
    assert!(msg.contains(&format!("Ops-Id: {id}")), "{msg}");

    repo.ops_keyless(&["use", "--clear"]).ok();
    repo.write("UNRELATED_NOTES.txt", "lunch at noon\n");
    repo.commit_all("Unrelated notes");
    let unrelated = repo.rev("HEAD");

    let md = repo.ops_keyless(&["report", &id]).ok().stdout();
    let mut last = 0;
    for s in [
        "## EXEC SUMMARY",
        "## CHANGES MADE",
        "## VERIFICATION EVIDENCE",
        "## RISK ASSESSMENT",
        "## NEXT SAFE ACTIONS",
    ] {
        let i = md.find(s).unwrap_or_else(|| panic!("no {s}\n{md}"));
        assert!(i >= last, "{s} out of order\n{md}");
        last = i;
    }
    let summary = section(&md, "## EXEC SUMMARY");
    assert!(
        summary.contains(&id) && summary.contains("Scale web"),
        "{summary}"
    );
    let changes = section(&md, "## CHANGES MADE");
    for needle in [
        "deploy/web.yaml",
        "deploy/extra/hpa.yaml",
        &linked[..10],
        "Scale web to 3",
    ] {
        assert!(
            changes.contains(needle),
            "CHANGES MADE lacks {needle:?}\n{md}"
        );
    }
    for needle in ["UNRELATED_NOTES.txt", &unrelated[..10], "Unrelated notes"] {
        assert!(
            !changes.contains(needle),
            "CHANGES MADE lists {needle:?}\n{md}"
        );
    }
    let evidence = section(&md, "## VERIFICATION EVIDENCE");
    assert!(evidence.contains(&digest), "no proof digest\n{md}");
    assert!(!section(&md, "## RISK ASSESSMENT").trim().is_empty());
    assert!(!section(&md, "## NEXT SAFE ACTIONS").trim().is_empty());

    let j = repo
        .ops_keyless(&["report", &id, "--format", "json"])
        .ok()
        .json();
    assert_eq!(j["id"], id.as_str());
    for k in [
        "exec_summary",
        "changes_made",
        "verification_evidence",
        "risk_assessment",
        "next_safe_actions",
    ] {
        assert!(
            j.get(k).is_some_and(|v| !v.is_null()),
            "the JSON report lacks {k}\n{j:#}"
        );
    }
    let files: BTreeSet<&str> = j["changes_made"]["files"]
        .as_array()
        .expect("changes_made.files")
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains("deploy/web.yaml") && files.contains("deploy/extra/hpa.yaml"));
    assert!(!files.contains("UNRELATED_NOTES.txt"), "{files:?}");
    let commits: Vec<&str> = j["changes_made"]["commits"]
        .as_array()
        .expect("changes_made.commits")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(commits.iter().any(|c| linked.starts_with(c)), "{commits:?}");
    assert!(
        !commits.iter().any(|c| unrelated.starts_with(c)),
        "{commits:?}"
    );
    let ev = j["verification_evidence"].to_string();
    assert!(ev.contains(&digest), "{ev}");
    for k in ["risk_assessment", "next_safe_actions"] {
        assert!(
            j[k].as_array().is_some_and(|a| !a.is_empty()),
            "{k} is empty\n{j:#}"
        );
    }
    repo.ops_keyless(&["report", "OPS-2019-01-01-999"]).code(2);
}

/// The Markdown changelog: `## YYYY-MM` sections newest first, entries newest first, each a flat
/// YAML block with requested_by / approved_by / approval_timestamp; the same bytes every run.
#[test]
fn changelog_has_month_sections_newest_first_and_is_reproducible() {
    if !require_tool("sha256sum", "apt-get install coreutils") {
        return;
    }
    let (team, approved) = Team::with_approved_operation();
    let repo = &team.repo;
    let pending = repo.declare(&team.alice, "Restart api", "SERVICE_RESTART");
    let proof = proof_file(&repo.sb, "P_jan.txt", b"jan\n");
    let proof_s = proof.display().to_string();
    for (id, name) in [
        ("OPS-2026-01-27-011", "P2.7 Deploy"),
        ("OPS-2026-01-27-012", "P2.7 Rollback"),
        ("OPS-2025-12-31-001", "Year-end freeze"),
    ] {
        let mut extra = vec!["--operation-id", id, "--proof-path", &proof_s];
        if id.ends_with("012") {
            extra.extend([
                "--outcome",
                "ROLLBACK",
                "--rollback-of",
                "OPS-2026-01-27-011",
            ]);
        }
        repo.ops(&team.alice, &record_args(name, &extra)).ok();
    }
    repo.commit_all("Ledger");

    let out = repo
        .ops_keyless(&["changelog", "--out", "docs/OPS_CHANGELOG.md"])
        .ok();
    out.says(&["docs/OPS_CHANGELOG.md", "5 operations"]);
    let first = std::fs::read(repo.path("docs/OPS_CHANGELOG.md")).expect("the changelog");
    repo.ops_keyless(&["changelog", "--out", "docs/OPS_CHANGELOG.md"])
        .ok();
    let second = std::fs::read(repo.path("docs/OPS_CHANGELOG.md")).unwrap();
    assert_eq!(first, second, "two runs gave different bytes");
    let stdout = repo.ops_keyless(&["changelog"]).ok().stdout;
    assert_eq!(stdout, first, "stdout and --out differ");
    let text = String::from_utf8(first).unwrap();

    let months: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    let today_month = &approved[4..11];
    let mut expected: Vec<&str> = vec![today_month, "2026-01", "2025-12"];
    expected.sort();
    expected.dedup();
    expected.reverse();
    assert_eq!(months, expected, "\n{text}");
    for m in &months {
        assert!(
            m.len() == 7 && m.as_bytes()[4] == b'-',
            "not a YYYY-MM section: {m}"
        );
    }
    let jan = section(&text, "## 2026-01");
    let (i12, i11) = (
        jan.find("OPS-2026-01-27-012").expect("012 in January"),
        jan.find("OPS-2026-01-27-011").expect("011 in January"),
    );
    assert!(i12 < i11, "entries must be newest first\n{jan}");

    // Every block is one flat YAML mapping with the seed's derived fields.
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("```yaml\n") {
        let body = &rest[i + 8..];
        let end = body.find("```").expect("a closed block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    assert_eq!(blocks.len(), 5, "\n{text}");
    let mut by_id = std::collections::BTreeMap::new();
    for b in &blocks {
        let y: Value = serde_saphyr::from_str(b).unwrap_or_else(|e| panic!("{e}\n{b}"));
        for k in ["requested_by", "approved_by", "approval_timestamp"] {
            assert!(y.get(k).is_some(), "no {k} in\n{b}");
        }
        assert!(y.get("signoffs").is_none(), "not flat:\n{b}");
        assert!(y.get("evidence").is_none(), "evidence not flattened:\n{b}");
        by_id.insert(y["operation_id"].as_str().unwrap().to_string(), y);
    }
    let a = &by_id[&approved];
    assert_eq!(a["requested_by"], "alice");
    assert_eq!(a["approved_by"], "bob");
    assert_eq!(
        a["approval_timestamp"],
        last_signoff_at(repo, &approved).as_str()
    );
    let p = &by_id[&pending];
    assert_eq!(p["requested_by"], "alice");
    assert!(
        p["approved_by"].is_null() && p["approval_timestamp"].is_null(),
        "{p}"
    );
    let j = &by_id["OPS-2026-01-27-011"];
    assert_eq!(j["approved_by"], "SELF");
    assert_eq!(j["proof_file"]["sha256"], sha256sum(&proof).as_str());
    assert_eq!(
        by_id["OPS-2026-01-27-012"]["rollback_of"],
        "OPS-2026-01-27-011"
    );
}

// ---------------------------------------------------------------------------------------------
// Output safety
// ---------------------------------------------------------------------------------------------

/// Ledger strings are untrusted: an ANSI escape (CSI, OSC with BEL) in the operation name, notes
/// and other fields never reaches the terminal raw from runbook, report or changelog.
#[test]
fn terminal_escapes_in_ledger_strings_never_reach_the_terminal_raw() {
    let team = Team::new();
    let repo = &team.repo;
    let name = "Deploy \x1b[31mRED\x1b[0m \u{9b}2J \u{202e}txt.exe";
    let notes = "evil\x1b]0;pwned\x07 \x1b[2J";
    let out = repo
        .ops(
            &team.alice,
            &record_args(
                name,
                &[
                    "--notes",
                    notes,
                    "--environment",
                    "prod\x1b[0m",
                    "--rollback-strategy",
                    "git revert\x1b[8m",
                ],
            ),
        )
        .ok();
    let id = printed_id(&out);
    assert!(
        raw_controls(&out.stderr).is_empty(),
        "record's stderr\n{out}"
    );
    // The ledger keeps the exact strings (the signature covers them).
    assert_eq!(show(repo, &id)["operation_name"], name);
    assert_eq!(show(repo, &id)["notes"], notes);
    repo.commit_all("Record");

    for args in [
        vec!["runbook", &id],
        vec!["report", &id],
        vec!["changelog"],
        vec!["show", &id],
        vec!["list"],
    ] {
        let out = repo.ops_keyless(&args).ok();
        let found = raw_controls(&out.stdout);
        assert!(
            found.is_empty(),
            "git ops {args:?} printed raw {found:?}\n{out}"
        );
        assert!(raw_controls(&out.stderr).is_empty(), "{out}");
    }
    // Escaped, not dropped: the reader still sees that something odd is there.
    let runbook = repo.ops_keyless(&["runbook", &id]).ok().stdout();
    assert!(runbook.contains("\\u{1b}[31mRED"), "{runbook}");
    let report = repo.ops_keyless(&["report", &id]).ok().stdout();
    assert!(report.contains("\\u{1b}[31mRED"), "{report}");

    // JSON escapes ESC and BEL by its own rules, and still parses to the exact strings.
    let out = repo.ops_keyless(&["report", &id, "--format", "json"]).ok();
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));
    assert_eq!(out.json()["operation"], name);

    repo.ops_keyless(&["changelog", "--out", "docs/OPS_CHANGELOG.md"])
        .ok();
    let file = std::fs::read(repo.path("docs/OPS_CHANGELOG.md")).unwrap();
    let found = raw_controls(&file);
    assert!(found.is_empty(), "the changelog file holds raw {found:?}");
}

/// PRODUCT BUG (see the report): `git ops report --format json` passes C1 controls (U+009B, the
/// 8-bit CSI) and bidi overrides (U+202E) through raw, while every text view escapes them
/// ("control characters are escaped before they reach a terminal"). JSON can escape them
/// losslessly as \u009b / \u202e.
#[test]
fn report_json_does_not_pass_c1_controls_or_bidi_overrides_raw() {
    let team = Team::new();
    let repo = &team.repo;
    let name = "Deploy \u{9b}2J \u{202e}txt.exe";
    let id = printed_id(&repo.ops(&team.alice, &record_args(name, &[])).ok());
    let out = repo.ops_keyless(&["report", &id, "--format", "json"]).ok();
    assert_eq!(
        out.json()["operation"],
        name,
        "the JSON must still carry the exact name"
    );
    let found = raw_controls(&out.stdout);
    assert!(
        found.is_empty(),
        "report --format json printed raw {found:?}\n{out}"
    );
}
