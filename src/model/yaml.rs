//! The YAML form of records and policies: parsing with explicit budgets, and rendering.
//!
//! A ledger file is a stream of documents. It is split into documents here (on `---` lines), and
//! each document is parsed on its own, so every error carries the line in the whole file, and a
//! document's text can be replaced without re-rendering its neighbours.

use std::ops::Range;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::policy::Policy;
use super::record::{Grant, Halt, Kind, Operation, Outcome, Record, Resume, Revocation};

/// A YAML error with its place in the whole file (1-based), when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", fmt_line(*line, *column))]
pub struct YamlError {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

fn fmt_line(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l} column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

/// Largest record document accepted (evidence snapshots are capped well below this).
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // A record is a small tree: these limits refuse alias bombs and deep nesting at once,
    // with memory bounded by the document's size.
    budget.max_depth = 12;
    budget.max_nodes = 20_000;
    budget.max_aliases = 16;
    budget.max_anchors = 16;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_DOCUMENT_BYTES;
    budget.max_merge_keys = 0;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.strict_booleans = true;
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o
}

fn parse<T: DeserializeOwned>(text: &str, first_line: u64) -> Result<T, YamlError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(YamlError {
            line: Some(first_line),
            column: None,
            message: format!("document is larger than {} MiB", MAX_DOCUMENT_BYTES >> 20),
        });
    }
    serde_saphyr::from_str_with_options::<T>(text, options()).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        // saphyr prefixes "error: line L column C: "; we print our own, file-relative, place.
        if let Some(rest) = message.strip_prefix("error: ") {
            message = rest.to_string();
        }
        if let Some(l) = loc
            && let Some(rest) =
                message.strip_prefix(&format!("line {} column {}: ", l.line(), l.column()))
        {
            message = rest.to_string();
        }
        let mut message = message.lines().next().unwrap_or_default().to_string();
        // Drop saphyr's document-relative " at line N, column M" tail as well.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        YamlError {
            line: loc.map(|l| l.line() + first_line - 1),
            column: loc.map(|l| l.column()),
            message,
        }
    })
}

/// A document of a ledger file: its byte range and its first line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSpan {
    pub bytes: Range<usize>,
    pub first_line: u64,
}

fn is_marker(line: &str) -> bool {
    let l = line.trim_end_matches(['\r', '\n']);
    l == "---" || l.starts_with("--- ") || l.starts_with("---\t")
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---" && t != "..."
    })
}

/// Splits a YAML stream into documents at `---` lines. Segments with nothing but comments and
/// blank lines are dropped. A block scalar's lines are indented, so a `---` line always starts a
/// document.
pub fn split_documents(text: &str) -> Vec<DocSpan> {
    let mut spans = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u64;
    let mut offset = 0usize;
    for (line_no, line) in (1u64..).zip(text.split_inclusive('\n')) {
        if is_marker(line) && offset > start {
            if has_content(&text[start..offset]) {
                spans.push(DocSpan {
                    bytes: start..offset,
                    first_line: start_line,
                });
            }
            start = offset;
            start_line = line_no;
        }
        offset += line.len();
    }
    if has_content(&text[start..]) {
        spans.push(DocSpan {
            bytes: start..text.len(),
            first_line: start_line,
        });
    }
    spans
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    record: Option<String>,
}

/// Parses one record document. `first_line` is where it starts in its file.
pub fn parse_record(text: &str, first_line: u64) -> Result<Record, YamlError> {
    let peek: Peek = parse(text, first_line)?;
    let kind = match peek.record.as_deref() {
        None => Kind::Operation,
        Some(k) => Kind::parse(k).ok_or_else(|| YamlError {
            line: Some(first_line),
            column: None,
            message: format!(
                "unknown record kind {k:?}; expected operation, outcome, grant, revocation, halt or resume"
            ),
        })?,
    };
    let record = match kind {
        Kind::Operation => Record::Operation(parse::<Operation>(text, first_line)?),
        Kind::Outcome => Record::Outcome(parse::<Outcome>(text, first_line)?),
        Kind::Grant => Record::Grant(parse::<Grant>(text, first_line)?),
        Kind::Revocation => Record::Revocation(parse::<Revocation>(text, first_line)?),
        Kind::Halt => Record::Halt(parse::<Halt>(text, first_line)?),
        Kind::Resume => Record::Resume(parse::<Resume>(text, first_line)?),
    };
    record.validate().map_err(|e| YamlError {
        line: Some(first_line),
        column: None,
        message: e.to_string(),
    })?;
    Ok(record)
}

/// Parses a whole ledger file: each record with the span it came from.
pub fn parse_stream(text: &str) -> Result<Vec<(DocSpan, Record)>, YamlError> {
    split_documents(text)
        .into_iter()
        .map(|span| {
            let r = parse_record(&text[span.bytes.clone()], span.first_line)?;
            Ok((span, r))
        })
        .collect()
}

pub fn parse_policy(text: &str) -> Result<Policy, YamlError> {
    let p: Policy = parse(text, 1)?;
    p.validate().map_err(|e| YamlError {
        line: None,
        column: None,
        message: e.to_string(),
    })?;
    Ok(p)
}

fn ser_options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.prefer_block_scalars = true;
    o
}

fn to_yaml<T: serde::Serialize>(v: &T) -> String {
    serde_saphyr::to_string_with_options(v, ser_options()).expect("model types serialise to YAML")
}

/// Renders a record as one document of a ledger file, starting with `---`.
pub fn render_record(r: &Record) -> String {
    let body = match r {
        Record::Operation(x) => to_yaml(x),
        Record::Outcome(x) => to_yaml(x),
        Record::Grant(x) => to_yaml(x),
        Record::Revocation(x) => to_yaml(x),
        Record::Halt(x) => to_yaml(x),
        Record::Resume(x) => to_yaml(x),
    };
    let mut out = String::with_capacity(body.len() + 4);
    out.push_str("---\n");
    out.push_str(body.strip_prefix("---\n").unwrap_or(&body));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

pub fn render_policy(p: &Policy) -> String {
    to_yaml(p)
}

/// Any serialisable value as YAML (used for `show --format yaml` of derived views).
pub fn render_value<T: serde::Serialize>(v: &T) -> String {
    to_yaml(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: &str = "operation_id: OPS-2026-01-27-011\noperation_name: Fix\nobjective: o\nrisk_class: SERVICE_RESTART\nblast_radius: b\nrollback_strategy: r\nallowed_paths: [deploy/]\nallowed_services: []\n";

    #[test]
    fn splits_streams_and_keeps_line_numbers() {
        let text = format!(
            "# header comment\n---\n{OP}---\n{}",
            OP.replace("011", "012")
        );
        let docs = parse_stream(&text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0.first_line, 2);
        assert_eq!(docs[1].1.id().to_string(), "OPS-2026-01-27-012");
        let bad = format!("---\n{OP}---\n{OP}bogus: 1\n");
        let e = parse_stream(&bad).unwrap_err();
        assert_eq!(e.line, Some(19), "{e}");
        assert!(!e.message.contains("at line"), "{e}");
        assert!(e.message.contains("unknown field `bogus`"), "{e}");
    }

    #[test]
    fn flat_seed_entries_are_operations() {
        let r = parse_record(OP, 1).unwrap();
        assert_eq!(r.kind(), Kind::Operation);
        let again = parse_record(&render_record(&r), 1).unwrap();
        assert_eq!(again, r);
        assert_eq!(again.payload_sha256(), r.payload_sha256());
    }

    #[test]
    fn refuses_duplicates_unknown_kinds_and_missing_fields() {
        let dup = format!("{OP}objective: again\n");
        assert!(
            parse_record(&dup, 1)
                .unwrap_err()
                .message
                .contains("duplicate")
        );
        let unknown = format!("record: wizard\n{OP}");
        assert!(
            parse_record(&unknown, 1)
                .unwrap_err()
                .message
                .contains("unknown record kind")
        );
        let missing = OP.replace("blast_radius: b\n", "");
        assert!(
            parse_record(&missing, 1)
                .unwrap_err()
                .message
                .contains("blast_radius")
        );
    }

    #[test]
    fn refuses_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_record(&bomb, 1).is_err());
        let deep = format!("notes: {}{}\n", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_record(&deep, 1).is_err());
    }
}
