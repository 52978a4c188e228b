//! Commit message files of the commit hooks: reading them, and adding a trailer in process (no
//! `git interpret-trailers` child: it cost a process per commit). The trailer block is found by
//! the same rule as `model::trailer::ops_ids`, which judges the message afterwards, and git reads
//! what is written as a trailer too (docs/HOOKS.md, "Trailers").

use std::path::Path;

use super::{Error, Result, fsutil};

/// The line `git commit --verbose` puts above the diff: everything from it on is cut by git.
const SCISSORS: &str = "# ------------------------ >8 ------------------------";

/// The text of a commit message file.
pub fn read_message(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).map_err(|e| Error::io(file, e))
}

/// The part of a message file git keeps: everything above the scissors line of
/// `git commit --verbose` (the diff below it is not part of the message).
pub fn above_scissors(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == SCISSORS {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// `Key: value` with a key of letters, digits and `-`, or a continuation line.
fn is_trailer_line(line: &str) -> bool {
    line.split_once(':').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) || line.starts_with(' ')
        || line.starts_with('\t')
}

/// The message with `key: value` added to its trailer block (or as a new last paragraph), unless
/// a trailer with that key and value is already there. `None` when nothing changes: the trailer
/// is there, or the message is empty and `if_empty` is false (git then aborts the commit, as it
/// should). An empty message (the editor's template, in prepare-commit-msg) gets a blank subject
/// line and the trailer, as `git interpret-trailers` does. Comment lines and blank lines at the
/// end, and the `--verbose` diff, stay after the trailer.
pub fn with_trailer(text: &str, key: &str, value: &str, if_empty: bool) -> Option<String> {
    let kept = above_scissors(text);
    let tail = &text[kept.len()..];
    let lines: Vec<&str> = kept.split_inclusive('\n').collect();
    // The body ends at the last line that is neither a comment nor blank.
    let Some(end) = lines
        .iter()
        .rposition(|l| !is_comment(l) && !is_blank(l))
        .map(|i| i + 1)
    else {
        if !if_empty {
            return None;
        }
        let rest = kept.trim_start_matches(['\n', '\r']);
        return Some(format!("\n{key}: {value}\n{rest}{tail}"));
    };
    let body = &lines[..end];
    let start = body
        .iter()
        .rposition(|l| !is_comment(l) && is_blank(l))
        .map(|i| i + 1)
        .unwrap_or(0);
    let block: Vec<&str> = body[start..]
        .iter()
        .filter(|l| !is_comment(l))
        .map(|l| l.trim_end())
        .collect();
    let is_block = start > 0 && block.iter().all(|l| is_trailer_line(l));
    if is_block
        && block.iter().any(|l| {
            l.split_once(':')
                .is_some_and(|(k, v)| k.eq_ignore_ascii_case(key) && v.trim() == value)
        })
    {
        return None;
    }
    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 4);
    for l in body {
        out.push_str(l);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if !is_block {
        out.push('\n');
    }
    out.push_str(&format!("{key}: {value}\n"));
    for l in &lines[end..] {
        out.push_str(l);
    }
    out.push_str(tail);
    Some(out)
}

/// Adds `key: value` to the trailers of the message in `file`, in place (atomically), unless the
/// same trailer is already there (or the message is empty and `if_empty` is false). True when the file was written.
pub fn add_trailer(file: &Path, key: &str, value: &str, if_empty: bool) -> Result<bool> {
    let text = read_message(file)?;
    match with_trailer(&text, key, value, if_empty) {
        Some(new) => {
            fsutil::write_atomic(file, new.as_bytes(), None)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::trailer::ops_ids;

    const ID: &str = "OPS-2026-01-27-011";

    fn add(text: &str) -> String {
        with_trailer(text, "Ops-Id", ID, false).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn adds_a_trailer_once() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("COMMIT_EDITMSG");
        std::fs::write(&file, "Scale web\n\nMore words.\n").unwrap();
        assert!(add_trailer(&file, "Ops-Id", ID, false).unwrap());
        assert!(!add_trailer(&file, "Ops-Id", ID, false).unwrap());
        assert_eq!(
            read_message(&file).unwrap(),
            "Scale web\n\nMore words.\n\nOps-Id: OPS-2026-01-27-011\n"
        );
    }

    #[test]
    fn joins_an_existing_trailer_block_and_keeps_comments_and_the_diff_after_it() {
        assert_eq!(add("Subject"), "Subject\n\nOps-Id: OPS-2026-01-27-011\n");
        assert_eq!(
            add("Subject\n\nSigned-off-by: A <a@x>\n"),
            "Subject\n\nSigned-off-by: A <a@x>\nOps-Id: OPS-2026-01-27-011\n"
        );
        let verbose = "Subject\n\n# Please enter the commit message\n#\n\
                       # ------------------------ >8 ------------------------\n\
                       diff --git a/x b/x\n+Key: value\n";
        assert_eq!(
            add(verbose),
            "Subject\n\nOps-Id: OPS-2026-01-27-011\n\n# Please enter the commit message\n#\n\
             # ------------------------ >8 ------------------------\n\
             diff --git a/x b/x\n+Key: value\n"
        );
        // A different value is another trailer; the same one (any case of the key) is not.
        assert_eq!(
            add("S\n\nOps-Id: OPS-2026-01-27-012\n"),
            "S\n\nOps-Id: OPS-2026-01-27-012\nOps-Id: OPS-2026-01-27-011\n"
        );
        assert!(with_trailer("S\n\nops-id:  OPS-2026-01-27-011\n", "Ops-Id", ID, false).is_none());
        // A message of comments only stays empty in commit-msg, so git aborts the commit; the
        // editor's template (prepare-commit-msg) gets the trailer below an empty subject line.
        assert!(with_trailer("\n# Please enter\n", "Ops-Id", ID, false).is_none());
        assert!(with_trailer("", "Ops-Id", ID, false).is_none());
        assert_eq!(
            with_trailer("\n# Please enter\n#\n", "Ops-Id", ID, true).unwrap(),
            "\nOps-Id: OPS-2026-01-27-011\n# Please enter\n#\n"
        );
    }

    #[test]
    fn what_is_added_is_what_the_check_reads() {
        for m in [
            "Subject",
            "Subject\n",
            "Subject\n\nBody text: with a colon\nand more\n",
            "Subject\n\nSigned-off-by: A <a@x>\n  continued\n",
            "Subject\n\nbody\n\n\n# comment\n\n",
            "Subject\r\n\r\nbody\r\n",
            "Ops-Id: OPS-2026-01-27-012",
        ] {
            let ids = ops_ids(above_scissors(&add(m))).unwrap();
            assert!(ids.contains(&ID.parse().unwrap()), "{m:?} -> {:?}", add(m));
        }
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = read_message(&tmp.path().join("nope")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }
}
