//! Service status: `systemctl is-active` and the last 30 journal lines of each allowed service.
//! Where systemd is not there (a container, a laptop, CI), the state is `unavailable` and the
//! reason is an error, so a strict run can refuse rather than record a guess.

use std::process::Command;

use super::host::{self, OnCap};
use super::{Error, Limits};
use crate::model::record::ServiceStatus;

/// The state recorded when systemd cannot be asked.
pub const UNAVAILABLE: &str = "unavailable";

/// How many journal lines are kept, as the seed does.
pub const JOURNAL_LINES: u32 = 30;

/// A systemd unit name: letters, digits and `:-_.@\`, not starting with `-` (so it can never be
/// read as an option), at most 256 characters.
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "service name {name:?} is not a systemd unit name (letters, digits and :-_.@\\ only, \
             not starting with -)"
        )))
    }
}

/// The status of one service, and the errors met collecting it.
pub fn collect(name: &str, limits: &Limits) -> (ServiceStatus, Vec<String>) {
    collect_with(name, limits, "systemctl", "journalctl")
}

/// [`collect`] with the programs named, so tests can point at a program that is not there.
pub(crate) fn collect_with(
    name: &str,
    limits: &Limits,
    systemctl: &str,
    journalctl: &str,
) -> (ServiceStatus, Vec<String>) {
    let mut errors = Vec::new();
    if let Err(e) = check_name(name) {
        let status = ServiceStatus {
            active: UNAVAILABLE.into(),
            journal: None,
        };
        return (status, vec![format!("service {name:?}: {e}")]);
    }
    let active = match is_active(name, limits, systemctl) {
        Ok(state) => state,
        Err(e) => {
            errors.push(format!("service {name}: {e}"));
            UNAVAILABLE.to_string()
        }
    };
    let journal = match journal(name, limits, journalctl) {
        Ok(j) => j,
        Err(e) => {
            errors.push(format!("service {name}: {e}"));
            None
        }
    };
    (ServiceStatus { active, journal }, errors)
}

/// `systemctl is-active` prints the state (active, inactive, failed, activating, ...) and exits
/// non-zero for every state but active, so the exit code alone is not a failure: no state on
/// stdout is.
fn is_active(name: &str, limits: &Limits, systemctl: &str) -> Result<String, Error> {
    let out = host::run(
        quiet(systemctl).args(["is-active", "--", name]),
        limits,
        OnCap::Fail,
    )?;
    let text = out.stdout_text();
    match text.lines().next().map(str::trim) {
        Some(state) if !state.is_empty() => Ok(state.to_string()),
        _ => Err(Error::Other(format!(
            "`systemctl is-active` gave no state{}",
            match out.stderr.trim() {
                "" => String::new(),
                e => format!(": {}", e.lines().collect::<Vec<_>>().join(" / ")),
            }
        ))),
    }
}

/// The last lines of the unit's journal, with ISO timestamps; `None` when there are none.
fn journal(name: &str, limits: &Limits, journalctl: &str) -> Result<Option<String>, Error> {
    let out = host::run(
        quiet(journalctl)
            .arg(format!("--unit={name}"))
            .arg(format!("--lines={JOURNAL_LINES}"))
            .args(["--no-pager", "--quiet", "--output=short-iso"]),
        limits,
        OnCap::Fail,
    )?;
    if !out.success() {
        return Err(out.failure(format!("journalctl --unit={name}")));
    }
    let text = out.stdout_text();
    if text.trim().is_empty() {
        // No lines is a fact; no lines because the journal could not be read is an error.
        return match out.stderr.trim() {
            "" => Ok(None),
            e => Err(Error::Other(format!("journalctl printed no lines: {e}"))),
        };
    }
    Ok(Some(text))
}

/// A systemd tool with no pager, no colours and no questions.
fn quiet(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_URLIFY", "0");
    cmd
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn unit_names_are_checked() {
        for ok in [
            "grafana-server",
            "quantum-portfolio-gate.service",
            "getty@tty1.service",
            "dev-disk-by\\x2duuid.device",
        ] {
            check_name(ok).unwrap();
        }
        for bad in [
            "",
            "-H",
            "--host=evil",
            "a b",
            "x;rm",
            "svc\n",
            &"a".repeat(257),
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains("is not a systemd unit name"), "{e}");
        }
    }

    #[test]
    fn missing_tools_make_the_service_unavailable_with_reasons() {
        let (status, errors) = collect_with(
            "grafana-server",
            &Limits::default(),
            "/nonexistent/systemctl",
            "/nonexistent/journalctl",
        );
        assert_eq!(
            status,
            ServiceStatus {
                active: "unavailable".into(),
                journal: None
            }
        );
        assert_eq!(
            errors,
            [
                "service grafana-server: `/nonexistent/systemctl` is not installed or not on PATH",
                "service grafana-server: `/nonexistent/journalctl` is not installed or not on PATH",
            ]
        );
    }

    #[test]
    fn a_bad_name_is_never_passed_to_systemctl() {
        let (status, errors) = collect("--version", &Limits::default());
        assert_eq!(status.active, "unavailable");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("is not a systemd unit name"),
            "{errors:?}"
        );
    }

    /// Whatever this machine has (systemd, systemctl without a running systemd, or nothing),
    /// the collector answers quickly with a state, and with a reason whenever it is unavailable.
    #[test]
    fn the_real_systemctl_answers_or_says_why_not() {
        let t = Instant::now();
        let (status, errors) = collect("git-ops-test-no-such.service", &Limits::default());
        assert!(t.elapsed() < Duration::from_secs(10));
        eprintln!("systemd here says: {status:?} {errors:?}");
        match status.active.as_str() {
            // A running systemd knows no such unit.
            "inactive" | "unknown" | "failed" => {}
            "unavailable" => assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with("service git-ops-test-no-such.service: ")),
                "{errors:?}"
            ),
            other => panic!("unexpected state {other:?}"),
        }
    }
}
