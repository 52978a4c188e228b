//! Integrity and approval checks. Everything here returns data (a [`Report`], a
//! [`records::RecordCheck`]); nothing prints.

pub mod candidate;
pub mod commit;
pub mod coverage;
pub mod decision;
pub mod grants;
pub mod ledger;
pub mod ledger_change;
pub mod parsed;
pub mod pin;
pub mod push;
pub mod pusher;
pub mod range;
pub mod records;
pub mod signature;
pub mod tags;

use serde::{Deserialize, Serialize};

use crate::model::RecordId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One thing verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable short code, e.g. `bad-signature`, for scripts and CI annotations.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordId>,
    /// The commit the finding is about (range and hook checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub message: String,
    /// A unified diff, when the finding is a mismatch between two texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A finding as read back from the verify cache (store::verify_cache).
#[derive(Deserialize)]
struct CachedFinding {
    severity: Severity,
    code: String,
    file: Option<String>,
    line: Option<u64>,
    record: Option<RecordId>,
    commit: Option<String>,
    message: String,
    diff: Option<String>,
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CachedFinding::deserialize(d).map(Finding::from)
    }
}

impl From<CachedFinding> for Finding {
    /// Codes are a short fixed vocabulary and a process reads one cached report, so the few
    /// distinct strings are leaked once each.
    fn from(c: CachedFinding) -> Self {
        use std::collections::BTreeSet;
        use std::sync::Mutex;
        static CODES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
        let code = match codes.get(c.code.as_str()) {
            Some(k) => *k,
            None => {
                let k: &'static str = Box::leak(c.code.into_boxed_str());
                codes.insert(k);
                k
            }
        };
        Finding {
            severity: c.severity,
            code,
            file: c.file,
            line: c.line,
            record: c.record,
            commit: c.commit,
            message: c.message,
            diff: c.diff,
        }
    }
}

impl Finding {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity,
            code,
            file: None,
            line: None,
            record: None,
            commit: None,
            message: message.into(),
            diff: None,
        }
    }
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }
    pub fn at(mut self, file: &str, line: Option<u64>) -> Self {
        self.file = Some(file.to_string());
        self.line = line;
        self
    }
    pub fn record(mut self, id: RecordId) -> Self {
        self.record = Some(id);
        self
    }
    pub fn diff(mut self, diff: String) -> Self {
        self.diff = Some(diff);
        self
    }
}

/// What `verify` found, with a summary of every record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub records: Vec<records::RecordSummary>,
    /// Tags checked.
    pub tags: usize,
    /// Commits checked, for range and history checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<usize>,
}

impl Report {
    pub fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
    pub fn ok(&self) -> bool {
        self.errors() == 0
    }
}
