//! `git ops merge-driver %O %A %B %P`: union merge of ledger files. Records of both sides are
//! kept (ours first, then theirs); the same record on both sides gets the union of its signoffs;
//! the same id with two different payloads is a conflict, and nothing is written.

use std::path::PathBuf;

use anyhow::{Context, Result};

use git_ops::model::{Record, yaml};
use git_ops::store::fsutil;

use super::common::Ctx;
use super::rejected;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The common ancestor's version (%O).
    pub base: PathBuf,
    /// Our version (%A); the merge result is written here.
    pub ours: PathBuf,
    /// Their version (%B).
    pub theirs: PathBuf,
    /// The path in the repository (%P), for messages.
    pub path: Option<String>,
}

pub fn merge_texts(ours: &str, theirs: &str) -> Result<String, String> {
    let a = yaml::parse_stream(ours).map_err(|e| format!("our side: {e}"))?;
    let b = yaml::parse_stream(theirs).map_err(|e| format!("their side: {e}"))?;
    let mut out = String::with_capacity(ours.len() + theirs.len());
    let mut conflicts = Vec::new();
    for (span, ra) in &a {
        match b.iter().find(|(_, rb)| rb.id() == ra.id()) {
            None => out.push_str(&ours[span.bytes.clone()]),
            Some((_, rb)) if rb.payload_sha256() != ra.payload_sha256() => {
                conflicts.push(ra.id().to_string())
            }
            Some((_, rb)) => {
                let mut merged: Record = ra.clone();
                let have: Vec<String> = ra.signoffs().iter().map(|s| s.sig.to_string()).collect();
                let extra: Vec<_> = rb
                    .signoffs()
                    .iter()
                    .filter(|s| !have.contains(&s.sig.to_string()))
                    .cloned()
                    .collect();
                if extra.is_empty() {
                    out.push_str(&ours[span.bytes.clone()]);
                } else {
                    merged.signoffs_mut().extend(extra);
                    out.push_str(&yaml::render_record(&merged));
                }
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    for (span, rb) in &b {
        if !a.iter().any(|(_, ra)| ra.id() == rb.id()) {
            let text = &theirs[span.bytes.clone()];
            if !text.starts_with("---") {
                out.push_str("---\n");
            }
            out.push_str(text);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(format!(
            "both sides changed the payload of {}: records are immutable, so this needs a person",
            conflicts.join(", ")
        ));
    }
    yaml::parse_stream(&out).map_err(|e| format!("the merged file does not parse: {e}"))?;
    Ok(out)
}

pub fn run(_ctx: &Ctx, args: Args) -> Result<u8> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
    let _base = read(&args.base)?;
    let ours = read(&args.ours)?;
    let theirs = read(&args.theirs)?;
    let name = args.path.as_deref().unwrap_or("ledger file");
    match merge_texts(&ours, &theirs) {
        Ok(text) => {
            fsutil::write_atomic(&args.ours, text.as_bytes(), None)?;
            Ok(0)
        }
        Err(e) => Err(rejected(format!("{name}: {e}"))),
    }
}
