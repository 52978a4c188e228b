//! `git ops verify`'s report as text, JSON or GitHub Actions annotations.

use std::io::{self, Write};

use super::{block, line};
use crate::verify::records::State;
use crate::verify::{Report, Severity};

/// The notes (what was checked, the trust root used), one a line, then the report as text.
pub fn text_with_notes(report: &Report, notes: &[String], out: &mut dyn Write) -> io::Result<()> {
    for n in notes {
        writeln!(out, "{n}")?;
    }
    text(report, out)
}

/// The notes as `::notice::` annotations, then the report as annotations.
pub fn github_with_notes(report: &Report, notes: &[String], out: &mut dyn Write) -> io::Result<()> {
    for n in notes {
        writeln!(out, "::notice::{}", github_escape(n))?;
    }
    github(report, out)
}

pub fn text(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        let place = match (&f.file, f.line) {
            (Some(file), Some(l)) => format!("{}:{l}: ", line(file)),
            (Some(file), None) => format!("{}: ", line(file)),
            _ => String::new(),
        };
        let commit = f
            .commit
            .as_deref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        writeln!(
            out,
            "{commit}{place}{sev}[{}]: {}",
            f.code,
            line(&f.message)
        )?;
        if let Some(d) = &f.diff {
            for l in block(d).lines() {
                writeln!(out, "    {l}")?;
            }
        }
    }
    let verdict = if report.ok() {
        "verified".to_string()
    } else {
        format!("FAILED with {} errors", report.errors())
    };
    if let Some(n) = report.commits {
        return writeln!(out, "{n} commits: {verdict}");
    }
    let count = |s: State| report.records.iter().filter(|r| r.state == s).count();
    writeln!(
        out,
        "{} records ({} approved, {} pending, {} invalid), {} tags: {}",
        report.records.len(),
        count(State::Approved),
        count(State::Pending),
        count(State::Invalid),
        report.tags,
        if report.ok() {
            "verified".to_string()
        } else {
            format!("FAILED with {} errors", report.errors())
        }
    )
}

pub fn json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let v = serde_json::json!({
        "ok": report.ok(),
        "errors": report.errors(),
        "findings": report.findings,
        "records": report.records,
        "tags": report.tags,
    });
    super::write_json(out, &v)
}

/// Escapes a message for a GitHub Actions workflow command.
pub fn github_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github_prop(s: &str) -> String {
    github_escape(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions annotations: `::error file=F,line=L,title=CODE::message`.
pub fn github(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        if let Some(file) = &f.file {
            props.push(format!("file={}", github_prop(file)));
            if let Some(l) = f.line {
                props.push(format!("line={l}"));
            }
        }
        props.push(format!("title=git-ops {}", github_prop(f.code)));
        let commit = f
            .commit
            .as_deref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let mut msg = format!("{commit}{}", line(&f.message));
        if let Some(d) = &f.diff {
            msg.push('\n');
            msg.push_str(&block(d));
        }
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            github_escape(&msg)
        )?;
    }
    writeln!(
        out,
        "git-ops verify: {}",
        if report.ok() {
            "verified".to_string()
        } else {
            format!("FAILED with {} errors", report.errors())
        }
    )
}
