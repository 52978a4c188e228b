//! `Ops-Id:` trailers in commit messages (git's trailer block: the last paragraph of
//! `Key: value` lines).

use super::{IdKind, RecordId};

pub const OPS_ID: &str = "Ops-Id";

/// The operation ids named by `Ops-Id:` trailers. A trailer whose value is not an operation id is
/// an error, so a typo never silently links nothing.
pub fn ops_ids(message: &str) -> Result<Vec<RecordId>, String> {
    let lines: Vec<&str> = message
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.trim_end())
        .collect();
    // The last paragraph: lines after the last blank line (ignoring trailing blanks).
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map(|i| i + 1)
        .unwrap_or(0);
    let start = lines[..end]
        .iter()
        .rposition(|l| l.is_empty())
        .map(|i| i + 1)
        .unwrap_or(0);
    let block = &lines[start..end];
    // A subject line alone is not a trailer block.
    if start == 0 {
        return Ok(Vec::new());
    }
    let is_trailer = |l: &str| {
        l.split_once(':').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }) || l.starts_with(' ')
            || l.starts_with('\t')
    };
    if !block.iter().all(|l| is_trailer(l)) {
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    for l in block {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        if !k.eq_ignore_ascii_case(OPS_ID) {
            continue;
        }
        let v = v.trim();
        let id: RecordId = v
            .parse()
            .map_err(|e| format!("malformed trailer `{OPS_ID}: {v}`: {e}"))?;
        if id.kind() != IdKind::Operation {
            return Err(format!(
                "malformed trailer `{OPS_ID}: {v}`: not an operation id (OPS-...)"
            ));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_trailers_in_the_last_paragraph_only() {
        let m = "Scale web\n\nOps-Id: OPS-2026-01-27-011 is mentioned here\n\nSigned-off-by: A <a@x>\nOps-Id: OPS-2026-01-27-012\n";
        assert_eq!(
            ops_ids(m).unwrap(),
            vec!["OPS-2026-01-27-012".parse().unwrap()]
        );
        assert!(
            ops_ids("Ops-Id: OPS-2026-01-27-012\n").unwrap().is_empty(),
            "a subject is not a trailer"
        );
        assert!(ops_ids("x\n\nbody text\n").unwrap().is_empty());
        assert!(
            ops_ids("x\n\nops-id: OPS-2026-01-27-001\n# comment\n")
                .unwrap()
                .len()
                == 1
        );
    }

    #[test]
    fn malformed_trailers_are_errors() {
        assert!(ops_ids("x\n\nOps-Id: OPS-2026-1-27-1\n").is_err());
        assert!(ops_ids("x\n\nOps-Id: GRANT-2026-01-27-001\n").is_err());
    }
}
