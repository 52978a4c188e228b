//! `git ops import`: entries of a ledger kept before git-ops (the seeds' `docs/OPS_CHANGELOG.md`
//! YAML blocks and flat `ops/ledger` entries) become `import` records, signed by the importer as
//! an attestation of where they came from, never as approvals (docs/IMPORT.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::workspace::Signer;
use crate::crypto;
use crate::model::canonical;
use crate::model::policy::{LEDGER_DIR, Policy};
use crate::model::record::{ImportSource, Imported, MAX_SAFE_INTEGER, Role};
use crate::model::{IdKind, Kind, Record, RecordId, Timestamp, yaml};
use crate::store::ledger::{LedgerWriter, month_of, month_path};
use crate::store::{LedgerFile, Repo};

/// The Markdown ledger of the seeds, read when `import` is given no path.
pub const CHANGELOG_PATH: &str = "docs/OPS_CHANGELOG.md";

/// An entry read from a source, with where it was.
#[derive(Debug, Clone)]
pub struct Placed {
    pub id: RecordId,
    pub file: String,
    pub line: u64,
}

/// Something that could not be read, and why.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub file: String,
    pub line: Option<u64>,
    pub why: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Entries now in the ledger as import records.
    pub imported: Vec<Placed>,
    /// Entries whose id the ledger already has (imported before, or a git-ops record).
    pub already: Vec<Placed>,
    pub unreadable: Vec<Unreadable>,
    /// Ledger files written.
    pub written: Vec<String>,
    /// The sources read.
    pub sources: Vec<String>,
}

/// One entry found in a source.
struct Found {
    file: String,
    line: u64,
    text: String,
    /// Byte range in an `ops/ledger` month file, which import removes the entry from.
    in_ledger: Option<(String, std::ops::Range<usize>)>,
}

/// Imports the entries of `sources` (repository-relative paths; none: `docs/OPS_CHANGELOG.md`
/// if it exists and every seed-format entry in `ops/ledger/`), signed by `me` at `now`.
pub fn import(
    repo: &Repo,
    policy: &Policy,
    me: &Signer,
    sources: &[String],
    now: Timestamp,
) -> Result<ImportReport> {
    let writer = LedgerWriter::lock(repo)?;
    let root = writer.root().to_path_buf();
    let mut report = ImportReport::default();

    // The ledger as it is: the ids it has, and the seed-format entries in its files.
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut taken: BTreeSet<RecordId> = BTreeSet::new();
    let mut existing: BTreeMap<RecordId, Record> = BTreeMap::new();
    let mut found: Vec<Found> = Vec::new();
    let explicit: BTreeSet<&str> = sources.iter().map(String::as_str).collect();
    for month in writer.months()? {
        let rel = month_path(&month);
        let Some(text) = writer.month_text(&month)? else {
            continue;
        };
        let wanted = sources.is_empty() || explicit.contains(rel.as_str());
        for span in yaml::split_documents(&text) {
            let doc = &text[span.bytes.clone()];
            match yaml::parse_record(doc, span.first_line) {
                Ok(r) => {
                    taken.insert(*r.id());
                    existing.insert(*r.id(), r);
                }
                Err(_) if wanted && yaml::is_seed_format(doc, span.first_line) => {
                    found.push(Found {
                        file: rel.clone(),
                        line: span.first_line,
                        text: doc.to_string(),
                        in_ledger: Some((month.clone(), span.bytes.clone())),
                    });
                }
                // Other broken documents are the month file's trouble: writing to it will say.
                Err(_) => {}
            }
        }
        if wanted {
            report.sources.push(rel.clone());
        }
        texts.insert(month, text);
    }
    let mut files: Vec<String> = sources
        .iter()
        .filter(|s| month_of(s).is_none() || !s.starts_with(&format!("{LEDGER_DIR}/")))
        .cloned()
        .collect();
    if sources.is_empty() && root.join(CHANGELOG_PATH).is_file() {
        files.push(CHANGELOG_PATH.to_string());
    }
    for file in files {
        let path = root.join(&file);
        let text =
            std::fs::read(&path).map_err(|e| Error::Store(crate::store::Error::io(&path, e)))?;
        let Ok(text) = String::from_utf8(text) else {
            report.unreadable.push(Unreadable {
                file: file.clone(),
                line: None,
                why: "not UTF-8 text".into(),
            });
            continue;
        };
        report.sources.push(file.clone());
        let docs = if is_markdown(&file) {
            markdown_blocks(&text)
        } else {
            yaml::split_documents(&text)
                .into_iter()
                .map(|s| (s.first_line, text[s.bytes].to_string()))
                .collect()
        };
        for (line, doc) in docs {
            found.push(Found {
                file: file.clone(),
                line,
                text: doc,
                in_ledger: None,
            });
        }
    }

    let commit = repo.head_commit()?.map(|c| c.to_string());
    let mut new_records: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    let mut removed: BTreeMap<String, Vec<std::ops::Range<usize>>> = BTreeMap::new();
    let mut pending: Vec<(Placed, String)> = Vec::new();
    for f in found {
        let entry = match read_entry(&f, now) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(why) => {
                report.unreadable.push(Unreadable {
                    file: f.file,
                    line: Some(f.line),
                    why,
                });
                continue;
            }
        };
        let id: RecordId = entry
            .get("operation_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .expect("read_entry checked the id");
        let placed = Placed {
            id,
            file: f.file.clone(),
            line: f.line,
        };
        if !taken.insert(id) {
            // A seed entry left in a ledger file goes only when the ledger holds exactly it;
            // another record under its id is reported, and the entry left where it is.
            if let Some((month, range)) = &f.in_ledger {
                let same = matches!(existing.get(&id), Some(Record::Import(i)) if i.entry == entry);
                if !same {
                    report.unreadable.push(Unreadable {
                        file: f.file,
                        line: Some(f.line),
                        why: format!(
                            "{id} is already in the ledger as another record; give this entry its own id or remove it"
                        ),
                    });
                    continue;
                }
                removed
                    .entry(month.clone())
                    .or_default()
                    .push(range.clone());
            }
            report.already.push(placed);
            continue;
        }
        if let Some((month, range)) = &f.in_ledger {
            removed
                .entry(month.clone())
                .or_default()
                .push(range.clone());
        }
        let mut record = Record::Import(Imported {
            record: Kind::Import,
            operation_id: id,
            imported_by: me.name.clone(),
            imported_at: now,
            source: ImportSource {
                file: f.file.clone(),
                line: f.line,
                commit: commit.clone(),
                sha256: canonical::sha256_hex_bytes(f.text.as_bytes()),
            },
            entry,
            signoffs: Vec::new(),
        });
        record.validate()?;
        let s = crypto::signoff_in(
            policy.repository_id.as_deref(),
            &record,
            &me.key,
            &me.name,
            Role::Importer,
            now,
            None,
        )?;
        record.signoffs_mut().push(s);
        pending.push((placed, id.month()));
        new_records.entry(id.month()).or_default().push(record);
    }

    // Each month file: its text without the seed-format entries taken out, then the new
    // records, oldest id first. A month that would not read back is not written.
    let months: BTreeSet<String> = new_records.keys().chain(removed.keys()).cloned().collect();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for month in months {
        let old = texts.get(&month).cloned().unwrap_or_default();
        let mut text = String::with_capacity(old.len());
        let mut cut = removed.get(&month).cloned().unwrap_or_default();
        cut.sort_by_key(|r| r.start);
        let mut at = 0;
        for r in cut {
            text.push_str(&old[at..r.start]);
            at = r.end;
        }
        text.push_str(&old[at..]);
        let mut records = new_records.remove(&month).unwrap_or_default();
        records.sort_by_key(|r| *r.id());
        for r in &records {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&yaml::render_record(r));
        }
        if text == old {
            continue;
        }
        let rel = month_path(&month);
        if let Err(e) = LedgerFile::parse(&rel, text.clone()) {
            let (line, why) = match e {
                crate::store::Error::Yaml { error, .. } => (error.line, error.message),
                other => (None, other.to_string()),
            };
            report.unreadable.push(Unreadable {
                file: rel.clone(),
                line,
                why: format!(
                    "{why} (nothing was imported into {rel}: fix the file and run `git ops import` again)"
                ),
            });
            failed.insert(month);
            continue;
        }
        writer.put_month(&month, &text)?;
        report.written.push(rel);
    }
    for (placed, month) in pending {
        if !failed.contains(&month) {
            report.imported.push(placed);
        }
    }
    Ok(report)
}

fn is_markdown(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// The YAML documents of a Markdown ledger, each with its first line: the documents of every
/// fenced ```` ```yaml ```` block, and front-matter-like blocks outside fences (a `---` line
/// followed by `operation_id:`, up to the next `---` line, fence or heading).
pub fn markdown_blocks(text: &str) -> Vec<(u64, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        let fence = t.strip_prefix("```").map(|r| r.trim().to_ascii_lowercase());
        if let Some(lang) = fence {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].trim_start().starts_with("```") {
                end += 1;
            }
            if lang == "yaml" || lang == "yml" {
                let body: String = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
                for span in yaml::split_documents(&body) {
                    out.push((start as u64 + span.first_line, body[span.bytes].to_string()));
                }
            }
            i = end + 1;
            continue;
        }
        if t == "---"
            && lines
                .get(i + 1)
                .is_some_and(|l| l.starts_with("operation_id:"))
        {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() {
                let l = lines[end].trim_end();
                if l == "---" || l == "..." || l.starts_with("```") || l.starts_with('#') {
                    break;
                }
                end += 1;
            }
            let body: String = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
            out.push((start as u64 + 1, body));
            i = if lines.get(end).is_some_and(|l| l.trim_end() == "...") {
                end + 1
            } else {
                end
            };
            continue;
        }
        i += 1;
    }
    out
}

/// The entry of one document: None when it is not a ledger entry at all (a YAML block of
/// something else in a Markdown file), an error when it is one we cannot take.
fn read_entry(
    f: &Found,
    now: Timestamp,
) -> std::result::Result<Option<Map<String, Value>>, String> {
    if f.in_ledger.is_none() && yaml::parse_record(&f.text, f.line).is_ok() {
        return Err(
            "a git-ops record, not an entry of an earlier ledger: records go into ops/ledger/ as they are"
                .into(),
        );
    }
    let map = match yaml::parse_mapping(&f.text, f.line) {
        Ok(m) => m,
        Err(e) => {
            if is_markdown(&f.file) && !f.text.contains("operation_id") {
                return Ok(None);
            }
            return Err(e.message);
        }
    };
    let seedish = [
        "operation_id",
        "operation_name",
        "approved_by",
        "requested_by",
    ]
    .iter()
    .any(|k| map.contains_key(*k));
    if !seedish {
        if is_markdown(&f.file) {
            return Ok(None);
        }
        return Err("not a ledger entry: no operation_id".into());
    }
    let id = match map.get("operation_id") {
        None => return Err("no operation_id: an entry needs its OPS-YYYY-MM-DD-NNN id".into()),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("operation_id {other} is not text")),
    };
    let id: RecordId = match id.parse() {
        Ok(id) => id,
        Err(_) => {
            return Err(format!(
                "operation_id {id:?} is not an OPS-YYYY-MM-DD-NNN id (a template's placeholder?)"
            ));
        }
    };
    if id.kind() != IdKind::Operation {
        return Err(format!(
            "operation_id {id} is not an operation id (OPS-...)"
        ));
    }
    if id.date() > now.date() {
        return Err(format!("{id} is dated in the future"));
    }
    Ok(Some(
        map.into_iter().map(|(k, v)| (k, signable(v))).collect(),
    ))
}

/// `v` with every number signed data cannot hold exactly (fractions, beyond 2^53) as text.
fn signable(v: Value) -> Value {
    match v {
        Value::Number(n) => {
            let ok = n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if ok {
                Value::Number(n)
            } else {
                Value::String(n.to_string())
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(signable).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, signable(v))).collect()),
        other => other,
    }
}

/// `path` (absolute, or relative to `cwd`) as a path relative to the work tree `root`; files
/// outside the work tree are refused, since an import names the commit its source is in.
pub fn relative_source(root: &Path, cwd: &Path, path: &Path) -> Result<String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let abs = abs
        .canonicalize()
        .map_err(|e| Error::Store(crate::store::Error::io(&abs, e)))?;
    let root = root
        .canonicalize()
        .map_err(|e| Error::Store(crate::store::Error::io(root, e)))?;
    let rel = abs.strip_prefix(&root).map_err(|_| {
        Error::hinted(
            format!("{} is outside the repository", path.display()),
            "copy the file into the repository and commit it first, so the import names where it came from",
        )
    })?;
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

impl super::Workspace {
    /// The outcome record that closes operation `id`, if any (the one [`Self::closing_outcome`]
    /// names).
    pub fn closing_outcome_record(&self, id: &RecordId) -> Option<&crate::model::record::Outcome> {
        let closer = self.closing_outcome(id)?;
        match self.ledger().find(&closer).map(|l| l.value) {
            Some(Record::Outcome(o)) => Some(o),
            _ => None,
        }
    }

    /// Record `r` as the seeds write it (`show --format seed`, the changelog, the runbook):
    /// judged as history, with the outcome that closed it folded in.
    pub fn seed_view(&self, r: &Record) -> Result<Map<String, Value>> {
        let judged = self.judge(r, super::Clock::History)?;
        let closed = match r {
            Record::Operation(o) => self.closing_outcome_record(&o.operation_id),
            _ => None,
        };
        Ok(crate::render::seed::flat_closed(r, &judged.check, closed))
    }

    /// Every operation and imported entry of the ledger in the seeds' form, in ledger order,
    /// for the Markdown changelog.
    pub fn seed_views(&self) -> Result<Vec<(RecordId, Map<String, Value>)>> {
        let mut out = Vec::new();
        for x in self.ledger().records() {
            if matches!(x.value, Record::Operation(_) | Record::Import(_)) {
                out.push((*x.value.id(), self.seed_view(x.value)?));
            }
        }
        Ok(out)
    }
}

impl super::Workspace {
    /// The Markdown changelog of the ledger (docs/OPS_CHANGELOG.md's form), and how many entries
    /// it has.
    pub fn changelog_text(&self) -> Result<(String, usize)> {
        let commits = super::report::signed_commits_by_operation(self.repo())?;
        let entries: Vec<_> = self
            .seed_views()?
            .into_iter()
            .map(|(id, mut flat)| {
                // Who made each change the operation covered: its commits and verified signers.
                if let Some(list) = commits.get(&id) {
                    let made = list
                        .iter()
                        .map(|(commit, by)| Value::String(format!("{commit} signed by {by}")))
                        .collect();
                    flat.insert("commits".into(), Value::Array(made));
                }
                (id.to_string(), id.month(), yaml::render_value(&flat))
            })
            .collect();
        Ok((crate::render::changelog::render(&entries), entries.len()))
    }

    /// Refuses to overwrite a Markdown ledger at `path` that holds entries this ledger has not
    /// got (a hand-kept changelog not imported yet): regenerating it would drop them.
    pub fn changelog_may_replace(&self, path: &Path) -> Result<()> {
        let path = if path.is_relative() {
            self.root().join(path)
        } else {
            path.to_path_buf()
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let missing: Vec<String> = markdown_blocks(&text)
            .into_iter()
            .filter_map(|(_, doc)| yaml::parse_mapping(&doc, 1).ok())
            .filter_map(|m| m.get("operation_id")?.as_str()?.parse::<RecordId>().ok())
            .filter(|id| self.ledger().find(id).is_none())
            .map(|id| id.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::hinted(
            format!(
                "{} has entries the ledger has not ({}); writing it from the ledger would drop them",
                path.display(),
                missing.join(", ")
            ),
            format!("run `git ops import {}` first", path.display()),
        ))
    }

    /// Writes the Markdown changelog to `path` (relative to the work tree unless absolute),
    /// after [`Self::changelog_may_replace`]; returns how many entries it has.
    pub fn write_changelog(&self, path: &Path) -> Result<usize> {
        self.changelog_may_replace(path)?;
        let (text, n) = self.changelog_text()?;
        self.write_document(path, &text)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks_fenced_and_front_matter_with_their_lines() {
        let text = "# Log\n\n## 2026-01\n\n```yaml\n---\noperation_id: OPS-2026-01-27-002\n---\noperation_id: OPS-2026-01-27-001\n```\n\n\
                    ```sh\n---\noperation_id: not-yaml-block\n```\n\n---\noperation_id: OPS-2026-01-26-001\nnotes: bare\n---\n\nText.\n";
        let blocks = markdown_blocks(text);
        let got: Vec<(u64, &str)> = blocks
            .iter()
            .map(|(l, d)| {
                (
                    *l,
                    d.lines().find(|l| l.starts_with("operation_id")).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (6, "operation_id: OPS-2026-01-27-002"),
                (8, "operation_id: OPS-2026-01-27-001"),
                // A bare block starts at its first key (the `---` before it is not part of it).
                (18, "operation_id: OPS-2026-01-26-001"),
            ]
        );
        assert_eq!(
            text.lines().nth(5),
            Some("---"),
            "line 6 is the first block's `---`"
        );
        assert!(blocks[2].1.contains("notes: bare"));
    }

    #[test]
    fn numbers_signed_data_cannot_hold_become_text() {
        let v: Value = serde_json::json!({"a": 1.5, "b": [9007199254740993u64, 3], "c": {"d": -2}});
        assert_eq!(
            signable(v),
            serde_json::json!({"a": "1.5", "b": ["9007199254740993", 3], "c": {"d": -2}})
        );
    }
}
