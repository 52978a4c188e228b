//! The one test kit of the project: a tiny HTTP server on loopback with misbehaving modes, a
//! `redis-server` child on a free loopback port, git repositories made with the git binary in an
//! isolated environment (STYLE §11), and [`require_tool`], the check every test that needs an
//! external tool makes first. Every server stops by itself.
//!
//! It is a library module behind the `testkit` cargo feature, which only the crate's
//! dev-dependency on itself turns on, so the unit tests (through `cfg(test)`) and the integration
//! tests in tests/ share this one copy while release builds never contain it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any test server lives, whatever the test does.
const SERVER_LIFETIME: Duration = Duration::from_secs(60);

/// Whether `tool` can run here, for a test that needs it. When it cannot, the test must not pass
/// silently: under `CI=true` (CI installs every tool, see .ci/run) this panics, failing the test;
/// elsewhere it prints a line starting `SKIPPED:` to stderr, naming the test and how to install
/// the tool, and returns `false` so that the caller returns (or skips the part that needs it).
/// `install` is the command that installs the tool, e.g. `"apt-get install faketime"`.
#[track_caller]
pub fn require_tool(tool: &str, install: &str) -> bool {
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
    // which would hide the skip.
    tool_verdict(
        on_path(tool),
        in_ci(),
        tool,
        install,
        &mut std::io::stderr(),
    )
}

/// Whether this run is CI's (`CI=true`, as CI services and .ci/run set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The decision of [`require_tool`], given whether the tool was found and whether this is CI.
#[track_caller]
fn tool_verdict(found: bool, ci: bool, tool: &str, install: &str, out: &mut dyn Write) -> bool {
    if !found {
        skip_or_fail(
            ci,
            &format!("`{tool}` is not installed; install it with `{install}`"),
            out,
        );
    }
    found
}

/// Panics under CI, otherwise writes to `out` that the current test skips, and why.
#[track_caller]
fn skip_or_fail(ci: bool, why: &str, out: &mut dyn Write) {
    let thread = thread::current();
    let test = thread.name().unwrap_or("a test");
    if ci {
        panic!("{test}: {why} (CI=true, so a missing tool fails the test)");
    }
    let _ = writeln!(out, "SKIPPED: {test}: {why}");
}

/// Whether `tool` names an executable file, directly (with a `/`) or in a directory of `PATH`.
fn on_path(tool: &str) -> bool {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if tool.contains('/') {
        return executable(Path::new(tool));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(tool))))
}

#[derive(Clone, Debug)]
pub enum HttpBehaviour {
    /// 200 with a Content-Length body.
    Page(String),
    /// 200 with a chunked body (in chunks of up to 100 bytes).
    Chunked(String),
    /// 200 with no length: the body ends when the server closes the connection.
    CloseDelimited(String),
    /// This status with an empty body (a `Location` header for 3xx).
    Status(u16, &'static str),
    /// Accepts, reads the request, never answers.
    Hang,
    /// Declares 1000 bytes and sends one every 50 ms.
    Drip,
    /// Streams up to 1 GiB with no Content-Length, until the client goes away.
    Endless,
}

pub struct HttpServer {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(behaviour: HttpBehaviour) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent2, stop2) = (sent.clone(), stop.clone());
        thread::spawn(move || {
            let end = Instant::now() + SERVER_LIFETIME;
            while Instant::now() < end && !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (b, sent, stop) = (behaviour.clone(), sent2.clone(), stop2.clone());
                        thread::spawn(move || serve(stream, b, &sent, &stop, end));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpServer { addr, sent, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: TcpStream,
    behaviour: HttpBehaviour,
    sent: &AtomicU64,
    stop: &AtomicBool,
    end: Instant,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut w = stream;
    let live = || !stop.load(Ordering::Relaxed) && Instant::now() < end;
    let _ = match behaviour {
        HttpBehaviour::Page(body) => write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        HttpBehaviour::Chunked(body) => (|| {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )?;
            for chunk in body.as_bytes().chunks(100) {
                write!(w, "{:x}\r\n", chunk.len())?;
                w.write_all(chunk)?;
                w.write_all(b"\r\n")?;
            }
            w.write_all(b"0\r\n\r\n")
        })(),
        HttpBehaviour::CloseDelimited(body) => write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}"
        ),
        HttpBehaviour::Status(code, reason) => write!(
            w,
            "HTTP/1.1 {code} {reason}\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        ),
        HttpBehaviour::Hang => {
            while live() {
                thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        HttpBehaviour::Drip => (|| {
            write!(w, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")?;
            for _ in 0..1000 {
                if !live() {
                    break;
                }
                w.write_all(b"x")?;
                thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        })(),
        HttpBehaviour::Endless => (|| {
            write!(w, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = b"endless_metric 1\n".repeat(4096);
            for _ in 0..(1 << 30) / chunk.len() {
                if !live() {
                    break;
                }
                w.write_all(&chunk)?;
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Ok(())
        })(),
    };
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A listener that accepts connections and never writes a byte: for timeouts of other protocols.
pub fn silent_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(10);
        let mut held = Vec::new();
        while Instant::now() < end {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    addr
}

fn isolated_git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-27T06:00:00Z")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.invalid")
        .env("GIT_COMMITTER_DATE", "2026-01-27T06:00:00Z")
        .env("TZ", "UTC")
        .env("LANG", "C")
        .env("LC_ALL", "C");
    cmd
}

/// Runs git in `dir`, asserts success, returns stdout trimmed.
pub fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = isolated_git(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An empty repository on branch `main`.
pub fn git_repo(dir: &Path) {
    run_git(dir, &["init", "-q", "-b", "main"]);
}

/// A `redis-server` child on a free loopback port, killed when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts redis-server; `None` when it (or redis-cli) is missing or does not start, after
    /// [`require_tool`]'s verdict: a `SKIPPED:` line, or a panic under CI. The caller then skips
    /// only what needs a live server.
    #[track_caller]
    pub fn start() -> Option<RedisServer> {
        let install = "apt-get install redis-server";
        if !require_tool("redis-server", install) || !require_tool("redis-cli", install) {
            return None;
        }
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = closed_port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--logfile", ""])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end {
                if child.try_wait().unwrap().is_some() {
                    break; // most likely the port was taken in between: try another
                }
                if ping(port) {
                    return Some(RedisServer {
                        child,
                        port,
                        _dir: dir,
                    });
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        skip_or_fail(
            in_ci(),
            "redis-server did not start on a loopback port after 5 attempts",
            &mut std::io::stderr(),
        );
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p PORT args...`, its stdout (raw, as when piped).
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_stdin(args, b"")
    }

    /// The same, with `input` on stdin (for `redis-cli -x`).
    pub fn cli_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let mut child = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_tool_is_required_without_a_word() {
        assert!(on_path("sh"), "sh is on PATH wherever the tests run");
        for ci in [true, false] {
            let mut said = Vec::new();
            assert!(tool_verdict(true, ci, "sh", "-", &mut said));
            assert!(said.is_empty(), "{}", String::from_utf8_lossy(&said));
        }
    }

    #[test]
    fn a_missing_tool_skips_visibly_outside_ci() {
        assert!(!on_path("git-ops-no-such-tool"));
        assert!(!on_path("/nonexistent/git-ops-no-such-tool"));
        let mut said = Vec::new();
        let tool = "git-ops-no-such-tool";
        assert!(!tool_verdict(
            false,
            false,
            tool,
            "apt-get install it",
            &mut said
        ));
        assert_eq!(
            String::from_utf8(said).unwrap(),
            "SKIPPED: evidence::testkit::tests::a_missing_tool_skips_visibly_outside_ci: \
             `git-ops-no-such-tool` is not installed; install it with `apt-get install it`\n"
        );
    }

    #[test]
    #[should_panic(expected = "`git-ops-no-such-tool` is not installed")]
    fn a_missing_tool_fails_under_ci() {
        tool_verdict(false, true, "git-ops-no-such-tool", "-", &mut Vec::new());
    }
}
