//! What the hooks say when they reject a change (or warn): the findings, and what to do next.

use std::io::{self, Write};

use super::{block, line};
use crate::model::RecordId;
use crate::verify::commit::Problem;
use crate::verify::coverage::Judgement;
use crate::verify::records::State;
use crate::verify::{Report, Severity};

/// Every warning and error of `report`, one per line, with its diff indented below.
pub fn findings(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    for f in &report.findings {
        if f.severity == Severity::Info {
            continue;
        }
        let place = f
            .file
            .as_deref()
            .map(|p| format!("{}: ", line(p)))
            .unwrap_or_default();
        let commit = f
            .commit
            .as_deref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let sev = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        writeln!(
            out,
            "  {commit}{place}{sev}[{}]: {}",
            f.code,
            line(&f.message)
        )?;
        if let Some(d) = &f.diff {
            for l in block(d).lines() {
                writeln!(out, "      {l}")?;
            }
        }
    }
    Ok(())
}

/// The findings of an accepted change, when there are warnings among them; nothing otherwise.
pub fn warnings(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    if report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Warning)
    {
        findings(out, report)?;
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-*".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// "To fix it": the commands that declare, approve and link an operation covering the governed
/// paths no operation covers. Nothing when every governed path is covered.
pub fn fix(out: &mut dyn Write, j: &Judgement, active: Option<&RecordId>) -> io::Result<()> {
    let uncovered: Vec<_> = j
        .governed
        .iter()
        .filter(|v| v.covered_by.is_none())
        .collect();
    if uncovered.is_empty() {
        return Ok(());
    }
    let risk = uncovered
        .iter()
        .filter_map(|v| v.min_risk)
        .max()
        .map(|r| r.to_string())
        .unwrap_or("LOW_RISK_CONFIG".into());
    let paths: Vec<String> = uncovered.iter().map(|v| shell_quote(&v.path)).collect();
    writeln!(
        out,
        "To fix it, declare an operation that covers these paths, get it approved, and link it:"
    )?;
    writeln!(
        out,
        "  git ops new --operation '<name>' --objective '<why>' --risk-class {risk} --blast-radius '<what can break>' \\\n      --rollback-strategy '<how to revert>' --allowed-paths {} --allowed-services",
        paths.join(" ")
    )?;
    writeln!(
        out,
        "  git ops sign <id>     # by an approver, when the risk class needs approvals"
    )?;
    writeln!(
        out,
        "  git ops use <id>      # your next commits carry `Ops-Id: <id>`"
    )?;
    match active {
        Some(a) => writeln!(
            out,
            "(the active operation is {a}; the reasons above say why it does not cover these paths)"
        ),
        None => writeln!(
            out,
            "If an approved operation already covers them: git ops use <id>"
        ),
    }
}

/// pre-commit's rejection of the staged change: the count, the findings and how to fix it.
pub fn commit_rejected(
    out: &mut dyn Write,
    j: &Judgement,
    active: Option<&RecordId>,
) -> io::Result<()> {
    writeln!(
        out,
        "git-ops: commit rejected ({}); your staged change is kept as it is:",
        j.report.errors()
    )?;
    findings(out, &j.report)?;
    fix(out, j, active)
}

/// commit-msg's rejection of a malformed `Ops-Id:` trailer.
pub fn malformed_trailer(out: &mut dyn Write, error: &str) -> io::Result<()> {
    writeln!(out, "git-ops: commit rejected: {}", line(error))
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Approved => "approved",
        State::Pending => "pending",
        State::Invalid => "invalid",
    }
}

/// One problem of a commit message's links, as one line.
pub fn problem(p: &Problem) -> String {
    match p {
        Problem::NoSuchRecord(id) => format!("Ops-Id {id}: no such record in the staged ledger"),
        Problem::NotApproved {
            id,
            state,
            approvals,
            required,
        } => format!(
            "Ops-Id {id}: the operation is {} ({approvals} of {required} approvals); run `git ops sign {id}` first",
            state_word(*state)
        ),
    }
}

/// commit-msg's rejection of links to operations that are missing or not approved.
pub fn message_rejected(out: &mut dyn Write, problems: &[Problem]) -> io::Result<()> {
    writeln!(
        out,
        "git-ops: commit rejected (your message is kept in .git/COMMIT_EDITMSG):"
    )?;
    for p in problems {
        writeln!(out, "  {}", line(&problem(p)))?;
    }
    Ok(())
}

fn problems(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

/// The rejection of a push (`what` is "push"): the count, the findings and what to do.
pub fn push_rejected(out: &mut dyn Write, what: &str, report: &Report) -> io::Result<()> {
    writeln!(
        out,
        "git-ops: {what} rejected ({}):",
        problems(report.errors())
    )?;
    findings(out, report)?;
    writeln!(
        out,
        "Fix the commits (declare and approve an operation, add `Ops-Id:` trailers with `git ops use <id>`), then push again."
    )
}

/// The message of a hook that could not judge a change and so rejects it (fail closed), and the
/// hint of what to do next. `error` is the cause, with its chain.
pub fn hook_failed(hook: &str, error: &str) -> (String, String) {
    (
        format!("the {hook} hook could not check this change, so it is rejected: {error}"),
        format!(
            "fix the cause above and try again; `git ops verify` checks the ledger, and `git ops hook {hook}` runs this hook by hand"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Finding;
    use crate::verify::coverage::PathVerdict;

    fn text(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn findings_skip_info_and_escape_controls() {
        let mut report = Report::default();
        report.push(Finding::new(Severity::Info, "note", "quiet"));
        let mut f =
            Finding::error("bad-signature", "x\x1b[31m").at("ops/ledger/2026-01.yaml", None);
        f.commit = Some("abc1234".into());
        report.push(f.diff("-a\n+b\n".into()));
        assert_eq!(
            text(|o| push_rejected(o, "push", &report)),
            "git-ops: push rejected (1 problem):\n  [abc1234] ops/ledger/2026-01.yaml: error[bad-signature]: x\\u{1b}[31m\n      -a\n      +b\nFix the commits (declare and approve an operation, add `Ops-Id:` trailers with `git ops use <id>`), then push again.\n"
        );
        assert_eq!(text(|o| warnings(o, &report)), "", "no warnings: silent");
    }

    #[test]
    fn fix_quotes_paths_and_names_the_active_operation() {
        let j = Judgement {
            governed: vec![PathVerdict {
                path: "deploy/it's.yaml".into(),
                rules: vec!["deploy/**".into()],
                min_risk: None,
                covered_by: None,
            }],
            ..Default::default()
        };
        let id: RecordId = "OPS-2026-01-27-011".parse().unwrap();
        let t = text(|o| fix(o, &j, Some(&id)));
        assert!(t.contains("--risk-class LOW_RISK_CONFIG"), "{t}");
        assert!(t.contains("--allowed-paths 'deploy/it'\\''s.yaml'"), "{t}");
        assert!(t.ends_with("(the active operation is OPS-2026-01-27-011; the reasons above say why it does not cover these paths)\n"), "{t}");
    }

    #[test]
    fn message_problems_read_as_before() {
        let id: RecordId = "OPS-2026-01-27-011".parse().unwrap();
        let t = text(|o| {
            message_rejected(
                o,
                &[
                    Problem::NoSuchRecord(id),
                    Problem::NotApproved {
                        id,
                        state: State::Pending,
                        approvals: 0,
                        required: 1,
                    },
                ],
            )
        });
        assert_eq!(
            t,
            "git-ops: commit rejected (your message is kept in .git/COMMIT_EDITMSG):\n  Ops-Id OPS-2026-01-27-011: no such record in the staged ledger\n  Ops-Id OPS-2026-01-27-011: the operation is pending (0 of 1 approvals); run `git ops sign OPS-2026-01-27-011` first\n"
        );
    }
}
