//! The verification report as text or JSON.

use std::io::{self, Write};

use super::{block, line};
use crate::verify::records::State;
use crate::verify::{Report, Severity};

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
        writeln!(out, "{place}{sev}[{}]: {}", f.code, line(&f.message))?;
        if let Some(d) = &f.diff {
            for l in block(d).lines() {
                writeln!(out, "    {l}")?;
            }
        }
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
    serde_json::to_writer_pretty(&mut *out, &v)?;
    writeln!(out)
}
