//! Text, JSON and YAML views of records and reports. Every string that came from a ledger is
//! untrusted: control characters are escaped before it reaches a terminal.

pub mod changelog;
pub mod hook;
pub mod outcome;
pub mod prompt;
pub mod report;
pub mod runbook;
pub mod seed;
pub mod status;
pub mod verify;

use std::borrow::Cow;

/// Escapes control characters (including newlines) for one-line output.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes control characters except newlines and tabs, for multi-line output.
pub fn block(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad =
        |c: char| c.is_control() && !(keep_newlines && (c == '\n' || c == '\t')) || is_bidi(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Bidirectional overrides can make text read differently from what it is ("Trojan Source").
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Pretty JSON for a terminal or a pipe, followed by a newline. JSON already escapes C0 controls;
/// C1 controls (U+0080..U+009F, e.g. the 8-bit CSI) and bidirectional overrides are escaped as
/// `\uXXXX` too, which decodes to the same strings.
pub fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{80}'..='\u{9f}').contains(&c) || is_bidi(c) {
            safe.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            safe.push(c);
        }
    }
    safe.push('\n');
    out.write_all(safe.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(line("ok"), "ok");
        assert_eq!(line("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(line("a\nb"), "a\\nb");
        assert_eq!(block("a\nb\r"), "a\nb\\r");
        assert_eq!(line("x\u{202E}y"), "x\\u{202e}y");
    }
}
