//! Gitignore-style globs over repository-relative paths (`/`-separated, no leading `/`).
//!
//! - `*` matches within one path component, `?` one character, `[abc]`/`[a-z]`/`[!x]` a class;
//! - `**` as a whole component matches any number of components (`a/**/b`, `**/x`, `ops/**`);
//! - a pattern with no `/` (other than a trailing one) matches the last component at any depth;
//! - a trailing `/` (`deploy/`) matches the directory and everything under it;
//! - a pattern that matches a directory also matches everything below it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Error;
use super::paths::fold;

#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Glob {
    text: String,
    /// Components of the pattern, anchored at the repository root.
    parts: Vec<String>,
    /// The same components folded ([`super::paths::fold`]).
    folded: Vec<String>,
}

impl Glob {
    pub fn new(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid("path pattern", s, why.to_string());
        if s.is_empty() || s.trim() != s {
            return Err(bad("must be non-empty, without surrounding white space"));
        }
        if s.starts_with('!') {
            return Err(bad("negated patterns are not supported"));
        }
        if s.contains('\\') || s.contains('\0') {
            return Err(bad("backslashes and NUL are not allowed"));
        }
        let trimmed = s.trim_start_matches("./").trim_start_matches('/');
        let body = trimmed.trim_end_matches('/');
        if body.is_empty() {
            return Err(bad("matches nothing"));
        }
        let mut parts: Vec<String> = body.split('/').map(str::to_string).collect();
        if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
            return Err(bad("empty, `.` or `..` components are not allowed"));
        }
        for p in &parts {
            if p.contains("**") && p != "**" {
                return Err(bad("`**` must be a whole path component"));
            }
            check_classes(p).map_err(|_| bad("unclosed `[` class"))?;
        }
        // No slash inside: match the name at any depth, as .gitignore does.
        if parts.len() == 1 && !s.trim_end_matches('/').contains('/') && parts[0] != "**" {
            parts.insert(0, "**".into());
        }
        let folded = parts.iter().map(|p| fold(p)).collect();
        Ok(Glob {
            text: s.to_string(),
            parts,
            folded,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` (or a directory above it) matches.
    pub fn matches(&self, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        (1..=comps.len()).any(|n| match_parts(&self.parts, &comps[..n]))
    }

    /// Whether `path`, as written or folded, matches the pattern as written or folded (see
    /// [`super::paths`]): how the policy decides what is governed, so that no spelling of a
    /// governed path escapes its rule. An operation's `allowed_paths` use [`Glob::matches`].
    pub fn matches_folded(&self, path: &str) -> bool {
        if self.matches(path) {
            return true;
        }
        let folded: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(fold)
            .collect();
        let comps: Vec<&str> = folded.iter().map(String::as_str).collect();
        (1..=comps.len()).any(|n| {
            match_parts(&self.folded, &comps[..n]) || match_parts(&self.parts, &comps[..n])
        })
    }
}

fn check_classes(p: &str) -> Result<(), ()> {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' {
            let end = b[i + 1..].iter().position(|&c| c == b']').ok_or(())?;
            i += end + 2;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn match_parts(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_parts(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((c, more)) => {
                match_component(first.as_bytes(), c.as_bytes()) && match_parts(rest, more)
            }
            None => false,
        },
    }
}

fn match_component(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| match_component(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && match_component(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p[1..].iter().position(|&c| c == b']') else {
                return false;
            };
            let class = &p[1..1 + end];
            let Some(&c) = s.first() else { return false };
            let (negate, class) = match class.first() {
                Some(b'!') | Some(b'^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && match_component(&p[end + 2..], &s[1..])
        }
        Some(&lit) => s.first() == Some(&lit) && match_component(&p[1..], &s[1..]),
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}
impl From<Glob> for String {
    fn from(g: Glob) -> String {
        g.text
    }
}
impl TryFrom<String> for Glob {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Glob::new(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        Glob::new(p).unwrap().matches(path)
    }

    #[test]
    fn gitignore_semantics() {
        assert!(m("ops/**", "ops/policy.yaml"));
        assert!(m("ops/**", "ops/ledger/2026-01.yaml"));
        assert!(!m("ops/**", "opsx/a"));
        assert!(m("deploy/", "deploy/k8s/app.yaml"));
        assert!(m("deploy", "deploy/k8s/app.yaml"));
        assert!(
            m("deploy", "x/deploy/app.yaml"),
            "a bare name matches at any depth"
        );
        assert!(!m("/deploy", "x/deploy/app.yaml"));
        assert!(m("*.md", "docs/governance/a.md"));
        assert!(m("docs/*.md", "docs/a.md"));
        assert!(!m("docs/*.md", "docs/x/a.md"));
        assert!(m("docs/**/a.md", "docs/a.md"));
        assert!(m("docs/**/a.md", "docs/x/y/a.md"));
        assert!(m("ops/PRODUCTION_LOCK.md", "ops/PRODUCTION_LOCK.md"));
        assert!(!m("ops/PRODUCTION_LOCK.md", "ops/PRODUCTION_LOCK.md.bak"));
        assert!(m("f[0-9].txt", "f7.txt"));
        assert!(!m("f[!0-9].txt", "f7.txt"));
        assert!(m("a?c", "abc"));
    }

    #[test]
    fn folded_matching_catches_every_spelling() {
        let f = |p: &str, path: &str| Glob::new(p).unwrap().matches_folded(path);
        // (pattern, path, matches as written, matches folded)
        let rows = [
            ("deploy/**", "deploy/web.yaml", true, true),
            ("deploy/**", "Deploy/web.yaml", false, true),
            ("deploy/**", "DEPLOY/new.yaml", false, true),
            (
                "ops/PRODUCTION_LOCK.md",
                "ops/production_lock.md",
                false,
                true,
            ),
            ("infra/prod/**", "infra/pro\u{200D}d/db.yaml", false, true),
            ("Infra/**", "infra/x", false, true),
            ("deploy/**", "deploy2/web.yaml", false, false),
        ];
        for (p, path, plain, folded) in rows {
            assert_eq!(m(p, path), plain, "{p} {path}");
            assert_eq!(f(p, path), folded, "{p} {path} folded");
        }
    }

    #[test]
    fn refuses_bad_patterns() {
        for bad in ["", " a", "!a", "a/**b", "a/../b", "a[", "/", "a\\b"] {
            assert!(Glob::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn pattern() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                prop::collection::vec(
                    prop::sample::select(vec![
                        "ops", "deploy", "**", "*", "*.md", "a?c", "[ab]", "[!x]", "[a-", ".",
                        "..", "", " ", "é", "!x", "\\",
                    ]),
                    1..5,
                )
                .prop_map(|p| p.join("/")),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// An accepted pattern keeps its text and reads back as itself; matching never panics.
            #[test]
            fn globs_read_back_as_written(p in pattern(), path in "[a-z*?./é]{0,20}") {
                if let Ok(g) = Glob::new(&p) {
                    prop_assert_eq!(g.as_str(), p.as_str());
                    prop_assert_eq!(Glob::new(g.as_str()).expect("itself"), g.clone());
                    let _ = g.matches(&path);
                }
            }
        }
    }
}
