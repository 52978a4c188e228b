//! Ledger files and policies parsed once per process and shared: a range or a push judges many
//! commits that mostly see the same versions of the same month files (issue 12: the month file
//! was parsed about 140 times for 21 distinct versions over 1,000 commits, and each cache hit
//! cloned a whole parsed file). A parsed file is shared through `Arc`, never cloned.
//!
//! The key is the path and a hash of the text, and a hit is confirmed by comparing the whole text
//! (and path), so a hash collision can only cost a parse, never give another file's records. The
//! cache holds at most [`MAX_TEXT_BYTES`] of ledger text; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::model::policy::Policy;
use crate::model::yaml::{self, YamlError};
use crate::store::{self, ledger::LedgerFile};

/// The ledger text kept parsed, in bytes (a parsed file takes a few times its text).
pub const MAX_TEXT_BYTES: usize = 32 << 20;
/// Distinct policy texts kept parsed.
const MAX_POLICIES: usize = 64;

type Key = (String, u64);

#[derive(Default)]
struct Cache {
    files: HashMap<Key, Arc<LedgerFile>>,
    order: VecDeque<Key>,
    bytes: usize,
    policies: HashMap<u64, (String, Policy)>,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn with_cache<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    // A poisoned lock only means another thread panicked mid-update: start afresh.
    let mut guard = CACHE.lock().unwrap_or_else(|p| {
        let mut g = p.into_inner();
        *g = None;
        g
    });
    f(guard.get_or_insert_with(Cache::default))
}

/// The ledger file at `path` with `text`, parsed once per distinct text.
pub fn ledger_file(path: &str, text: String) -> store::Result<Arc<LedgerFile>> {
    let key = (path.to_string(), hash(&text));
    let hit = with_cache(|c| c.files.get(&key).cloned());
    if let Some(f) = hit.filter(|f| f.path == path && f.text == text) {
        return Ok(f);
    }
    let len = text.len();
    let file = Arc::new(LedgerFile::parse(path, text)?);
    if len <= MAX_TEXT_BYTES {
        with_cache(|c| {
            if let Some(old) = c.files.insert(key.clone(), file.clone()) {
                c.bytes -= old.text.len();
                c.order.retain(|k| k != &key);
            }
            c.order.push_back(key);
            c.bytes += len;
            while c.bytes > MAX_TEXT_BYTES {
                let Some(k) = c.order.pop_front() else { break };
                if let Some(f) = c.files.remove(&k) {
                    c.bytes -= f.text.len();
                }
            }
        });
    }
    Ok(file)
}

/// The policy of `text`, parsed once per distinct text.
pub fn policy(text: &str) -> Result<Policy, YamlError> {
    let h = hash(text);
    let hit = with_cache(|c| {
        c.policies
            .get(&h)
            .filter(|(t, _)| t == text)
            .map(|(_, p)| p.clone())
    });
    if let Some(p) = hit {
        return Ok(p);
    }
    let p = yaml::parse_policy(text)?;
    with_cache(|c| {
        if c.policies.len() >= MAX_POLICIES {
            c.policies.clear();
        }
        c.policies.insert(h, (text.to_string(), p.clone()));
    });
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPROVED: &str =
        include_str!("../../ledger/samples/valid/2026-01--operation-approved.yaml");
    const POLICY: &str = include_str!("../../ledger/samples/policy.yaml");

    #[test]
    fn the_same_text_is_parsed_once_and_shared() {
        let path = "ops/ledger/2026-01.yaml";
        let a = ledger_file(path, APPROVED.to_string()).unwrap();
        let b = ledger_file(path, APPROVED.to_string()).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "a second parse of the same text");
        // Another text, or the same text at another path, is its own entry.
        let edited = APPROVED.replace("Scale web", "Scale api");
        let c = ledger_file(path, edited.clone()).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.text, edited);
        let err = ledger_file("ops/ledger/2026-02.yaml", APPROVED.to_string()).unwrap_err();
        assert!(err.to_string().contains("belongs in"), "{err}");
        assert_eq!(policy(POLICY).unwrap(), policy(POLICY).unwrap());
        assert!(policy("version: [\n").is_err());
    }
}
