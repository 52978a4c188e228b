//! `git ops status` as text and JSON.

use std::io::{self, Write};

use super::line;
use crate::engine::Status;

/// `4h05m`: hours and minutes left (never negative).
pub fn left(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
}

pub fn text(s: &Status, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "posture: {}", s.posture)?;
    if let Some(h) = &s.last_halt {
        writeln!(
            out,
            "last halt: {} at {}: {}",
            h.id,
            h.at,
            line(h.reason.as_deref().unwrap_or("(no reason given)"))
        )?;
    }
    writeln!(out, "active grants: {}", s.active_grants.len())?;
    for g in &s.active_grants {
        writeln!(
            out,
            "  {} to {} ({} left{})",
            g.id,
            line(g.grantee.as_str()),
            left(g.seconds_left),
            if g.break_glass { ", break-glass" } else { "" }
        )?;
    }
    writeln!(
        out,
        "waiting for approval: {}",
        s.waiting_for_approval.len()
    )?;
    for w in &s.waiting_for_approval {
        writeln!(
            out,
            "  {} ({} of {} approvals)",
            w.id, w.approvals, w.required
        )?;
    }
    if !s.suspended.is_empty() {
        writeln!(out, "approved, but not usable now: {}", s.suspended.len())?;
        for x in &s.suspended {
            writeln!(out, "  {} ({})", x.id, line(&x.why.join("; ")))?;
        }
    }
    Ok(())
}

pub fn json(s: &Status, out: &mut dyn Write) -> io::Result<()> {
    super::write_json(out, s)
}

/// `git ops grant list` as text, one line a grant.
pub fn grants_text(
    rows: &[crate::engine::status::GrantRow],
    out: &mut dyn Write,
) -> io::Result<()> {
    for g in rows {
        let status = match &g.not_live_because {
            None => format!("live, {} left", left(g.seconds_left)),
            Some(w) => format!("not live: {}", line(w)),
        };
        writeln!(
            out,
            "{}  to {}  {}{}  paths {}  services {}  envs {}  ({status})",
            g.id,
            line(g.grantee.as_str()),
            g.scope
                .risk_classes
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            if g.break_glass { " BREAK-GLASS" } else { "" },
            line(&g.scope.paths.join(",")),
            line(&g.scope.services.join(",")),
            line(&g.scope.environments.join(",")),
        )?;
    }
    Ok(())
}
