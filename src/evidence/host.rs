//! The host: its name, and running a local command (git, systemctl, journalctl) within the
//! limits, killing it when it overruns.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Error, Limits};

/// The most stderr kept from a child; more is read and dropped, so the child never blocks on it.
const STDERR_KEEP: usize = 16 * 1024;

/// The machine's hostname: the kernel's (`/proc/sys/kernel/hostname`, what `hostname` prints),
/// else `/etc/hostname`, else the `hostname` command.
pub fn hostname(limits: &Limits) -> Result<String, Error> {
    for path in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Some(name) = clean_hostname(&s)
        {
            return Ok(name);
        }
    }
    let out = run(&mut Command::new("hostname"), limits, OnCap::Fail)?;
    if !out.success() {
        return Err(out.failure("hostname"));
    }
    clean_hostname(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| Error::Other("the hostname is empty".into()))
}

fn clean_hostname(s: &str) -> Option<String> {
    let name = s.trim();
    (!name.is_empty() && !name.chars().any(char::is_control)).then(|| name.to_string())
}

/// What to do when a child's stdout passes `max_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnCap {
    /// Kill the child and fail with [`Error::TooLarge`].
    Fail,
    /// Kill the child and return what was read, marked `truncated`: for callers that only need
    /// to know whether there was any output.
    Truncate,
}

/// A finished child. `status` is `None` when the child was killed at the size cap.
#[derive(Debug)]
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub truncated: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The error for a child that exited unsuccessfully.
    pub fn failure(&self, command: impl Into<String>) -> Error {
        Error::CommandFailed {
            command: command.into(),
            status: match self.status {
                Some(s) => s.to_string(),
                None => "killed".into(),
            },
            stderr: self.stderr.clone(),
        }
    }
}

enum Msg {
    Stdout(io::Result<Vec<u8>>, bool),
    Stderr(String),
}

/// Runs `cmd` with stdin closed, collecting stdout (at most `limits.max_bytes`) and the start of
/// stderr. The child is killed when `limits.timeout` passes or stdout passes the cap.
///
/// The pipes are read on helper threads and waited for with a deadline, so even a grandchild
/// that keeps a pipe open cannot make this wait past the timeout.
pub fn run(cmd: &mut Command, limits: &Limits, on_cap: OnCap) -> Result<Output, Error> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let deadline = Instant::now() + limits.timeout;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Missing {
                program: program.clone(),
            },
            _ => Error::io(format!("cannot run `{program}`"), e),
        })?;

    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let cap = limits.max_bytes;
    let tx_out = tx.clone();
    thread::spawn(move || {
        let (res, over) = read_capped(&mut stdout, cap);
        let _ = tx_out.send(Msg::Stdout(res, over));
    });
    thread::spawn(move || {
        let (res, _) = read_capped(&mut stderr, STDERR_KEEP);
        let mut text = res.map(|b| String::from_utf8_lossy(&b).into_owned());
        // Drain the rest so that a chatty child does not block on a full stderr pipe.
        let _ = io::copy(&mut stderr, &mut io::sink());
        if let Ok(t) = &mut text {
            t.truncate(t.trim_end().len());
        }
        let _ = tx.send(Msg::Stderr(text.unwrap_or_default()));
    });

    let mut out: Option<(Vec<u8>, bool)> = None;
    let mut err: Option<String> = None;
    let mut status: Option<ExitStatus> = None;
    loop {
        if status.is_none() {
            status = child
                .try_wait()
                .map_err(|e| Error::io(format!("cannot wait for `{program}`"), e))?;
        }
        if let Some((buf, true)) = &out {
            kill(&mut child);
            return match on_cap {
                OnCap::Fail => Err(Error::TooLarge { limit: cap }),
                OnCap::Truncate => Ok(Output {
                    status: None,
                    stdout: buf.clone(),
                    stderr: err.unwrap_or_default(),
                    truncated: true,
                }),
            };
        }
        if let (Some(st), Some((buf, _)), Some(e)) = (status, &out, &err) {
            return Ok(Output {
                status: Some(st),
                stdout: buf.clone(),
                stderr: e.clone(),
                truncated: false,
            });
        }
        let now = Instant::now();
        if now >= deadline {
            kill(&mut child);
            return Err(Error::Timeout(limits.timeout));
        }
        let wait = (deadline - now).min(Duration::from_millis(20));
        match rx.recv_timeout(wait) {
            Ok(Msg::Stdout(res, over)) => match res {
                Ok(buf) => out = Some((buf, over)),
                Err(e) => {
                    kill(&mut child);
                    return Err(Error::io(
                        format!("cannot read the output of `{program}`"),
                        e,
                    ));
                }
            },
            Ok(Msg::Stderr(e)) => err = Some(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Both readers are done; only the exit status is missing.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                thread::sleep(wait.min(Duration::from_millis(2)))
            }
        }
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads up to `cap` bytes; the flag says there was more (one byte more was seen).
fn read_capped(r: &mut impl Read, cap: usize) -> (io::Result<Vec<u8>>, bool) {
    let mut buf = Vec::new();
    let res = r.take((cap as u64).saturating_add(1)).read_to_end(&mut buf);
    let over = buf.len() > cap;
    buf.truncate(cap);
    (res.map(|_| buf), over)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ms: u64, max_bytes: usize) -> Limits {
        Limits {
            timeout: Duration::from_millis(ms),
            max_bytes,
        }
    }

    #[test]
    fn hostname_is_what_the_hostname_command_prints() {
        if !crate::evidence::testkit::require_tool("hostname", "apt-get install hostname") {
            return;
        }
        let ours = hostname(&Limits::default()).unwrap();
        let out = Command::new("hostname").output().unwrap();
        assert_eq!(ours, String::from_utf8_lossy(&out.stdout).trim());
        assert!(!ours.is_empty());
    }

    #[test]
    fn collects_stdout_stderr_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            &limits(5000, 1024),
            OnCap::Fail,
        )
        .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, "err");
        assert_eq!(out.status.unwrap().code(), Some(3));
        assert!(!out.success());
        let e = out.failure("sh -c ...").to_string();
        assert!(e.contains("exit status: 3") && e.ends_with(": err"), "{e}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let e = run(
            &mut Command::new("/nonexistent/git-ops-no-such-tool"),
            &limits(1000, 1024),
            OnCap::Fail,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Missing { .. }), "{e:?}");
        assert!(e.to_string().contains("not installed"), "{e}");
    }

    #[test]
    fn a_hanging_child_is_killed_at_the_timeout() {
        let t = Instant::now();
        let e = run(
            Command::new("sleep").arg("30"),
            &limits(300, 1024),
            OnCap::Fail,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert_eq!(e.to_string(), "timed out after 300 ms");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn a_grandchild_holding_the_pipe_cannot_outlast_the_timeout() {
        // The shell exits at once; its background child keeps stdout open for 3 s.
        let t = Instant::now();
        let e = run(
            Command::new("sh").args(["-c", "sleep 3 & echo started"]),
            &limits(300, 1024),
            OnCap::Fail,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn endless_output_stops_at_the_cap() {
        let t = Instant::now();
        let e = run(
            &mut Command::new("yes"),
            &limits(10_000, 64 * 1024),
            OnCap::Fail,
        )
        .unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 65536 }), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

        let out = run(
            &mut Command::new("yes"),
            &limits(10_000, 10),
            OnCap::Truncate,
        )
        .unwrap();
        assert!(out.truncated);
        assert_eq!(out.stdout, b"y\ny\ny\ny\ny\n");
        assert!(out.status.is_none());
    }

    #[test]
    fn output_exactly_at_the_cap_is_whole() {
        let out = run(
            Command::new("printf").arg("12345"),
            &limits(5000, 5),
            OnCap::Fail,
        )
        .unwrap();
        assert_eq!(out.stdout, b"12345");
        assert!(!out.truncated && out.success());
    }
}
