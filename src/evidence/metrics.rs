//! Metrics snapshot: an HTTP GET of each URL, keeping the lines that match any of the patterns,
//! under a header that says where they came from (`# <url> | grep '<pattern>'`, as the seed's
//! `curl | grep` did).
//!
//! The client is ureq 3 without TLS rather than a hand-written HTTP/1.1 reader: chunked bodies,
//! keep-alive framing, header limits and the end-to-end timeout are the part of HTTP that is easy
//! to get subtly wrong, and ureq does them with no TLS stack and a handful of small dependencies.
//! Only `http://` is supported; metrics endpoints are scraped on the host or its private network.

use regex::{Regex, RegexBuilder};

use super::{Error, Limits};

/// Compiled size limit for one pattern: generous for any real filter, small enough that a
/// pathological pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub fn compile_patterns(patterns: &[String]) -> Result<Vec<Regex>, Error> {
    patterns
        .iter()
        .map(|p| {
            RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    Error::Invalid(format!(
                        "metrics grep pattern {p:?} is not a valid regex: {}",
                        one_line(&e.to_string())
                    ))
                })
        })
        .collect()
}

/// Accepts `http://host[:port]/path`; refuses other schemes with the reason.
pub fn check_url(url: &str) -> Result<(), Error> {
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| Error::Invalid(format!("metrics URL {url:?} is not a valid URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(s) if s.eq_ignore_ascii_case("https") => {
            return Err(Error::Invalid(format!(
                "metrics URL {url:?}: https is not supported (git-ops has no TLS stack); \
                 scrape the endpoint over plain http on the host, e.g. http://127.0.0.1:PORT/metrics"
            )));
        }
        Some(s) => {
            return Err(Error::Invalid(format!(
                "metrics URL {url:?}: scheme {s:?} is not supported; only http:// URLs are"
            )));
        }
        None => {
            return Err(Error::Invalid(format!(
                "metrics URL {url:?} has no scheme; write it as http://HOST:PORT/PATH"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(Error::Invalid(format!("metrics URL {url:?} has no host")));
    }
    // The URL is written into the ledger, which is signed and never edited: no secrets in it.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(Error::Invalid(
            "a metrics URL with user:password@ is refused: the URL is recorded in the ledger; \
             scrape an unauthenticated endpoint on the host instead"
                .into(),
        ));
    }
    Ok(())
}

/// Fetches `url` and returns its body as text (invalid UTF-8 replaced). Fails on a non-2xx
/// status, and on a body larger than `limits.max_bytes`, having read at most one byte past it.
pub fn fetch(url: &str, limits: &Limits) -> Result<String, Error> {
    check_url(url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .http_status_as_error(false)
        // A redirect is reported as such, not followed: the evidence names the URL it came from.
        .max_redirects(0)
        .max_redirects_will_error(false)
        // Scraped directly, as Prometheus does unless told otherwise: an http_proxy meant for the
        // internet must not see (or answer for) local metrics.
        .proxy(None)
        .user_agent(concat!("git-ops/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let map = |e: ureq::Error| map_error(e, url, limits);
    let mut resp = agent.get(url).call().map_err(map)?;

    let status = resp.status();
    if !status.is_success() {
        return Err(Error::HttpStatus {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        });
    }
    if let Some(len) = resp
        .headers()
        .get(ureq::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limits.max_bytes as u64
    {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    // One byte over the cap tells "exactly at the cap" from "more".
    let body = resp
        .body_mut()
        .with_config()
        .limit((limits.max_bytes as u64).saturating_add(1))
        .read_to_vec()
        .map_err(map)?;
    if body.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn map_error(e: ureq::Error, url: &str, limits: &Limits) -> Error {
    use std::io::ErrorKind;
    match e {
        ureq::Error::Timeout(_) => Error::Timeout(limits.timeout),
        ureq::Error::BodyExceedsLimit(_) => Error::TooLarge {
            limit: limits.max_bytes,
        },
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => Error::Refused {
                addr: url
                    .parse::<ureq::http::Uri>()
                    .ok()
                    .and_then(|u| u.authority().map(|a| a.to_string()))
                    .unwrap_or_else(|| url.to_string()),
            },
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Error::Timeout(limits.timeout),
            _ => Error::Http(io.to_string()),
        },
        ureq::Error::HostNotFound => Error::Http("host not found".into()),
        other => Error::Http(other.to_string()),
    }
}

/// The lines of `body` that match any pattern; every line when there are no patterns.
pub fn filter<'b>(body: &'b str, patterns: &[Regex]) -> Vec<&'b str> {
    body.lines()
        .filter(|line| patterns.is_empty() || patterns.iter().any(|re| re.is_match(line)))
        .collect()
}

/// `# <url>`, then ` | grep '<p>'` for one pattern or ` | grep -e '<p1>' -e '<p2>'` for several:
/// a command line that would select the same lines.
pub fn header(url: &str, patterns: &[String]) -> String {
    let quote = |p: &str| format!("'{}'", p.replace('\'', r"'\''"));
    match patterns {
        [] => format!("# {url}"),
        [p] => format!("# {url} | grep {}", quote(p)),
        many => {
            let args: Vec<String> = many.iter().map(|p| format!("-e {}", quote(p))).collect();
            format!("# {url} | grep {}", args.join(" "))
        }
    }
}

/// Fetches every URL. The snapshot has one block per URL that answered (header, then the kept
/// lines); each failure is one entry of the returned errors.
pub fn collect(
    urls: &[String],
    patterns: &[String],
    limits: &Limits,
) -> (Option<String>, Vec<String>) {
    let regexes = match compile_patterns(patterns) {
        Ok(r) => r,
        Err(e) => return (None, vec![format!("metrics: {e}")]),
    };
    let mut text = String::new();
    let mut errors = Vec::new();
    for url in urls {
        match fetch(url, limits) {
            Ok(body) => {
                text.push_str(&header(url, patterns));
                text.push('\n');
                for line in filter(&body, &regexes) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            Err(e) => errors.push(format!("metrics {url}: {e}")),
        }
    }
    ((!text.is_empty()).then_some(text), errors)
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::evidence::testkit::{HttpBehaviour, HttpServer, closed_port};

    const PAGE: &str = "# HELP p27_corr_ready Correlation matrix ready\n\
        # TYPE p27_corr_ready gauge\n\
        p27_corr_ready 1.0\n\
        p27_clusters_count 1.0\n\
        process_cpu_seconds_total 12.5\n";

    fn limits(ms: u64, max_bytes: usize) -> Limits {
        Limits {
            timeout: Duration::from_millis(ms),
            max_bytes,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_matching_lines_under_a_seed_style_header() {
        let server = HttpServer::start(HttpBehaviour::Page(PAGE.into()));
        let chunked = HttpServer::start(HttpBehaviour::Chunked(PAGE.into()));
        let closing = HttpServer::start(HttpBehaviour::CloseDelimited(PAGE.into()));
        let urls = vec![
            server.url("/metrics"),
            chunked.url("/metrics"),
            closing.url("/metrics"),
        ];

        let (text, errors) = collect(
            &urls[..1],
            &strings(&["p27_corr_ready"]),
            &Limits::default(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            text.unwrap(),
            format!(
                "# {} | grep 'p27_corr_ready'\n\
                 # HELP p27_corr_ready Correlation matrix ready\n\
                 # TYPE p27_corr_ready gauge\n\
                 p27_corr_ready 1.0\n",
                urls[0]
            )
        );

        // Several patterns keep a line matching any of them; chunked and close-delimited bodies
        // read the same as one with a Content-Length.
        let pats = strings(&["^p27_corr_ready ", "^p27_clusters_count "]);
        let (text, errors) = collect(&urls, &pats, &Limits::default());
        assert!(errors.is_empty(), "{errors:?}");
        let block = |u: &str| {
            format!(
                "# {u} | grep -e '^p27_corr_ready ' -e '^p27_clusters_count '\n\
                 p27_corr_ready 1.0\np27_clusters_count 1.0\n"
            )
        };
        assert_eq!(
            text.unwrap(),
            block(&urls[0]) + &block(&urls[1]) + &block(&urls[2])
        );

        // No pattern keeps every line.
        let (text, _) = collect(&urls[..1], &[], &Limits::default());
        assert_eq!(text.unwrap(), format!("# {}\n{PAGE}", urls[0]));
    }

    #[test]
    fn a_non_2xx_status_is_an_error() {
        let server = HttpServer::start(HttpBehaviour::Status(503, "Service Unavailable"));
        let e = fetch(&server.url("/metrics"), &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 503, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "HTTP status 503 Service Unavailable; expected 2xx"
        );

        let server = HttpServer::start(HttpBehaviour::Status(302, "Found"));
        let e = fetch(&server.url("/metrics"), &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::HttpStatus { status: 302, .. }), "{e:?}");
    }

    #[test]
    fn a_closed_port_is_connection_refused() {
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}/metrics");
        let t = Instant::now();
        let e = fetch(&url, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::Refused { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("connection refused by 127.0.0.1:{port}; is the service listening there?")
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let server = HttpServer::start(HttpBehaviour::Hang);
        let t = Instant::now();
        let e = fetch(&server.url("/metrics"), &limits(300, 1 << 20)).unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert_eq!(e.to_string(), "timed out after 300 ms");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[test]
    fn a_server_that_drips_a_body_cannot_extend_the_timeout() {
        let server = HttpServer::start(HttpBehaviour::Drip);
        let t = Instant::now();
        let e = fetch(&server.url("/metrics"), &limits(400, 1 << 20)).unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn an_endless_body_stops_at_the_cap() {
        // The server would send 1 GiB; reading must stop at 1 MiB, quickly.
        let server = HttpServer::start(HttpBehaviour::Endless);
        let t = Instant::now();
        let e = fetch(&server.url("/metrics"), &limits(10_000, 1 << 20)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1048576 }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "more than 1048576 bytes; stopped reading at the limit"
        );
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let sent = server.bytes_sent();
        assert!(
            sent < 64 << 20,
            "the client kept reading: {sent} bytes sent"
        );

        // A declared Content-Length over the cap is refused before reading the body.
        let server = HttpServer::start(HttpBehaviour::Page("x".repeat(2000)));
        let e = fetch(&server.url("/"), &limits(5000, 1000)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1000 }), "{e:?}");
        // A body exactly at the cap is whole.
        let server = HttpServer::start(HttpBehaviour::Page("x".repeat(1000)));
        assert_eq!(
            fetch(&server.url("/"), &limits(5000, 1000)).unwrap().len(),
            1000
        );
        // So is a chunked body exactly at the cap; one byte more is too large.
        let server = HttpServer::start(HttpBehaviour::Chunked("y".repeat(1000)));
        assert_eq!(
            fetch(&server.url("/"), &limits(5000, 1000)).unwrap().len(),
            1000
        );
        let server = HttpServer::start(HttpBehaviour::Chunked("y".repeat(1001)));
        let e = fetch(&server.url("/"), &limits(5000, 1000)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1000 }), "{e:?}");
    }

    #[test]
    fn failures_are_collected_per_url_and_the_rest_still_runs() {
        let good = HttpServer::start(HttpBehaviour::Page(PAGE.into()));
        let bad = format!("http://127.0.0.1:{}/metrics", closed_port());
        let urls = vec![bad.clone(), good.url("/metrics")];
        let (text, errors) = collect(&urls, &strings(&["clusters"]), &Limits::default());
        assert_eq!(
            text.unwrap(),
            format!("# {} | grep 'clusters'\np27_clusters_count 1.0\n", urls[1])
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!("metrics {bad}: connection refused")),
            "{errors:?}"
        );

        let (text, errors) = collect(&urls[..1], &[], &Limits::default());
        assert_eq!(text, None);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn urls_and_patterns_are_checked() {
        check_url("http://127.0.0.1:8048/metrics").unwrap();
        check_url("http://[::1]:9100/metrics").unwrap();
        check_url("http://localhost/metrics").unwrap();
        let e = check_url("https://127.0.0.1:8048/metrics")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("https is not supported (git-ops has no TLS stack)"),
            "{e}"
        );
        let e = check_url("ftp://host/x").unwrap_err().to_string();
        assert!(e.contains("only http:// URLs are"), "{e}");
        assert!(check_url("127.0.0.1:8048/metrics").is_err());
        let e = check_url("http://admin:hunter2@127.0.0.1:9090/metrics")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("user:password@ is refused") && !e.contains("hunter2"),
            "{e}"
        );
        assert!(check_url("not a url").is_err());

        let e = compile_patterns(&strings(&["ok", "p27_(corr"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("metrics grep pattern \"p27_(corr\" is not a valid regex"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        // A pattern that would compile to a huge automaton is refused, not built.
        assert!(compile_patterns(&strings(&["\\w{1000}\\w{1000}\\w{1000}"])).is_err());
    }

    #[test]
    fn header_quotes_patterns_for_the_shell() {
        assert_eq!(header("http://h/m", &[]), "# http://h/m");
        assert_eq!(
            header("http://h/m", &strings(&["it's"])),
            r"# http://h/m | grep 'it'\''s'"
        );
    }
}
