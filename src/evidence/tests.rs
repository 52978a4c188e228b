//! `collect` and `validate` end to end, against real servers, a real repository and real files.

use std::time::{Duration, Instant};

use super::testkit::{
    HttpBehaviour, HttpServer, RedisServer, closed_port, git_repo, run_git, silent_listener,
};
use super::*;
use crate::model::Record;
use crate::model::yaml;

const PAGE: &str =
    "# HELP p27_corr_ready ready\np27_corr_ready 1.0\np27_clusters_count 1.0\nother 2\n";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn now() -> Timestamp {
    "2026-01-27T06:15:30Z".parse().unwrap()
}

#[test]
fn collect_gathers_everything_and_records_each_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git_repo(&repo);
    std::fs::write(repo.join("deploy.conf"), "a=1\n").unwrap();
    run_git(&repo, &["add", "."]);
    run_git(&repo, &["commit", "-q", "-m", "deploy"]);
    let proof = tmp.path().join("P2_7_PROOF.txt");
    std::fs::write(&proof, "proof: ok\n").unwrap();

    let server = HttpServer::start(HttpBehaviour::Page(PAGE.into()));
    let refused = format!("http://127.0.0.1:{}/metrics", closed_port());
    let urls = vec![server.url("/metrics"), refused.clone()];
    let grep = strings(&["p27_"]);
    let redis = RedisServer::start();
    let redis_url = redis
        .as_ref()
        .map(|r| r.url())
        .unwrap_or_else(|| format!("redis://127.0.0.1:{}", closed_port()));
    if let Some(r) = &redis {
        r.cli(&[
            "HSET",
            "quantum:portfolio:cluster_state",
            "cluster_stress",
            "0.79",
        ]);
    }
    let redis_cmds = strings(&["HGETALL quantum:portfolio:cluster_state"]);
    let services = strings(&["quantum-portfolio-gate"]);

    let req = Request {
        repo_dir: Some(&repo),
        proof_path: Some(&proof),
        metrics_urls: &urls,
        metrics_grep: &grep,
        redis_url: &redis_url,
        redis_cmds: &redis_cmds,
        services: &services,
        limits: Limits::default(),
    };
    validate(&req).unwrap();
    let (ev, errors) = collect(&req, now());
    assert_eq!(ev.errors, errors);
    assert_eq!(ev.collected_at, Some(now()));
    assert_eq!(
        ev.hostname,
        Some(host::hostname(&Limits::default()).unwrap())
    );

    let git = ev.git.as_ref().unwrap();
    assert_eq!(git.commit, run_git(&repo, &["rev-parse", "HEAD"]));
    assert_eq!(git.branch.as_deref(), Some("main"));
    assert!(!git.dirty);

    let pf = ev.proof_file.as_ref().unwrap();
    assert_eq!(pf.size_bytes, Some(10));
    assert_eq!(pf.sha256.as_ref().unwrap().len(), 64);

    assert_eq!(
        ev.metrics_snapshot.as_deref(),
        Some(
            format!(
                "# {} | grep 'p27_'\n# HELP p27_corr_ready ready\np27_corr_ready 1.0\np27_clusters_count 1.0\n",
                urls[0]
            )
            .as_str()
        )
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("metrics {refused}: connection refused"))),
        "{errors:?}"
    );

    if redis.is_some() {
        assert_eq!(
            ev.redis_snapshot.as_deref(),
            Some("# redis-cli HGETALL quantum:portfolio:cluster_state\ncluster_stress\n0.79\n")
        );
        assert!(!errors.iter().any(|e| e.starts_with("redis")), "{errors:?}");
    }

    let svc = &ev.services_status["quantum-portfolio-gate"];
    if svc.active == services::UNAVAILABLE {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("service quantum-portfolio-gate: "))
        );
    }

    // Errors come in a fixed order: host, git, proof, metrics, redis, services.
    let order = |e: &String| match e.split([' ', ':']).next().unwrap() {
        "hostname" => 0,
        "git" => 1,
        "proof_file" => 2,
        "metrics" => 3,
        "redis" => 4,
        "service" => 5,
        other => panic!("unexpected error prefix {other:?} in {e}"),
    };
    assert!(
        errors.windows(2).all(|w| order(&w[0]) <= order(&w[1])),
        "{errors:?}"
    );

    // The evidence survives a ledger round trip: YAML out, YAML in, same record.
    let mut record = yaml::parse_record(
        "operation_id: OPS-2026-01-27-011\noperation_name: P2.7 Deploy\nobjective: o\n\
         risk_class: SERVICE_RESTART\nblast_radius: b\nrollback_strategy: r\n\
         allowed_paths: [deploy/]\nallowed_services: [quantum-portfolio-gate]\n",
        1,
    )
    .unwrap();
    let Record::Operation(op) = &mut record else {
        unreachable!()
    };
    op.evidence = Some(ev.clone());
    let text = yaml::render_record(&record);
    assert!(text.contains("metrics_snapshot: |"), "{text}");
    let back = yaml::parse_record(&text, 1).unwrap();
    assert_eq!(back, record, "{text}");
}

#[test]
fn an_empty_request_collects_the_host_only() {
    let (ev, errors) = collect(&Request::default(), now());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(ev.hostname.is_some());
    assert_eq!(
        ev,
        Evidence {
            collected_at: Some(now()),
            hostname: ev.hostname.clone(),
            ..Evidence::default()
        }
    );
}

#[test]
fn a_missing_proof_and_a_bare_directory_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.txt");
    let req = Request {
        repo_dir: Some(tmp.path()),
        proof_path: Some(&missing),
        ..Request::default()
    };
    let (ev, errors) = collect(&req, now());
    assert_eq!(ev.git, None);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with(&format!("git ({}): ", tmp.path().display())));
    assert_eq!(
        errors[1],
        format!("proof_file: {} does not exist", missing.display())
    );
    let pf = ev.proof_file.unwrap();
    assert_eq!(
        pf.error.unwrap(),
        format!("{} does not exist", missing.display())
    );
}

/// Slow endpoints in different collectors are waited for side by side, each within its timeout.
#[test]
fn hanging_endpoints_cost_one_timeout_each_in_parallel() {
    let hang = HttpServer::start(HttpBehaviour::Hang);
    let urls = vec![hang.url("/a"), hang.url("/b")];
    let redis_url = format!("redis://{}", silent_listener());
    let cmds = strings(&["PING", "DBSIZE"]);
    let req = Request {
        metrics_urls: &urls,
        redis_url: &redis_url,
        redis_cmds: &cmds,
        limits: Limits {
            timeout: Duration::from_millis(300),
            max_bytes: 1 << 20,
        },
        ..Request::default()
    };
    let t = Instant::now();
    let (ev, errors) = collect(&req, now());
    let took = t.elapsed();
    // Two metrics timeouts in a row (600 ms) while redis times out once alongside.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(ev.metrics_snapshot, None);
    assert_eq!(ev.redis_snapshot, None);
    assert_eq!(
        errors,
        [
            format!("metrics {}: timed out after 300 ms", urls[0]),
            format!("metrics {}: timed out after 300 ms", urls[1]),
            "redis `PING`: timed out after 300 ms (1 more command not run)".to_string(),
        ]
    );
}

#[test]
fn validate_refuses_each_bad_argument_before_anything_runs() {
    let ok = strings(&["http://127.0.0.1:8048/metrics"]);
    let base = Request {
        metrics_urls: &ok,
        ..Request::default()
    };
    validate(&base).unwrap();

    let https = strings(&["https://prom.example/metrics"]);
    let e = validate(&Request {
        metrics_urls: &https,
        ..base.clone()
    })
    .unwrap_err();
    assert!(
        e.contains("https is not supported (git-ops has no TLS stack)"),
        "{e}"
    );

    let bad_re = strings(&["p27_(corr"]);
    let e = validate(&Request {
        metrics_grep: &bad_re,
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.contains("not a valid regex"), "{e}");

    let e = validate(&Request {
        redis_url: "rediss://cache:6380",
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.contains("TLS (rediss://) is not supported"), "{e}");

    let write = strings(&["GET ok", "XADD quantum:stream:orders * side buy"]);
    let e = validate(&Request {
        redis_cmds: &write,
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.starts_with("redis command `XADD` is refused"), "{e}");

    let svc = strings(&["--host=prod"]);
    let e = validate(&Request {
        services: &svc,
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.contains("is not a systemd unit name"), "{e}");

    let e = validate(&Request {
        limits: Limits {
            timeout: Duration::ZERO,
            max_bytes: 1,
        },
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.contains("timeout must be more than zero"), "{e}");
}
