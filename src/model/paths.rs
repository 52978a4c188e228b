//! How a path is compared with the policy's rules: folded, so that every spelling a checkout can
//! turn into the same file is judged by the same rules.
//!
//! Folding takes a path to NFC, removes default-ignorable code points (zero-width spaces and
//! joiners, the word joiner, the byte order mark, the soft hyphen, variation selectors, ...) and
//! lower-cases it, then takes it to NFC again. A path is governed by a rule when the path as
//! written, or its folded form, matches the rule's pattern, or the folded pattern: the strictest
//! rule of any variant applies. A case-insensitive or normalising checkout (macOS, Windows) writes
//! `Deploy/web.yaml` into `deploy/`, so `deploy/**` must govern it.
//!
//! An operation's `allowed_paths` are *not* folded: an operation covers only paths it names as
//! they are written, byte for byte. Folding widens what is governed, never what is allowed.

use unicode_normalization::UnicodeNormalization;

/// Whether `c` is a default-ignorable code point (Unicode's `Default_Ignorable_Code_Point`):
/// invisible when rendered, so two names differing only by one look the same.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The folded form of one name or path (see the module docs). `/` is kept as it is.
pub fn fold(s: &str) -> String {
    let visible: String = s.nfc().filter(|c| !is_default_ignorable(*c)).collect();
    let lower: String = visible.chars().flat_map(char::to_lowercase).collect();
    lower.nfc().collect()
}

/// Whether two paths are the same file on a case-insensitive, normalising checkout.
pub fn same_folded(a: &str, b: &str) -> bool {
    a == b || fold(a) == fold(b)
}

/// The directories above and at the literal part of a pattern (its leading components without
/// `*`, `?` or `[`): for `infra/prod/**`, `infra` and `infra/prod`; for `deploy/web.yaml`,
/// `deploy` (the file itself is governed, not a prefix). A symlink or submodule at one of them
/// would carry governed paths somewhere else. Empty for patterns that match at any depth.
pub fn literal_prefixes(pattern: &str) -> Vec<String> {
    let body = pattern
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/');
    let bare = !pattern.trim_end_matches('/').contains('/');
    if bare {
        return Vec::new();
    }
    let parts: Vec<&str> = body.split('/').collect();
    let literal = parts
        .iter()
        .take_while(|p| !p.contains(['*', '?', '[']))
        .count();
    // The last literal component, when it is the whole pattern, is the governed path itself.
    let upto = if literal == parts.len() {
        literal.saturating_sub(1)
    } else {
        literal
    };
    (1..=upto).map(|n| parts[..n].join("/")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_joins_every_spelling_of_a_name() {
        // (a, b, equal under folding)
        let rows = [
            ("deploy/web.yaml", "Deploy/web.yaml", true),
            ("deploy/web.yaml", "DEPLOY/WEB.YAML", true),
            ("ops/PRODUCTION_LOCK.md", "ops/production_lock.md", true),
            ("infra/prod", "in\u{200D}fra/prod", true),
            ("infra/prod", "infra\u{200B}/prod", true),
            ("infra/prod", "\u{FEFF}infra/pr\u{00AD}od", true),
            ("infra/prod", "infra/pro\u{2060}d", true),
            // NFC: e + combining acute is é.
            ("caf\u{e9}/x", "cafe\u{301}/x", true),
            ("CAF\u{c9}/x", "cafe\u{301}/x", true),
            ("deploy/web.yaml", "deploy/web.yml", false),
            ("deploy/a", "deploy/b", false),
        ];
        for (a, b, want) in rows {
            assert_eq!(same_folded(a, b), want, "{a:?} vs {b:?}");
        }
        assert_eq!(fold("Deploy/Web.YAML"), "deploy/web.yaml");
    }

    #[test]
    fn literal_prefixes_of_patterns() {
        let rows: [(&str, &[&str]); 7] = [
            ("infra/prod/**", &["infra", "infra/prod"]),
            ("deploy/", &[]),
            ("deploy/web.yaml", &["deploy"]),
            ("ops/PRODUCTION_LOCK.md", &["ops"]),
            ("docs/*/x.md", &["docs"]),
            ("*.md", &[]),
            ("/a/b/", &["a"]),
        ];
        for (p, want) in rows {
            assert_eq!(literal_prefixes(p), want, "{p}");
        }
    }
}
