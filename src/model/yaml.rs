//! The YAML form of records and policies: parsing with explicit budgets, and rendering.
//!
//! A ledger file is a stream of documents. It is split into documents here (on `---` lines), and
//! each document is parsed on its own, so every error carries the line in the whole file, and a
//! document's text can be replaced without re-rendering its neighbours.

use std::ops::Range;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::policy::Policy;
use super::record::{Grant, Halt, Imported, Kind, Operation, Outcome, Record, Resume, Revocation};

/// A YAML error with its place in the whole file (1-based), when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", fmt_line(*line, *column))]
pub struct YamlError {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl YamlError {
    /// The exit code of a command that fails with this error: a file that does not parse is a
    /// configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        2
    }
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

/// Refuses YAML tags (`!!binary`, `!!str`, `!custom`): git-ops never writes them, and a tag can
/// make the text a person reads differ from the value that is signed (a `!!binary` string is
/// decoded before it is hashed). Only documents that contain a `!` are scanned.
fn refuse_tags(text: &str, first_line: u64) -> Result<(), YamlError> {
    use granit_parser::{Event, Parser};
    if !text.contains('!') {
        return Ok(());
    }
    for ev in Parser::new_from_str(text) {
        // Syntax errors are reported by the typed parse that follows, in its own words.
        let Ok((ev, span)) = ev else { return Ok(()) };
        let tagged = match &ev {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, _, tag)
            | Event::MappingStart(_, _, tag) => tag.is_some(),
            _ => false,
        };
        if tagged {
            return Err(YamlError {
                line: Some(span.start.line() as u64 + first_line - 1),
                column: Some(span.start.col() as u64 + 1),
                message: "YAML tags (`!!binary`, `!!str`, `!name`, ...) are not allowed in git-ops files; write the value plainly (quote it if it starts with `!`)".into(),
            });
        }
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(text: &str, first_line: u64) -> Result<T, YamlError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(YamlError {
            line: Some(first_line),
            column: None,
            message: format!("document is larger than {} MiB", MAX_DOCUMENT_BYTES >> 20),
        });
    }
    refuse_tags(text, first_line)?;
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

/// The message for a flat entry of the seeds' own ledger format found where signed records
/// belong.
pub const SEED_FORMAT_MESSAGE: &str = "a seed-format entry (approved_by / approval_timestamp, no signoffs):      its approvals are claims nobody signed, so git-ops does not read it as a record;      run `git ops import` to keep it as an imported entry";

/// A YAML mapping of anything (an entry of an earlier ledger, read for `git ops import`), with
/// the same refusals as records: tags, duplicate keys, aliases beyond the budget.
pub fn parse_mapping(
    text: &str,
    first_line: u64,
) -> Result<serde_json::Map<String, serde_json::Value>, YamlError> {
    parse(text, first_line)
}

/// Whether a document that is not a record looks like a seed-format entry (DESIGN §2.1's
/// derived fields written by hand, no signoffs).
pub fn is_seed_format(text: &str, first_line: u64) -> bool {
    parse_mapping(text, first_line).is_ok_and(|m| {
        !m.contains_key("record")
            && !m.contains_key("signoffs")
            && (m.contains_key("approved_by") || m.contains_key("approval_timestamp"))
    })
}
/// Parses one record document. `first_line` is where it starts in its file.
pub fn parse_record(text: &str, first_line: u64) -> Result<Record, YamlError> {
    // Fast path: the kind from a plain top-level `record: <kind>` line (as we write it), or an
    // operation when there is none, then one typed parse. Any other spelling (quoted keys, flow
    // style) or a wrong guess falls back to reading the kind with YAML first: a guess can cost a
    // second parse, never a wrong answer, since every typed parse refuses unknown fields.
    let guess = guess_kind(text);
    if let Some(kind) = guess
        && let Ok(r) = parse_as(kind, text, first_line)
    {
        return checked(r, first_line);
    }
    let peek: Peek = parse(text, first_line)?;
    if peek.record.is_none() && is_seed_format(text, first_line) {
        return Err(YamlError {
            line: Some(first_line),
            column: None,
            message: SEED_FORMAT_MESSAGE.into(),
        });
    }
    let kind = match peek.record.as_deref() {
        None => Kind::Operation,
        Some(k) => Kind::parse(k).ok_or_else(|| YamlError {
            line: Some(first_line),
            column: None,
            message: format!(
                "unknown record kind {k:?}; expected operation, outcome, grant, revocation, halt, resume or import"
            ),
        })?,
    };
    checked(parse_as(kind, text, first_line)?, first_line)
}

/// The kind a document's plain `record:` line names, or operation when no line starts with
/// `record` (None: cannot tell without YAML).
fn guess_kind(text: &str) -> Option<Kind> {
    let mut found = None;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("record:") {
            if found.is_some() {
                return None;
            }
            found = Some(Kind::parse(rest.trim())?);
        } else if l.starts_with("record")
            || l.starts_with('"')
            || l.starts_with('\'')
            || l.starts_with('{')
        {
            return None;
        }
    }
    Some(found.unwrap_or(Kind::Operation))
}

fn parse_as(kind: Kind, text: &str, first_line: u64) -> Result<Record, YamlError> {
    Ok(match kind {
        Kind::Operation => Record::Operation(parse::<Operation>(text, first_line)?),
        Kind::Outcome => Record::Outcome(parse::<Outcome>(text, first_line)?),
        Kind::Grant => Record::Grant(parse::<Grant>(text, first_line)?),
        Kind::Revocation => Record::Revocation(parse::<Revocation>(text, first_line)?),
        Kind::Halt => Record::Halt(parse::<Halt>(text, first_line)?),
        Kind::Resume => Record::Resume(parse::<Resume>(text, first_line)?),
        Kind::Import => Record::Import(parse::<Imported>(text, first_line)?),
    })
}

fn checked(record: Record, first_line: u64) -> Result<Record, YamlError> {
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
        Record::Import(x) => to_yaml(x),
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
    fn refuses_tags_anywhere_but_not_exclamation_marks_in_text() {
        let base = "operation_id: OPS-2026-01-27-001\noperation_name: n\nobjective: o\nrisk_class: READ_ONLY\nblast_radius: b\nrollback_strategy: r\nallowed_paths: []\nallowed_services: []\n";
        for (bad, line) in [
            ("notes: !!binary aGVsbG8=\n", 9),
            ("notes: !!str plain\n", 9),
            ("notes: !custom x\n", 9),
            (
                "changes_summary: ok\nnotes: !<tag:yaml.org,2002:str> x\n",
                10,
            ),
        ] {
            let e = parse_record(&format!("{base}{bad}"), 1).unwrap_err();
            assert!(e.message.contains("YAML tags"), "{bad}: {e}");
            assert_eq!(e.line, Some(line), "{bad}: {e}");
        }
        let e = parse_record(
            &format!("{base}allowed_services: !!seq [web]\n").replace("allowed_services: []\n", ""),
            1,
        )
        .unwrap_err();
        assert!(e.message.contains("YAML tags"), "{e}");
        // An exclamation mark in a value is text, not a tag.
        let r = parse_record(
            &format!("{base}notes: \"!!binary is not a tag here\"\nchanges_summary: done!\n"),
            1,
        )
        .unwrap();
        assert!(r.as_operation().unwrap().notes.as_deref() == Some("!!binary is not a tag here"));
        assert!(
            parse_policy("!!map\nversion: 1\n")
                .unwrap_err()
                .message
                .contains("YAML tags")
        );
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

    /// Property tests: whatever the text, a rendered record or policy reads back as itself.
    mod props {
        use std::collections::BTreeMap;

        use chrono::NaiveDate;
        use proptest::prelude::*;

        use super::super::*;
        use crate::model::policy::{
            GrantLimits, OperationsCfg, Policy, RiskRule, Rule, SignerEntry, SignerRole,
        };
        use crate::model::record::{
            Evidence, GitEvidence, GrantScope, OutcomeKind, ProofFile, ServiceStatus, Signoff,
        };
        use crate::model::{
            ArmoredSig, Fingerprint, IdKind, PublicKeyLine, RecordId, RiskClass, Role, SignerName,
            Timestamp, glob::Glob,
        };

        /// Pieces YAML likes to reinterpret: indicators, document markers, comments, line
        /// breaks, YAML 1.1 booleans and nulls, numbers, and unicode beyond the BMP.
        const PIECES: &[&str] = &[
            " ",
            "  ",
            "\t",
            "\n",
            "\n\n",
            "\r\n",
            ":",
            ": ",
            " :",
            "#",
            " #",
            "# ",
            "-",
            "- ",
            "---",
            "\n---\n",
            "--- ",
            "...",
            "\n...\n",
            "'",
            "''",
            "\"",
            "\\",
            "\\n",
            "|",
            "|-",
            ">",
            ">-",
            "&a",
            "*a",
            "!",
            "!!str",
            "%YAML 1.2",
            "@",
            "`",
            "[",
            "]",
            "{",
            "}",
            ",",
            "?",
            "? ",
            "yes",
            "no",
            "Yes",
            "NO",
            "on",
            "off",
            "y",
            "n",
            "true",
            "False",
            "null",
            "Null",
            "~",
            "0",
            "-1",
            "0755",
            "0x1F",
            "0o17",
            "1e3",
            "1_000",
            ".inf",
            "-.inf",
            ".nan",
            "12:30:00",
            "2026-01-27",
            "2026-01-27T06:15:30Z",
            "é",
            "日本語",
            "\u{1F600}",
            "\u{7f}",
            "\u{85}",
            "\u{a0}",
            "\u{feff}",
            "\u{2028}",
            "\u{2029}",
            "\u{0}",
            "\u{1b}[31m",
            "x",
            "word",
        ];

        fn text() -> BoxedStrategy<String> {
            prop_oneof![
                3 => prop::collection::vec(prop::sample::select(PIECES), 0..8)
                    .prop_map(|v| v.concat()),
                1 => any::<String>(),
                1 => "[ -~]{0,24}",
            ]
            .boxed()
        }

        fn non_blank() -> BoxedStrategy<String> {
            text()
                .prop_filter("mandatory fields are not blank", |s| !s.trim().is_empty())
                .boxed()
        }

        fn texts() -> BoxedStrategy<Vec<String>> {
            prop::collection::vec(text(), 0..4).boxed()
        }

        fn timestamp() -> BoxedStrategy<Timestamp> {
            // Years 0000 to 9999: the range a four-digit RFC 3339 year can write.
            (-62_167_219_200i64..253_402_300_800)
                .prop_map(|s| Timestamp::from_unix(s).expect("in chrono's range"))
                .boxed()
        }

        fn id(kind: IdKind) -> BoxedStrategy<RecordId> {
            (0i32..=9999, 1u32..=12, 1u32..=31, 1u32..=99_999)
                .prop_filter_map("a calendar date", move |(y, m, d, seq)| {
                    let date = NaiveDate::from_ymd_opt(y, m, d)?;
                    RecordId::new(kind, date, seq).ok()
                })
                .boxed()
        }

        fn signer() -> BoxedStrategy<SignerName> {
            "[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}"
                .prop_map(|s| SignerName::new(&s).expect("the pattern is the rule"))
                .boxed()
        }

        fn signoff() -> BoxedStrategy<Signoff> {
            (
                signer(),
                prop::sample::select(vec![Role::Requester, Role::Approver]),
                timestamp(),
                "[A-Za-z0-9+/]{43}",
                prop::option::of(id(IdKind::Grant)),
                prop::collection::vec("[A-Za-z0-9+/]{1,70}", 0..5),
                "={0,2}",
            )
                .prop_map(|(by, role, at, fp, grant, lines, pad)| {
                    let mut body = lines.join("\n");
                    body.push_str(&pad);
                    Signoff {
                        by,
                        role,
                        at,
                        key: Fingerprint::new(&format!("SHA256:{fp}")).expect("well formed"),
                        grant,
                        pin: None,
                        sig: ArmoredSig::new(&format!(
                            "-----BEGIN SSH SIGNATURE-----\n{body}\n-----END SSH SIGNATURE-----"
                        ))
                        .expect("well formed"),
                    }
                })
                .boxed()
        }

        fn signoffs() -> BoxedStrategy<Vec<Signoff>> {
            prop::collection::vec(signoff(), 0..3).boxed()
        }

        fn risk() -> BoxedStrategy<RiskClass> {
            prop::sample::select(RiskClass::ALL.to_vec()).boxed()
        }

        fn outcome_kind() -> BoxedStrategy<OutcomeKind> {
            prop::sample::select(vec![
                OutcomeKind::Success,
                OutcomeKind::Partial,
                OutcomeKind::Rollback,
            ])
            .boxed()
        }

        fn evidence() -> BoxedStrategy<Evidence> {
            let git = (text(), text(), prop::option::of(text()), any::<bool>()).prop_map(
                |(commit, commit_short, branch, dirty)| GitEvidence {
                    commit,
                    commit_short,
                    branch,
                    dirty,
                },
            );
            let proof = (
                text(),
                prop::option::of("[0-9a-f]{64}"),
                prop::option::of(0u64..(1 << 53)),
                prop::option::of(timestamp()),
                prop::option::of(text()),
            )
                .prop_map(|(path, sha256, size_bytes, mtime_utc, error)| ProofFile {
                    path,
                    sha256,
                    size_bytes,
                    mtime_utc,
                    error,
                });
            let services = prop::collection::btree_map(
                text(),
                (text(), prop::option::of(text()))
                    .prop_map(|(active, journal)| ServiceStatus { active, journal }),
                0..3,
            );
            (
                prop::option::of(timestamp()),
                prop::option::of(git),
                prop::option::of(text()),
                services,
                prop::option::of(proof),
                prop::option::of(text()),
                prop::option::of(text()),
                texts(),
            )
                .prop_map(
                    |(collected_at, git, hostname, services_status, proof_file, m, r, errors)| {
                        Evidence {
                            collected_at,
                            git,
                            hostname,
                            services_status,
                            proof_file,
                            metrics_snapshot: m,
                            redis_snapshot: r,
                            errors,
                        }
                    },
                )
                .boxed()
        }

        /// `(created_at, expires_at)` with the second after the first when both are there.
        fn window() -> BoxedStrategy<(Option<Timestamp>, Option<Timestamp>)> {
            (prop::option::of(timestamp()), prop::option::of(timestamp()))
                .prop_map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) if a == b => (Some(a), None),
                    (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                    other => other,
                })
                .boxed()
        }

        fn operation() -> BoxedStrategy<Record> {
            let declaration = (
                id(IdKind::Operation),
                non_blank(),
                non_blank(),
                risk(),
                non_blank(),
                non_blank(),
                texts(),
                texts(),
            );
            let optional = (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(signer()),
                window(),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(id(IdKind::Operation)),
                prop::option::of(text()),
            );
            let after = (
                prop::option::of(outcome_kind()),
                prop::option::of(timestamp()),
                prop::option::of(evidence()),
                signoffs(),
            );
            (declaration, optional, after).prop_map(|(d, o, a)| {
                let (operation_id, operation_name, objective, risk_class, blast, rollback, p, s) =
                    d;
                let (changes, env, requested_by, (created_at, expires_at), gc, gb, host, rb, n) =
                    o;
                let (outcome, execution_timestamp, evidence, signoffs) = a;
                // validate(): a ROLLBACK outcome names what it rolled back.
                let rollback_of = match (outcome, rb) {
                    (Some(OutcomeKind::Rollback), None) => Some(operation_id),
                    (_, rb) => rb,
                };
                Record::Operation(Operation {
                    record: Kind::Operation,
                    operation_id,
                    operation_name,
                    objective,
                    risk_class,
                    blast_radius: blast,
                    rollback_strategy: rollback,
                    allowed_paths: p,
                    allowed_services: s,
                    changes_summary: changes,
                    environment: env,
                    requested_by,
                    created_at,
                    expires_at,
                    git_commit: gc,
                    git_branch: gb,
                    hostname: host,
                    rollback_of,
                    notes: n,
                    outcome,
                    execution_timestamp,
                    evidence,
                    signoffs,
                })
            })
            .boxed()
        }

        fn outcome() -> BoxedStrategy<Record> {
            (
                id(IdKind::Outcome),
                id(IdKind::Operation),
                outcome_kind(),
                prop::option::of(timestamp()),
                prop::option::of(timestamp()),
                prop::option::of(id(IdKind::Operation)),
                prop::option::of(evidence()),
                prop::option::of(text()),
                signoffs(),
            )
                .prop_map(
                    |(outcome_id, operation_id, outcome, c, x, rb, evidence, notes, s)| {
                        let rollback_of = match (outcome, rb) {
                            (OutcomeKind::Rollback, None) => Some(operation_id),
                            (_, rb) => rb,
                        };
                        Record::Outcome(Outcome {
                            record: Kind::Outcome,
                            outcome_id,
                            operation_id,
                            outcome,
                            created_at: c,
                            execution_timestamp: x,
                            rollback_of,
                            evidence,
                            notes,
                            signoffs: s,
                        })
                    },
                )
                .boxed()
        }

        fn grant() -> BoxedStrategy<Record> {
            let scope = (
                prop::collection::vec(risk(), 1..4),
                texts(),
                texts(),
                texts(),
                any::<bool>(),
            )
                .prop_map(
                    |(risk_classes, paths, services, environments, auto_rollback)| GrantScope {
                        risk_classes,
                        paths,
                        services,
                        environments,
                        auto_rollback,
                    },
                );
            (
                id(IdKind::Grant),
                signer(),
                prop::option::of(timestamp()),
                window(),
                timestamp(),
                scope,
                any::<bool>(),
                prop::option::of(text()),
                signoffs(),
            )
                .prop_map(
                    |(grant_id, grantee, created_at, w, t, scope, bg, reason, s)| {
                        // validate(): expires_at after not_before.
                        let (not_before, expires_at) = match w {
                            (Some(nb), Some(e)) => (Some(nb), e),
                            (nb, _) => (nb.filter(|nb| *nb < t), t),
                        };
                        Record::Grant(Grant {
                            record: Kind::Grant,
                            grant_id,
                            grantee,
                            created_at,
                            not_before,
                            expires_at,
                            scope,
                            break_glass: bg,
                            reason,
                            signoffs: s,
                        })
                    },
                )
                .boxed()
        }

        fn small() -> BoxedStrategy<Record> {
            let revokes = prop_oneof![
                id(IdKind::Grant).prop_map(|g| g.to_string()),
                signer().prop_map(|s| s.to_string()),
            ];
            prop_oneof![
                (
                    id(IdKind::Revocation),
                    revokes,
                    prop::option::of(timestamp()),
                    prop::option::of(text()),
                    signoffs()
                )
                    .prop_map(
                        |(revocation_id, revokes, created_at, reason, signoffs)| {
                            Record::Revocation(Revocation {
                                record: Kind::Revocation,
                                revocation_id,
                                revokes,
                                created_at,
                                reason,
                                signoffs,
                            })
                        }
                    ),
                (
                    id(IdKind::Halt),
                    prop::option::of(timestamp()),
                    prop::option::of(text()),
                    signoffs()
                )
                    .prop_map(|(halt_id, created_at, reason, signoffs)| {
                        Record::Halt(Halt {
                            record: Kind::Halt,
                            halt_id,
                            created_at,
                            reason,
                            signoffs,
                        })
                    }),
                (
                    id(IdKind::Resume),
                    prop::option::of(id(IdKind::Halt)),
                    prop::option::of(timestamp()),
                    prop::option::of(text()),
                    signoffs()
                )
                    .prop_map(
                        |(resume_id, resumes, created_at, reason, signoffs)| {
                            Record::Resume(Resume {
                                record: Kind::Resume,
                                resume_id,
                                resumes,
                                created_at,
                                reason,
                                signoffs,
                            })
                        }
                    ),
            ]
            .boxed()
        }

        fn record() -> BoxedStrategy<Record> {
            prop_oneof![3 => operation(), 1 => outcome(), 1 => grant(), 1 => small()].boxed()
        }

        fn glob() -> BoxedStrategy<Glob> {
            prop::collection::vec(
                prop::sample::select(vec![
                    "ops", "deploy", "**", "*", "*.yaml", "a?c", "[ab]", "[!x]*", "é", "x y",
                    "yes", "null", "#x", "a:b",
                ]),
                1..4,
            )
            .prop_map(|parts| Glob::new(&parts.join("/")).expect("well-formed parts"))
            .boxed()
        }

        fn policy() -> BoxedStrategy<Policy> {
            let signers =
                prop::collection::btree_map(signer(), (any::<bool>(), any::<bool>()), 0..4)
                    .prop_map(|m| {
                        m.into_iter()
                            .enumerate()
                            .map(|(i, (name, (human, approver)))| {
                                // Distinct keys, as validate() requires: the index in the key bytes.
                                let mut bytes = [7u8; 32];
                                bytes[0] = i as u8;
                                let key = ssh_key::PublicKey::new(
                                    ssh_key::public::KeyData::Ed25519(
                                        ssh_key::public::Ed25519PublicKey(bytes),
                                    ),
                                    format!("{name}@example.org"),
                                );
                                let roles = match (human, approver) {
                                    (false, _) => vec![SignerRole::Automation],
                                    (true, false) => vec![SignerRole::Human],
                                    (true, true) => vec![SignerRole::Human, SignerRole::Approver],
                                };
                                let key = PublicKeyLine::from_key(&key).expect("an ed25519 key");
                                (
                                    name,
                                    SignerEntry {
                                        key,
                                        roles,
                                        retired_keys: Vec::new(),
                                    },
                                )
                            })
                            .collect::<BTreeMap<_, _>>()
                    });
            let risk_rule =
                (0u32..4, any::<bool>()).prop_map(|(approvals, self_approval)| RiskRule {
                    approvals,
                    self_approval,
                });
            let rule = (
                prop::collection::vec(glob(), 1..3),
                risk(),
                prop::option::of(0u32..4),
                any::<bool>(),
            )
                .prop_map(|(paths, min_risk, approvals, human_only)| Rule {
                    paths,
                    min_risk,
                    approvals,
                    human_only,
                    pin: None,
                });
            (
                any::<u32>(),
                signers,
                prop::collection::vec(risk_rule, 4),
                prop::collection::vec(rule, 0..3),
                prop::collection::vec(glob(), 0..3),
                (any::<u32>(), any::<u32>()),
                (1u32.., any::<bool>(), any::<bool>()),
                texts(),
            )
                .prop_map(
                    |(version, signers, rr, rules, immutable, g, o, forbidden)| Policy {
                        format: 1,
                        version: u64::from(version),
                        repository_id: None,
                        signers,
                        risk_classes: RiskClass::ALL.into_iter().zip(rr).collect(),
                        rules,
                        immutable,
                        grants: GrantLimits {
                            max_hours: g.0,
                            break_glass_max_hours: g.1,
                        },
                        operations: OperationsCfg {
                            default_window_hours: o.0,
                            require_tags: o.1,
                            human_only_tags: o.2,
                        },
                        forbidden,
                        refs: Default::default(),
                        commits: Default::default(),
                        automation: None,
                        pushers: Default::default(),
                    },
                )
                .boxed()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn records_read_back_as_rendered(r in record()) {
                prop_assert!(r.validate().is_ok(), "the generator made an invalid record");
                let text = render_record(&r);
                let back = parse_record(&text, 1);
                prop_assert!(back.is_ok(), "{:?}\n--- rendered:\n{}", back.err(), text);
                let back = back.expect("checked");
                prop_assert_eq!(&back, &r, "rendered:\n{}", text);
                prop_assert_eq!(back.payload_sha256(), r.payload_sha256());
                // Rendering is a function of the value: the same text again.
                prop_assert_eq!(render_record(&back), text);
            }

            #[test]
            fn a_stream_splits_into_its_records(rs in prop::collection::vec(record(), 1..6)) {
                let mut text = String::from("# a ledger file\n");
                let mut starts = Vec::new();
                for r in &rs {
                    starts.push(text.lines().count() as u64 + 1);
                    text.push_str(&render_record(r));
                }
                let spans = split_documents(&text);
                prop_assert_eq!(spans.len(), rs.len(), "stream:\n{}", text);
                let firsts: Vec<u64> = spans.iter().map(|s| s.first_line).collect();
                prop_assert_eq!(firsts, starts);
                let parsed = parse_stream(&text);
                prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
                let parsed: Vec<Record> =
                    parsed.expect("checked").into_iter().map(|(_, r)| r).collect();
                prop_assert_eq!(parsed, rs);
            }

            /// Every integer of a payload must be bound by its digest. Canonical JSON (RFC 8785)
            /// writes numbers as IEEE doubles, so an integer above 2^53 is rounded, and two
            /// different payloads share a digest: a signed `size_bytes` can then be changed
            /// without breaking a signature. Such a value must be refused when read, or hashed
            /// exactly.
            #[test]
            fn payload_digest_binds_large_integers(n in (1u64 << 53)..u64::MAX) {
                let doc = |size: u64| format!(
                    "operation_id: OPS-2026-01-27-001\noperation_name: n\nobjective: o\n\
                     risk_class: READ_ONLY\nblast_radius: b\nrollback_strategy: r\n\
                     allowed_paths: []\nallowed_services: []\n\
                     evidence:\n  proof_file:\n    path: p\n    size_bytes: {size}\n"
                );
                if let (Ok(a), Ok(b)) = (parse_record(&doc(n), 1), parse_record(&doc(n + 1), 1)) {
                    prop_assert_ne!(a.payload_sha256(), b.payload_sha256());
                }
            }

            #[test]
            fn policies_read_back_as_rendered(p in policy()) {
                prop_assert!(p.validate().is_ok(), "the generator made an invalid policy");
                let text = render_policy(&p);
                let back = parse_policy(&text);
                prop_assert!(back.is_ok(), "{:?}\n--- rendered:\n{}", back.err(), text);
                prop_assert_eq!(back.expect("checked"), p, "rendered:\n{}", text);
            }
        }
    }
}
