//! Evidence collectors of the auto-ledger (DESIGN §2.1; seed "P5+ Auto-Ledger"): the git commit
//! and branch, the hostname, the proof file's digest, HTTP metrics, redis replies and systemd
//! service status.
//!
//! Every collector is bounded: by [`Limits::timeout`] (a child process is killed, a socket read
//! gives up) and by [`Limits::max_bytes`] (reading stops at the cap, so memory stays bounded
//! whatever a server or a command sends). A collector that fails records why in
//! [`Evidence::errors`] and the rest still run, so the caller chooses between lenient mode (keep
//! the partial evidence) and strict mode (refuse to append anything).
//!
//! Collection only ever reads: redis commands are checked against an allowlist of read commands
//! before anything is sent, and metrics are fetched with a plain `GET`.

pub mod git;
pub mod host;
pub mod metrics;
pub mod proof;
pub mod redis;
pub mod services;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use std::path::Path;
use std::time::Duration;

use crate::model::Timestamp;
use crate::model::record::Evidence;

/// The default redis URL, as `redis-cli` with no arguments would connect.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Bounds that every collector honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long one collection step may take: one HTTP fetch, one redis command (connecting and
    /// authenticating is a step of its own), one child process.
    pub timeout: Duration,
    /// The most bytes read from one response, one redis reply or one command's output.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_bytes: 1 << 20,
        }
    }
}

/// What to collect. Empty lists and `None` skip a collector; the hostname is always collected.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The working tree whose HEAD, branch and dirty state are recorded.
    pub repo_dir: Option<&'a Path>,
    pub proof_path: Option<&'a Path>,
    pub metrics_urls: &'a [String],
    /// Regexes; a metrics line is kept when it matches any of them. None given: keep all lines.
    pub metrics_grep: &'a [String],
    /// `redis://[user:password@]host[:port][/db]`.
    pub redis_url: &'a str,
    /// Read commands such as `HGETALL app:health`.
    pub redis_cmds: &'a [String],
    /// systemd units whose `is-active` state and last journal lines are recorded.
    pub services: &'a [String],
    pub limits: Limits,
}

impl Default for Request<'_> {
    fn default() -> Self {
        Request {
            repo_dir: None,
            proof_path: None,
            metrics_urls: &[],
            metrics_grep: &[],
            redis_url: DEFAULT_REDIS_URL,
            redis_cmds: &[],
            services: &[],
            limits: Limits::default(),
        }
    }
}

/// Why a collector could not produce its evidence. The text is what lands in
/// [`Evidence::errors`], after a prefix naming the collector and its target.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument that no collector can use; [`validate`] reports these before anything runs.
    #[error("{0}")]
    Invalid(String),
    #[error("timed out after {}", human_duration(*.0))]
    Timeout(Duration),
    #[error("more than {limit} bytes; stopped reading at the limit")]
    TooLarge { limit: usize },
    #[error("connection refused by {addr}; is the service listening there?")]
    Refused { addr: String },
    #[error("HTTP status {status} {reason}; expected 2xx")]
    HttpStatus { status: u16, reason: String },
    #[error("HTTP request failed: {0}")]
    Http(String),
    #[error("redis replied with an error: {0}")]
    RedisReply(String),
    #[error("redis protocol error: {0}")]
    Protocol(String),
    #[error("`{program}` is not installed or not on PATH")]
    Missing { program: String },
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{0} does not exist")]
    NoSuchFile(String),
    #[error("{0} is a directory, not a file")]
    IsDirectory(String),
    #[error("{path} is a {kind}, not a regular file")]
    NotRegularFile { path: String, kind: &'static str },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {}", s.lines().collect::<Vec<_>>().join(" / "))
    }
}

pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Checks the request's arguments before anything runs, so strict mode can refuse early: every
/// regex compiles, every metrics URL is `http://`, the redis URL parses, every redis command is a
/// read command, every service name is a plain systemd unit name.
pub fn validate(req: &Request) -> Result<(), String> {
    if req.limits.timeout.is_zero() {
        return Err("the evidence timeout must be more than zero".into());
    }
    if req.limits.max_bytes == 0 {
        return Err("the evidence size limit must be more than zero bytes".into());
    }
    metrics::compile_patterns(req.metrics_grep).map_err(|e| e.to_string())?;
    for url in req.metrics_urls {
        metrics::check_url(url).map_err(|e| e.to_string())?;
    }
    redis::RedisUrl::parse(req.redis_url).map_err(|e| e.to_string())?;
    for cmd in req.redis_cmds {
        redis::parse_read_command(cmd).map_err(|e| e.to_string())?;
    }
    for svc in req.services {
        services::check_name(svc).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs every collector that the request asks for. Each failure is recorded in `Evidence.errors`
/// (and, for the proof file, in `ProofFile.error`) and also returned in the Vec, so the caller can
/// be lenient (record and continue) or strict (fail, append nothing).
///
/// The network and service collectors run in parallel, so a request whose every endpoint hangs
/// takes about one timeout per item of its longest list, not the sum of all lists.
pub fn collect(req: &Request, now: Timestamp) -> (Evidence, Vec<String>) {
    let mut ev = Evidence {
        collected_at: Some(now),
        ..Evidence::default()
    };
    let mut errors = Vec::new();
    let limits = &req.limits;

    let (metrics, redis, services) = std::thread::scope(|s| {
        let metrics = (!req.metrics_urls.is_empty())
            .then(|| s.spawn(|| metrics::collect(req.metrics_urls, req.metrics_grep, limits)));
        let redis = (!req.redis_cmds.is_empty())
            .then(|| s.spawn(|| redis::collect(req.redis_url, req.redis_cmds, limits)));
        let services = (!req.services.is_empty()).then(|| {
            s.spawn(|| {
                req.services
                    .iter()
                    .map(|svc| (svc.clone(), services::collect(svc, limits)))
                    .collect::<Vec<_>>()
            })
        });

        match host::hostname(limits) {
            Ok(h) => ev.hostname = Some(h),
            Err(e) => errors.push(format!("hostname: {e}")),
        }
        if let Some(dir) = req.repo_dir {
            match git::collect(dir, limits) {
                Ok(g) => ev.git = Some(g),
                Err(e) => errors.push(format!("git ({}): {e}", dir.display())),
            }
        }
        if let Some(path) = req.proof_path {
            let pf = proof::collect(path, limits);
            if let Some(e) = &pf.error {
                errors.push(format!("proof_file: {e}"));
            }
            ev.proof_file = Some(pf);
        }

        (metrics.map(join), redis.map(join), services.map(join))
    });

    if let Some((text, errs)) = metrics {
        ev.metrics_snapshot = text;
        errors.extend(errs);
    }
    if let Some((text, errs)) = redis {
        ev.redis_snapshot = text;
        errors.extend(errs);
    }
    for (name, (status, errs)) in services.into_iter().flatten() {
        ev.services_status.insert(name, status);
        errors.extend(errs);
    }

    ev.errors = errors.clone();
    (ev, errors)
}

/// Joins a collector thread; a panic in it is a bug, re-raised here with its own message.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[cfg(test)]
mod tests;
