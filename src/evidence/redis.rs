//! Redis snapshot: read commands sent over RESP2 on a plain TCP connection, each reply rendered
//! as `redis-cli` prints it when piped (one value per line), under a `# redis-cli <cmd>` header.
//!
//! The protocol is small enough to speak directly, which keeps every byte under our limits: the
//! reply is read through a reader that stops at the size cap and at the deadline, and the parser
//! bounds nesting, so a wrong or hostile server cannot make collection hang or grow without end.
//!
//! Only commands on [`READ_COMMANDS`] are ever sent (the seeds forbid writes to trading streams);
//! [`parse_read_command`] refuses anything else before a connection is opened.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Error, Limits};

/// The commands that may be sent: reads only. AUTH and SELECT are sent only from the URL.
pub const READ_COMMANDS: &[&str] = &[
    "GET",
    "MGET",
    "HGET",
    "HGETALL",
    "HMGET",
    "HKEYS",
    "HVALS",
    "HLEN",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "STRLEN",
    "LLEN",
    "LRANGE",
    "LINDEX",
    "SCARD",
    "SMEMBERS",
    "SISMEMBER",
    "ZCARD",
    "ZRANGE",
    "ZSCORE",
    "XLEN",
    "XRANGE",
    "XREVRANGE",
    "XINFO",
    "INFO",
    "PING",
    "DBSIZE",
    "SCAN",
    "HSCAN",
    "SSCAN",
    "ZSCAN",
    "KEYS",
    "TIME",
];

/// Arrays nested deeper than this are refused; real replies nest two or three levels.
const MAX_DEPTH: usize = 32;

/// A parsed `redis://[user:password@]host[:port][/db]`. The password is never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    password: Option<String>,
    pub db: Option<u32>,
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("db", &self.db)
            .finish()
    }
}

impl RedisUrl {
    pub fn parse(url: &str) -> Result<RedisUrl, Error> {
        let bad = |why: &str| Error::Invalid(format!("redis URL {}: {why}", redact(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected redis://[user:password@]host[:port][/db]"))?;
        if scheme.eq_ignore_ascii_case("rediss") {
            return Err(bad(
                "TLS (rediss://) is not supported (git-ops has no TLS stack); \
                 use redis:// on the host or its private network",
            ));
        }
        if !scheme.eq_ignore_ascii_case("redis") {
            return Err(bad("only redis:// URLs are supported"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad("query strings and fragments are not supported"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = ui.split_once(':').ok_or_else(|| {
                    bad("a user without a password; write redis://user:password@host or redis://:password@host")
                })?;
                let u = percent_decode(u).ok_or_else(|| bad("bad %-escape in the user name"))?;
                let p = percent_decode(p).ok_or_else(|| bad("bad %-escape in the password"))?;
                ((!u.is_empty()).then_some(u), Some(p))
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            h.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("bad IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("expected :port after ]"))?,
                ),
            };
            (h.to_string(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
        {
            return Err(bad("the host has characters a host name cannot have"));
        }
        let port = match port {
            None => 6379,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        };
        let db = match path {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .map_err(|_| bad("the path must be a database number, like /0"))?,
            ),
        };
        Ok(RedisUrl {
            host,
            port,
            username,
            password,
            db,
        })
    }

    /// `host:port`, brackets around an IPv6 host.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The URL with any password replaced, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits a command line as `redis-cli` does: on whitespace, with `"double quotes"` (escapes
/// `\" \\ \n \r \t \b \a \xHH`) and `'single quotes'` (escape `\'`) around arguments that hold
/// spaces. A closing quote must end the argument.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |why: &str| Error::Invalid(format!("redis command {line:?}: {why}"));
    let b = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&c) = b.get(i) else {
                if quote.is_some() {
                    return Err(bad("unbalanced quotes"));
                }
                break;
            };
            match quote {
                None if c.is_ascii_whitespace() => break,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None => arg.push(c),
                Some(q) if c == q => {
                    if b.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                        return Err(bad("a closing quote must be followed by a space"));
                    }
                    i += 1;
                    break;
                }
                Some(b'"') if c == b'\\' && i + 1 < b.len() => {
                    i += 1;
                    let esc = b[i];
                    let hex = b
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match (esc, hex) {
                        (b'x', Some(v)) => {
                            arg.push(v);
                            i += 2;
                        }
                        (b'n', _) => arg.push(b'\n'),
                        (b'r', _) => arg.push(b'\r'),
                        (b't', _) => arg.push(b'\t'),
                        (b'b', _) => arg.push(8),
                        (b'a', _) => arg.push(7),
                        (other, _) => arg.push(other),
                    }
                }
                Some(b'\'') if c == b'\\' && b.get(i + 1) == Some(&b'\'') => {
                    i += 1;
                    arg.push(b'\'');
                }
                Some(_) => arg.push(c),
            }
            i += 1;
        }
        args.push(arg);
    }
}

/// Splits `line` and checks that it is a read command; returns the arguments to send.
pub fn parse_read_command(line: &str) -> Result<Vec<Vec<u8>>, Error> {
    let args = split_args(line)?;
    let Some(first) = args.first() else {
        return Err(Error::Invalid("empty redis command".into()));
    };
    let name = String::from_utf8_lossy(first).to_ascii_uppercase();
    if READ_COMMANDS.contains(&name.as_str()) {
        return Ok(args);
    }
    let shown = name.escape_debug();
    let hint = if name == "AUTH" || name == "SELECT" || name == "HELLO" {
        " Put the credentials and database in the redis URL instead \
         (redis://user:password@host:port/db)."
    } else {
        ""
    };
    Err(Error::Invalid(format!(
        "redis command `{shown}` is refused: evidence collection sends only read commands, \
         because the ops seeds forbid writes to trading streams.{hint} Allowed: {}",
        READ_COMMANDS.join(", ")
    )))
}

/// One RESP2 reply. `$-1` and `*-1` are both `Nil`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

/// Reads one reply. `max_bytes` refuses a declared bulk length over the cap before reading it;
/// the reader under `r` enforces the cap on what is actually read.
pub fn read_reply(r: &mut impl BufRead, max_bytes: usize) -> Result<Reply, Error> {
    read_at(r, max_bytes, 0)
}

fn read_at(r: &mut impl BufRead, max_bytes: usize, depth: usize) -> Result<Reply, Error> {
    let line = read_line(r)?;
    let (&kind, rest) = line
        .split_first()
        .ok_or_else(|| Error::Protocol("empty reply line".into()))?;
    let number = || -> Result<i64, Error> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "expected a number after {:?}, got {:?}",
                    kind as char,
                    String::from_utf8_lossy(rest)
                ))
            })
    };
    match kind {
        b'+' => Ok(Reply::Status(rest.to_vec())),
        b'-' => Ok(Reply::Error(rest.to_vec())),
        b':' => Ok(Reply::Integer(number()?)),
        b'$' => {
            let len = number()?;
            if len == -1 {
                return Ok(Reply::Nil);
            }
            let len = usize::try_from(len)
                .map_err(|_| Error::Protocol(format!("bad bulk length {len}")))?;
            if len > max_bytes {
                return Err(Error::TooLarge { limit: max_bytes });
            }
            let mut data = vec![0u8; len + 2];
            r.read_exact(&mut data).map_err(io_error)?;
            if !data.ends_with(b"\r\n") {
                return Err(Error::Protocol("bulk string not followed by CRLF".into()));
            }
            data.truncate(len);
            Ok(Reply::Bulk(data))
        }
        b'*' => {
            let n = number()?;
            if n == -1 {
                return Ok(Reply::Nil);
            }
            let n =
                usize::try_from(n).map_err(|_| Error::Protocol(format!("bad array length {n}")))?;
            if depth >= MAX_DEPTH {
                return Err(Error::Protocol(format!(
                    "arrays nested deeper than {MAX_DEPTH} levels"
                )));
            }
            // Every element takes at least 3 bytes on the wire, so the claimed length cannot
            // reserve more than the cap allows.
            let mut items = Vec::with_capacity(n.min(max_bytes / 3 + 1).min(4096));
            for _ in 0..n {
                items.push(read_at(r, max_bytes, depth + 1)?);
            }
            Ok(Reply::Array(items))
        }
        other => Err(Error::Protocol(format!(
            "unexpected reply type {:?} (is this a redis server speaking RESP2?)",
            other as char
        ))),
    }
}

fn read_line(r: &mut impl BufRead) -> Result<Vec<u8>, Error> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).map_err(io_error)?;
    if line.is_empty() {
        return Err(Error::Protocol("the server closed the connection".into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(Error::Protocol("a reply line did not end in CRLF".into()));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn io_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            Error::Protocol("the server closed the connection mid-reply".into())
        }
        _ => Error::io("redis connection", e),
    }
}

/// The reply as `redis-cli` prints it when its output is not a terminal (`cliFormatReplyRaw`),
/// without the final newline, and with CRLF turned into LF (INFO's lines end in CRLF).
pub fn render_raw(reply: &Reply) -> String {
    fn raw(r: &Reply, out: &mut Vec<u8>) {
        match r {
            Reply::Status(s) | Reply::Bulk(s) => out.extend_from_slice(s),
            Reply::Error(s) => {
                out.extend_from_slice(s);
                out.push(b'\n');
            }
            Reply::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Reply::Nil => {}
            Reply::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b'\n');
                    }
                    raw(item, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    raw(reply, &mut out);
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// What `redis-cli` prints for `args` and `reply` when piped: [`render_raw`] and a newline, but
/// none after INFO's text, which already ends in one.
pub fn cli_output(args: &[Vec<u8>], reply: &Reply) -> String {
    let mut out = render_raw(reply);
    let info = args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"INFO"));
    if !(info && out.ends_with('\n')) {
        out.push('\n');
    }
    out
}

/// The socket under the parser: every read stops at the deadline and at the byte budget.
struct Wire {
    stream: TcpStream,
    deadline: Instant,
    left: usize,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "reply over the size limit",
            ));
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(self.deadline - now))?;
        let n = buf.len().min(self.left);
        let got = self.stream.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}

/// An open connection, authenticated and on the URL's database.
pub struct Conn {
    reader: BufReader<Wire>,
}

impl Conn {
    /// Connects, then sends AUTH and SELECT if the URL asks: all within one timeout.
    pub fn open(url: &RedisUrl, limits: &Limits) -> Result<Conn, Error> {
        let deadline = Instant::now() + limits.timeout;
        let timeout = || Error::Timeout(limits.timeout);
        let addrs = resolve(&url.host, url.port, deadline).ok_or_else(timeout)??;
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timeout());
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => {
                return Err(match e.kind() {
                    io::ErrorKind::ConnectionRefused => Error::Refused { addr: url.addr() },
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => timeout(),
                    _ => Error::io(format!("cannot connect to {}", url.addr()), e),
                });
            }
            (None, None) => {
                return Err(Error::Other(format!("{} resolves to no address", url.host)));
            }
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            reader: BufReader::new(Wire {
                stream,
                deadline,
                left: limits.max_bytes,
            }),
        };
        if let Some(password) = &url.password {
            let mut args = vec![b"AUTH".to_vec()];
            args.extend(url.username.iter().map(|u| u.as_bytes().to_vec()));
            args.push(password.as_bytes().to_vec());
            if let Reply::Error(e) = conn.call_until(&args, deadline, limits)? {
                return Err(Error::Other(format!(
                    "authentication failed: {}",
                    String::from_utf8_lossy(&e)
                )));
            }
        }
        if let Some(db) = url.db {
            let args = [b"SELECT".to_vec(), db.to_string().into_bytes()];
            if let Reply::Error(e) = conn.call_until(&args, deadline, limits)? {
                return Err(Error::Other(format!(
                    "cannot select database {db}: {}",
                    String::from_utf8_lossy(&e)
                )));
            }
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply, within a fresh timeout and size budget. A redis
    /// error reply is `Ok(Reply::Error(..))`: the connection is still usable.
    pub fn call(&mut self, args: &[Vec<u8>], limits: &Limits) -> Result<Reply, Error> {
        self.call_until(args, Instant::now() + limits.timeout, limits)
    }

    fn call_until(
        &mut self,
        args: &[Vec<u8>],
        deadline: Instant,
        limits: &Limits,
    ) -> Result<Reply, Error> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            frame.extend_from_slice(a);
            frame.extend_from_slice(b"\r\n");
        }
        let wire = self.reader.get_mut();
        wire.deadline = deadline;
        wire.left = limits.max_bytes;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(limits.timeout));
        }
        let sent = wire
            .stream
            .set_write_timeout(Some(left))
            .and_then(|()| wire.stream.write_all(&frame));
        sent.map_err(|e| map_io(e, limits))?;
        read_reply(&mut self.reader, limits.max_bytes).map_err(|e| match e {
            Error::Io { source, .. } => map_io(source, limits),
            other => other,
        })
    }
}

fn map_io(e: io::Error, limits: &Limits) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout(limits.timeout),
        io::ErrorKind::FileTooLarge => Error::TooLarge {
            limit: limits.max_bytes,
        },
        _ => Error::io("redis connection", e),
    }
}

/// Resolves `host`; `None` when the resolver did not answer before the deadline (the system
/// resolver has no timeout of its own, so a name is looked up on a helper thread).
fn resolve(host: &str, port: u16, deadline: Instant) -> Option<Result<Vec<SocketAddr>, Error>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Ok(vec![SocketAddr::new(ip, port)]));
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
    });
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left.max(Duration::from_millis(1))) {
        Ok(Ok(addrs)) => Some(Ok(addrs)),
        Ok(Err(e)) => Some(Err(Error::io(format!("cannot resolve {host}"), e))),
        Err(_) => None,
    }
}

/// Runs every command. The snapshot has a `# redis-cli <cmd>` block per command that got a
/// reply (a redis error reply too, which is also an error); every failure is one error.
pub fn collect(url: &str, cmds: &[String], limits: &Limits) -> (Option<String>, Vec<String>) {
    let url = match RedisUrl::parse(url) {
        Ok(u) => u,
        Err(e) => return (None, vec![format!("redis: {e}")]),
    };
    let mut text = String::new();
    let mut errors = Vec::new();
    let mut conn: Option<Conn> = None;
    let not_run = |rest: usize| match rest {
        0 => String::new(),
        1 => " (1 more command not run)".to_string(),
        n => format!(" ({n} more commands not run)"),
    };
    for (i, line) in cmds.iter().enumerate() {
        let shown = line.trim();
        let args = match parse_read_command(line) {
            Ok(a) => a,
            Err(e) => {
                errors.push(format!("redis `{shown}`: {e}"));
                continue;
            }
        };
        let c = match &mut conn {
            Some(c) => c,
            None => match Conn::open(&url, limits) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    let rest = cmds.len() - i - 1;
                    errors.push(format!(
                        "redis {} `{shown}`: {e}{}",
                        url.addr(),
                        not_run(rest)
                    ));
                    break;
                }
            },
        };
        match c.call(&args, limits) {
            Ok(reply) => {
                text.push_str(&format!(
                    "# redis-cli {shown}\n{}",
                    cli_output(&args, &reply)
                ));
                if let Reply::Error(e) = &reply {
                    let e = Error::RedisReply(String::from_utf8_lossy(e).into_owned());
                    errors.push(format!("redis `{shown}`: {e}"));
                }
            }
            Err(e) => {
                // The connection is mid-reply or dead: the next command opens a new one. A
                // server that stopped answering will not answer the next one either.
                conn = None;
                let timed_out = matches!(e, Error::Timeout(_));
                let rest = if timed_out { cmds.len() - i - 1 } else { 0 };
                errors.push(format!("redis `{shown}`: {e}{}", not_run(rest)));
                if timed_out {
                    break;
                }
            }
        }
    }
    ((!text.is_empty()).then_some(text), errors)
}

#[cfg(test)]
mod tests;
