//! Ledger files: `ops/ledger/YYYY-MM.yaml`, each a YAML stream of records, oldest first.
//!
//! Writers take an exclusive lock in the git directory shared by all worktrees, re-read the file
//! under the lock and replace it atomically, so concurrent writers are serialised and a crash
//! leaves either the old file or the whole new one. Temporary files live in the git directory, so
//! a crash leaves nothing in the work tree.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::fsutil::{FileLock, write_atomic_via};
use super::{Error, Repo, Result};
use crate::model::ids::MAX_SEQ;
use crate::model::policy::LEDGER_DIR;
use crate::model::yaml::{self, DocSpan};
use crate::model::{IdKind, Record, RecordId};

/// A value with the place it was read from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// Repository-relative path of the file.
    pub file: String,
    /// First line of the record's document (1-based).
    pub line: u64,
    pub value: T,
}

#[derive(Debug, Clone)]
pub struct LedgerFile {
    /// Repository-relative path, `ops/ledger/YYYY-MM.yaml`.
    pub path: String,
    /// `YYYY-MM`, from the file name.
    pub month: String,
    pub text: String,
    pub records: Vec<(DocSpan, Record)>,
}

impl LedgerFile {
    /// Parses the text of a ledger file; `path` is only used in messages and checks.
    pub fn parse(path: &str, text: String) -> Result<LedgerFile> {
        let month = month_of(path).ok_or_else(|| Error::Yaml {
            path: path.to_string(),
            error: yaml::YamlError {
                line: None,
                column: None,
                message: "ledger files must be named ops/ledger/YYYY-MM.yaml".into(),
            },
        })?;
        let records = yaml::parse_stream(&text).map_err(|error| Error::Yaml {
            path: path.to_string(),
            error,
        })?;
        for (span, r) in &records {
            if r.id().month() != month {
                return Err(Error::Yaml {
                    path: path.to_string(),
                    error: yaml::YamlError {
                        line: Some(span.first_line),
                        column: None,
                        message: format!(
                            "{} belongs in ops/ledger/{}.yaml, not in the file for {month}",
                            r.id(),
                            r.id().month()
                        ),
                    },
                });
            }
        }
        Ok(LedgerFile {
            path: path.to_string(),
            month,
            text,
            records,
        })
    }
}

/// A document of a ledger file that could not be read, as a lenient reader reports it.
#[derive(Debug, Clone)]
pub struct BadDoc {
    /// Repository-relative path of the file.
    pub file: String,
    /// First line of the document; None when the whole file could not be read.
    pub line: Option<u64>,
    /// The record id its text shows, when it shows one.
    pub id: Option<RecordId>,
    pub message: String,
}

impl std::fmt::Display for BadDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As every other message names a place: `file: line N: `, then the record it is.
        write!(f, "{}: ", self.file)?;
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        if let Some(id) = &self.id {
            write!(f, "{id}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl LedgerFile {
    /// Parses what can be parsed of a ledger file: the records of the documents that read, and
    /// each document that does not, with its line and the id its text shows. For readers only;
    /// writers use [`LedgerFile::parse`], which refuses the whole file.
    pub fn parse_lenient(path: &str, text: String) -> (LedgerFile, Vec<BadDoc>) {
        let month = month_of(path).unwrap_or_default();
        let mut records = Vec::new();
        let mut bad = Vec::new();
        for span in yaml::split_documents(&text) {
            let doc = &text[span.bytes.clone()];
            let (line, problem) = match yaml::parse_record(doc, span.first_line) {
                Ok(r) if r.id().month() == month => {
                    records.push((span, r));
                    continue;
                }
                Ok(r) => (
                    span.first_line,
                    format!(
                        "{} belongs in ops/ledger/{}.yaml, not in the file for {month}",
                        r.id(),
                        r.id().month()
                    ),
                ),
                Err(e) => (e.line.unwrap_or(span.first_line), e.message),
            };
            bad.push(BadDoc {
                file: path.to_string(),
                line: Some(line),
                id: ids_in_text(doc).into_iter().next(),
                message: problem,
            });
        }
        (
            LedgerFile {
                path: path.to_string(),
                month,
                text,
                records,
            },
            bad,
        )
    }
}

/// `YYYY-MM` from `.../YYYY-MM.yaml`, if the name has that form.
pub fn month_of(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let stem = name.strip_suffix(".yaml")?;
    NaiveDate::parse_from_str(&format!("{stem}-01"), "%Y-%m-%d").ok()?;
    (stem.len() == 7).then(|| stem.to_string())
}

pub fn month_path(month: &str) -> String {
    format!("{LEDGER_DIR}/{month}.yaml")
}

/// Every record of a working tree's ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    pub files: Vec<LedgerFile>,
}

impl Ledger {
    /// Reads every ledger file under `root`. Stops at the first file that does not parse.
    pub fn load(root: &Path) -> Result<Ledger> {
        let files = load_files(root)?.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(Ledger { files })
    }

    /// Reads every ledger file under `root`, keeping the records of the documents that read and
    /// reporting the others (see [`LedgerFile::parse_lenient`]). For commands that only show
    /// the ledger; I/O errors still stop it.
    pub fn load_lenient(root: &Path) -> Result<(Ledger, Vec<BadDoc>)> {
        let mut files = Vec::new();
        let mut bad = Vec::new();
        for res in load_files(root)? {
            match res {
                Ok(f) => files.push(f),
                Err(Error::Yaml { path, error }) => {
                    let full = root.join(&path);
                    let regular =
                        fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_file());
                    let text = if regular && month_of(&path).is_some() {
                        fs::read(&full).ok().and_then(|b| String::from_utf8(b).ok())
                    } else {
                        None
                    };
                    match text {
                        Some(text) => {
                            let (f, b) = LedgerFile::parse_lenient(&path, text);
                            files.push(f);
                            bad.extend(b);
                        }
                        None => bad.push(BadDoc {
                            file: path,
                            line: error.line,
                            id: None,
                            message: error.message,
                        }),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok((Ledger { files }, bad))
    }

    pub fn records(&self) -> impl Iterator<Item = Located<&Record>> {
        self.files.iter().flat_map(|f| {
            f.records.iter().map(move |(span, r)| Located {
                file: f.path.clone(),
                line: span.first_line,
                value: r,
            })
        })
    }

    pub fn find(&self, id: &RecordId) -> Option<Located<&Record>> {
        let path = month_path(&id.month());
        let f = self.files.iter().find(|f| f.path == path)?;
        f.records
            .iter()
            .find(|(_, r)| r.id() == id)
            .map(|(span, r)| Located {
                file: f.path.clone(),
                line: span.first_line,
                value: r,
            })
    }
}

/// The ledger files under `root` (a working tree), each parsed or with its error, sorted by
/// name. Files in the ledger directory that are not `YYYY-MM.yaml` come back as errors.
pub fn load_files(root: &Path) -> Result<Vec<Result<LedgerFile>>> {
    let dir = root.join(LEDGER_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // our own temporary files and editors' swap files
        }
        names.push(name);
    }
    names.sort();
    let load = |name: &String| {
        let rel = format!("{LEDGER_DIR}/{name}");
        let path = dir.join(name);
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        if !meta.is_file() {
            return Err(Error::Yaml {
                path: rel,
                error: yaml::YamlError {
                    line: None,
                    column: None,
                    message:
                        "not a regular file (symlinks and directories are refused in the ledger)"
                            .into(),
                },
            });
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        LedgerFile::parse(&rel, text)
    };
    // Month files parse independently: spread them over the cores, keep their order.
    Ok(crate::par::map(&names, 2, load))
}

/// Holds the ledger lock; every write goes through it.
pub struct LedgerWriter<'r> {
    repo: &'r Repo,
    root: PathBuf,
    /// Where temporary files are made: in the git directory, on the work tree's filesystem.
    tmp: PathBuf,
    _lock: FileLock,
}

/// The prefix of temporary files, here and (from earlier versions) in the ledger directory.
const TMP_PREFIX: &str = ".git-ops-tmp-";

impl<'r> LedgerWriter<'r> {
    /// Waits for the ledger lock, which every worktree of the repository shares (they share
    /// tags, and ids must not collide between them). Removes what crashed writers left.
    pub fn lock(repo: &'r Repo) -> Result<Self> {
        let root = repo.workdir()?.to_path_buf();
        let lock = FileLock::acquire(&repo.path_in_common_dir("git-ops/ledger.lock"))?;
        let tmp = repo.path_in_git_dir("git-ops/tmp");
        let writer = LedgerWriter {
            repo,
            root,
            tmp,
            _lock: lock,
        };
        writer.remove_debris();
        Ok(writer)
    }

    /// Under the lock no other writer is between creating and renaming a temporary file, so any
    /// left is a crashed writer's. Best effort: debris never stops a write.
    fn remove_debris(&self) {
        for dir in [self.tmp.clone(), self.root.join(LEDGER_DIR)] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    fn write(&self, rel: &str, text: &str) -> Result<()> {
        write_atomic_via(&self.root.join(rel), text.as_bytes(), &self.tmp)
    }

    fn read_month(&self, month: &str) -> Result<Option<LedgerFile>> {
        let rel = month_path(month);
        let path = self.root.join(&rel);
        match fs::read_to_string(&path) {
            Ok(text) => LedgerFile::parse(&rel, text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The ledger as it is now, under the lock.
    pub fn ledger(&self) -> Result<Ledger> {
        Ledger::load(&self.root)
    }

    /// The next free id of `kind` on `date` (FORMAT.md, "Ids"). Every id already seen is
    /// skipped: this ledger, the uncommitted ledgers of the other worktrees, `ops-*` tags, and the
    /// ledger files of local and remote-tracking branches. Without a remote, nobody else can
    /// declare, and the id is one more than the highest seen; with one, other clones may be
    /// declaring offline at the same moment, so the number is drawn at random from the whole
    /// range (1..=99999), which makes a clash between two clones about one in 100,000 per pair
    /// of same-day ids.
    pub fn next_id(&self, kind: IdKind, date: NaiveDate) -> Result<RecordId> {
        let taken: BTreeSet<u32> = self
            .ids_seen(kind, date)?
            .iter()
            .filter(|id| id.kind() == kind && id.date() == date)
            .map(|id| id.seq())
            .collect();
        let full = || Error::Usage(format!("no free {} id left on {date}", kind.prefix()));
        if self.repo.has_remotes() {
            for _ in 0..64 {
                let seq = random_seq();
                if !taken.contains(&seq) {
                    return RecordId::new(kind, date, seq).map_err(|_| full());
                }
            }
            if let Some(seq) = (1..=MAX_SEQ).find(|s| !taken.contains(s)) {
                return RecordId::new(kind, date, seq).map_err(|_| full());
            }
            return Err(full());
        }
        let max = taken.iter().next_back().copied().unwrap_or(0);
        RecordId::new(kind, date, max + 1).map_err(|_| full())
    }

    /// Every id this repository can see for the month of `date`.
    fn ids_seen(&self, kind: IdKind, date: NaiveDate) -> Result<BTreeSet<RecordId>> {
        let month = date.format("%Y-%m").to_string();
        let rel = month_path(&month);
        let mut seen: BTreeSet<RecordId> = BTreeSet::new();
        if let Some(f) = self.read_month(&month)? {
            seen.extend(f.records.iter().map(|(_, r)| *r.id()));
        }
        for root in self.repo.other_worktree_roots()? {
            // Another worktree's file may be mid-merge or broken: take the ids its text shows.
            if let Ok(text) = fs::read_to_string(root.join(&rel)) {
                seen.extend(ids_in_text(&text));
            }
        }
        if kind == IdKind::Operation {
            for t in super::tags::list_ops_tag_names(self.repo)? {
                if let Ok(id) = RecordId::from_tag_name(&t) {
                    seen.insert(id);
                }
            }
        }
        let mut commits = self.repo.remote_tracking_commits()?;
        commits.extend(self.repo.ref_commits_under("refs/heads/")?);
        commits.sort();
        commits.dedup();
        for commit in commits {
            if let Some(bytes) = self.repo.blob_at(commit, &rel)? {
                // A file we cannot parse still must not make us reuse its ids: take the ids we
                // can see in its text.
                let text = String::from_utf8_lossy(&bytes);
                seen.extend(ids_in_text(&text));
            }
        }
        Ok(seen)
    }

    /// Appends `record` at the end of its month file.
    pub fn append(&self, record: &Record) -> Result<String> {
        let month = record.id().month();
        let rel = month_path(&month);
        let existing = self.read_month(&month)?;
        if let Some(f) = &existing
            && f.records.iter().any(|(_, r)| r.id() == record.id())
        {
            return Err(Error::Usage(format!("{} is already in {rel}", record.id())));
        }
        let mut text = existing.map(|f| f.text).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&yaml::render_record(record));
        // Never write what we could not read back.
        LedgerFile::parse(&rel, text.clone())?;
        self.write(&rel, &text)?;
        Ok(rel)
    }

    /// Replaces the document of record `id` with `f` applied to it; the rest of the file keeps
    /// its bytes. The payload must not change: only signoffs may be added.
    pub fn update(
        &self,
        id: &RecordId,
        f: impl FnOnce(&mut Record) -> Result<()>,
    ) -> Result<Record> {
        let month = id.month();
        let rel = month_path(&month);
        let file = self
            .read_month(&month)?
            .ok_or_else(|| Error::Usage(format!("no record {id}: {rel} does not exist")))?;
        let (span, old) = file
            .records
            .iter()
            .find(|(_, r)| r.id() == id)
            .ok_or_else(|| Error::Usage(format!("no record {id} in {rel}")))?;
        let mut new = old.clone();
        f(&mut new)?;
        if new.payload_sha256() != old.payload_sha256() {
            return Err(Error::Usage(format!(
                "refusing to change the payload of {id}: records are immutable"
            )));
        }
        let mut text = String::with_capacity(file.text.len() + 1024);
        text.push_str(&file.text[..span.bytes.start]);
        text.push_str(&yaml::render_record(&new));
        text.push_str(&file.text[span.bytes.end..]);
        LedgerFile::parse(&rel, text.clone())?;
        self.write(&rel, &text)?;
        Ok(new)
    }
}

impl LedgerWriter<'_> {
    /// The work tree this writer writes to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The months that have a `YYYY-MM.yaml` file in the ledger directory, oldest first.
    pub fn months(&self) -> Result<Vec<String>> {
        let dir = self.root.join(LEDGER_DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut months = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(m) = month_of(&name) {
                months.push(m);
            }
        }
        months.sort();
        Ok(months)
    }

    /// The text of `month`'s file as it is, whether it parses or not (None: no such file).
    pub fn month_text(&self, month: &str) -> Result<Option<String>> {
        let path = self.root.join(month_path(month));
        match fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Replaces `month`'s file with `text`, which must read back as a ledger file.
    pub fn put_month(&self, month: &str, text: &str) -> Result<String> {
        let rel = month_path(month);
        LedgerFile::parse(&rel, text.to_string())?;
        self.write(&rel, text)?;
        Ok(rel)
    }

    /// Replaces record `old` with `new`, in place (a renumbering: only for records that were
    /// never on a remote, which the caller checks). The rest of the file keeps its bytes.
    pub fn replace(&self, old: &RecordId, new: &Record) -> Result<String> {
        let rel = month_path(&old.month());
        if new.id().month() != old.month() {
            return Err(Error::Usage(format!(
                "{} and {old} belong in different month files",
                new.id()
            )));
        }
        let file = self
            .read_month(&old.month())?
            .ok_or_else(|| Error::Usage(format!("no record {old}: {rel} does not exist")))?;
        if file.records.iter().any(|(_, r)| r.id() == new.id()) {
            return Err(Error::Usage(format!("{} is already in {rel}", new.id())));
        }
        let (span, _) = file
            .records
            .iter()
            .find(|(_, r)| r.id() == old)
            .ok_or_else(|| Error::Usage(format!("no record {old} in {rel}")))?;
        let mut text = String::with_capacity(file.text.len() + 1024);
        text.push_str(&file.text[..span.bytes.start]);
        text.push_str(&yaml::render_record(new));
        text.push_str(&file.text[span.bytes.end..]);
        LedgerFile::parse(&rel, text.clone())?;
        self.write(&rel, &text)?;
        Ok(rel)
    }
}

/// The ledger files of `month` on every remote-tracking branch that has one and where it
/// parses, with the branch's commit.
pub fn remote_month_files(repo: &Repo, month: &str) -> Result<Vec<LedgerFile>> {
    let rel = month_path(month);
    let mut out = Vec::new();
    for commit in repo.remote_tracking_commits()? {
        if let Some(bytes) = repo.blob_at(commit, &rel)?
            && let Ok(text) = String::from_utf8(bytes)
            && let Ok(f) = LedgerFile::parse(&rel, text)
        {
            out.push(f);
        }
    }
    Ok(out)
}

/// Record ids that appear as values in a ledger text, parsed or not.
fn ids_in_text(text: &str) -> Vec<RecordId> {
    text.lines()
        .filter_map(|l| {
            let (_, v) = l.split_once(':')?;
            v.trim().trim_matches(['"', '\'']).parse().ok()
        })
        .collect()
}

/// A sequence number drawn from the operating system's random source (1..=MAX_SEQ), or from the
/// clock and process id when that cannot be read.
fn random_seq() -> u32 {
    use std::io::Read;
    let mut buf = [0u8; 8];
    let n = fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map(|_| u64::from_le_bytes(buf))
        .unwrap_or_else(|_| {
            use sha2::Digest;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let h = sha2::Sha256::digest(format!("{nanos}/{}", std::process::id()));
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[..8]);
            u64::from_le_bytes(b)
        });
    (n % u64::from(MAX_SEQ)) as u32 + 1
}
