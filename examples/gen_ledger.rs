//! Writes a git repository with a realistic ledger of N signed records, for benchmarks and
//! profiling: `ledger/samples/policy.yaml` as the policy, twelve month files of 2025 (one commit
//! each), records signed in-process with the test keys of `tests/fixtures/keys/` (never trust
//! them anywhere). Operations are approved by a second person nine times in ten; every tenth
//! record is an outcome.
//!
//! ```text
//! cargo run --release --example gen_ledger -- --records 100000 --out /tmp/ledger-100k
//! cd /tmp/ledger-100k && time git ops verify
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[path = "../benches/support/gen.rs"]
mod generator;

fn main() -> Result<()> {
    let mut records = 10_000usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => {
                records = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--records N")?
            }
            "--out" => out = Some(args.next().context("--out DIR")?.into()),
            other => bail!("unknown argument {other:?}; usage: --records N --out DIR"),
        }
    }
    let out = out.context("--out DIR is required")?;
    if out.exists() {
        bail!("{} exists; give a new directory", out.display());
    }
    std::fs::create_dir_all(out.join("ops/ledger"))?;
    let git = |args: &[&str]| -> Result<()> {
        let st = Command::new("git")
            .current_dir(&out)
            .args([
                "-c",
                "user.name=Bench",
                "-c",
                "user.email=bench@example.org",
            ])
            .args(args)
            .status()?;
        if !st.success() {
            bail!("git {args:?} failed");
        }
        Ok(())
    };
    git(&["init", "-q", "-b", "main"])?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        manifest.join("ledger/samples/policy.yaml"),
        out.join("ops/policy.yaml"),
    )?;
    git(&["add", "ops/policy.yaml"])?;
    git(&["commit", "-q", "-m", "Adopt git-ops"])?;
    for (month, text) in generator::ledger(records) {
        let rel = format!("ops/ledger/{month}.yaml");
        std::fs::write(out.join(&rel), text)?;
        git(&["add", &rel])?;
        git(&["commit", "-q", "-m", &format!("Ledger for {month}")])?;
    }
    println!("{records} records in {}", out.display());
    Ok(())
}
