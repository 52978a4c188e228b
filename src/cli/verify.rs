//! `git ops verify`: the ledger (schema, signatures, thresholds, tags), and with `--range` or
//! `--history` the commits (coverage and ledger immutability).

use std::io::{IsTerminal, Write};

use super::Result;
use clap::ValueEnum;

use git_ops::engine::verify::{Mode, Verification, verify};
use git_ops::render::verify as render;

use super::common::{Ctx, stdout};

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyFormat {
    #[default]
    Text,
    Json,
    /// GitHub Actions workflow annotations (`::error file=...,line=...::`).
    Github,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t)]
    pub format: VerifyFormat,
    /// Check every commit in A..B: coverage, ledger immutability, trailers.
    #[arg(long, value_name = "A..B", conflicts_with = "history")]
    pub range: Option<String>,
    /// Check that every commit that touched the ledger kept earlier records unchanged.
    #[arg(long)]
    pub history: bool,
    /// Commits up to this one are trusted as they are (default: git config ops.trustRoot, else the
    /// first commit that added the policy).
    #[arg(long, value_name = "COMMIT")]
    pub trust_root: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let mut repo = ctx.repo()?;
    let mode = match (args.range, args.history) {
        (Some(range), _) => Mode::Range(range),
        (None, true) => Mode::History,
        (None, false) => Mode::Ledger,
    };
    let bar = progress::Bar::start(progress::wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").as_deref(),
    ));
    let v = verify(&mut repo, &mode, args.trust_root.as_deref(), ctx.now());
    bar.finish();
    let v = v?;
    print(&v, args.format)?;
    Ok(if v.report.ok() { 0 } else { 1 })
}

fn print(v: &Verification, format: VerifyFormat) -> Result<()> {
    let mut out = stdout();
    match format {
        VerifyFormat::Text => render::text_with_notes(&v.report, &v.notes, &mut out)?,
        VerifyFormat::Json => render::json(&v.report, &mut out)?,
        VerifyFormat::Github => render::github_with_notes(&v.report, &v.notes, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// A progress bar on standard error for a verification that takes more than a second: only on
/// a terminal, never when CI is set (any value but empty, `0` or `false`). It shows the record
/// checks of the library's counter, or the time spent when there is nothing to count yet.
mod progress {
    use std::ffi::OsStr;
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use git_ops::verify::ledger::progress;

    /// Whether a bar may be drawn: standard error is a terminal and this is not CI.
    pub fn wanted(stderr_is_terminal: bool, ci: Option<&OsStr>) -> bool {
        let in_ci = ci.is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
        stderr_is_terminal && !in_ci
    }

    pub struct Bar {
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Bar {
        pub fn start(wanted: bool) -> Bar {
            let stop = Arc::new(AtomicBool::new(false));
            let thread = wanted.then(|| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || draw(&stop))
            });
            Bar { stop, thread }
        }

        /// Stops the bar and clears its line.
        pub fn finish(mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn draw(stop: &AtomicBool) {
        let started = Instant::now();
        let mut drawn = false;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            if started.elapsed() < Duration::from_secs(1) {
                continue;
            }
            let (done, total) = progress::get();
            const WIDTH: usize = 30;
            let line = match (done.min(total) * WIDTH).checked_div(total) {
                Some(full) => format!(
                    "verifying [{}{}] {done}/{total} records",
                    "#".repeat(full),
                    "-".repeat(WIDTH - full)
                ),
                None => format!("verifying ({} s)", started.elapsed().as_secs()),
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            drawn = true;
            std::thread::sleep(Duration::from_millis(150));
        }
        if drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    #[cfg(test)]
    mod tests {
        use super::wanted;
        use std::ffi::OsStr;

        #[test]
        fn only_on_a_terminal_and_never_in_ci() {
            assert!(wanted(true, None));
            assert!(wanted(true, Some(OsStr::new(""))));
            assert!(wanted(true, Some(OsStr::new("false"))));
            assert!(!wanted(true, Some(OsStr::new("true"))));
            assert!(!wanted(true, Some(OsStr::new("1"))));
            assert!(!wanted(false, None));
        }
    }
}
