//! The command line: clap definitions (one file per command group), the context every command
//! gets, and the error every command ends with (`error.rs`: 0 ok, 1 rejected, 2 usage/config,
//! 3 internal).

pub mod changelog;
pub mod common;
pub mod completions;
pub mod demo;
pub mod error;
pub mod grant;
pub mod halt;
pub mod hook_entry;
pub mod hooks;
pub mod import;
pub mod init;
pub mod keys;
pub mod man;
pub mod merge;
pub mod new;
pub mod prompt;
pub mod record;
pub mod renumber;
pub mod report;
pub mod runbook;
pub mod show;
pub mod sign;
pub mod status;
pub mod use_op;
pub mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use error::{CliError, Result, rejected, usage, usage_hint};

#[derive(Parser, Debug)]
#[command(
    name = "git-ops",
    bin_name = "git ops",
    version,
    about = "A git-native ledger and signoff tool for operations and governance changes",
    long_about = "A git-native ledger and signoff tool for operations and governance changes.\n\n\
                  `git ops --help` is intercepted by git (it looks for a man page); use `git ops -h` \
                  or `git-ops --help`."
)]
pub struct Cli {
    /// Run as if started in <PATH>.
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a starter ops/policy.yaml, .gitattributes and the ledger merge driver.
    Init(init::Args),
    /// Manage keys: generate, add to the policy, list, write allowed_signers.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Declare an operation: append a record signed by you as requester.
    New(new::Args),
    /// The auto-ledger: declare, collect evidence and record the outcome in one step.
    Record(record::RecordArgs),
    /// Record the outcome of an operation (it then covers no more changes).
    Close(record::CloseArgs),
    /// Record a ROLLBACK operation that reverts an earlier one.
    Rollback(record::RollbackArgs),
    /// The Ops Governor prompt for an agent (or, with --ledger, the ledger YAML snippet).
    Prompt(prompt::Args),
    /// The runbook of an operation, with its signoff and ledger entry.
    Runbook(runbook::RunbookArgs),
    /// The reporting contract of an operation: summary, changes, evidence, risk, next actions.
    Report(report::ReportArgs),
    /// The Markdown changelog of the ledger (month sections, newest first).
    Changelog(changelog::ChangelogArgs),
    /// Bring a ledger kept before git-ops (docs/OPS_CHANGELOG.md, flat seed entries) in as
    /// imported records: kept and attested, never approvals.
    Import(import::Args),
    /// Add your signoff to a record; tag it when it reaches its threshold.
    Sign(sign::Args),
    /// Create the signed tag of an approved operation.
    Tag(sign::TagArgs),
    /// Show one record.
    Show(show::ShowArgs),
    /// List records.
    List(show::ListArgs),
    /// Records with their signoffs, newest first.
    Log(show::ListArgs),
    /// Preauth grants for automation: create, list, revoke.
    #[command(subcommand)]
    Grant(grant::GrantCmd),
    /// Freeze automation: every grant is suspended until resume.
    Halt(halt::HaltArgs),
    /// Lift a halt.
    Resume(halt::HaltArgs),
    /// Posture (OK or HALTED), active grants, operations waiting for approval.
    Status(status::StatusArgs),
    /// Set the operation whose Ops-Id trailer your next commits get.
    Use(use_op::Args),
    /// Hook entry points (called by the installed shims).
    Hook(hook_entry::Args),
    /// Install or remove the hook shims.
    #[command(subcommand)]
    Hooks(hooks::HooksCmd),
    /// Verify the ledger: schema, signatures, thresholds, tags.
    Verify(verify::Args),
    /// Union merge driver for ledger files (used by git via .gitattributes).
    MergeDriver(merge::Args),
    /// Give a fresh id to your unpushed records whose id another clone took.
    Renumber(renumber::Args),
    /// Print or install the man pages (what `git ops --help` looks for).
    Man(man::Args),
    /// Shell completions for `git-ops` and `git ops`: bash, zsh or fish.
    Completions(completions::Args),
    /// Build a throwaway repository and run the whole story with real commands.
    Demo(demo::Args),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

pub fn run(cli: Cli) -> Result<u8> {
    let ctx = common::Ctx::new(cli.dir)?;
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Keys(c) => keys::run(&ctx, c),
        Command::New(a) => new::run(&ctx, a),
        Command::Sign(a) => sign::run(&ctx, a),
        Command::Prompt(a) => prompt::run(&ctx, a),
        Command::Runbook(a) => runbook::run(&ctx, a),
        Command::Report(a) => report::run(&ctx, a),
        Command::Changelog(a) => changelog::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::Record(a) => record::run_record(&ctx, a),
        Command::Close(a) => record::run_close(&ctx, a),
        Command::Rollback(a) => record::run_rollback(&ctx, a),
        Command::Tag(a) => sign::run_tag(&ctx, a),
        Command::Show(a) => show::run_show(&ctx, a),
        Command::List(a) => show::run_list(&ctx, a, false),
        Command::Log(a) => show::run_list(&ctx, a, true),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Use(a) => use_op::run(&ctx, a),
        Command::Grant(c) => grant::run(&ctx, c),
        Command::Halt(a) => halt::run_halt(&ctx, a, true),
        Command::Resume(a) => halt::run_halt(&ctx, a, false),
        Command::Status(a) => status::run(&ctx, a),
        Command::Hook(a) => hook_entry::run(&ctx, a),
        Command::Hooks(c) => hooks::run(&ctx, c),
        Command::MergeDriver(a) => merge::run(&ctx, a),
        Command::Renumber(a) => renumber::run(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Man(a) => man::run(&ctx, a),
        Command::Completions(a) => completions::run(&ctx, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// docs/CLI.md is the help of every command; this test keeps it current. After changing a
    /// command, regenerate it with `UPDATE_CLI_DOC=1 cargo test --bin git-ops cli_reference`.
    #[test]
    fn cli_reference_is_current() {
        fn walk(cmd: &mut clap::Command, path: &str, out: &mut String) {
            let name = if path.is_empty() {
                "git ops".to_string()
            } else {
                format!("git ops {path}")
            };
            let help = cmd.render_long_help().to_string();
            out.push_str(&format!(
                "## `{name}`\n\n```text\n{}\n```\n\n",
                help.trim_end()
            ));
            let subs: Vec<String> = cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .map(|s| s.get_name().to_string())
                .collect();
            for sub in subs {
                let child = cmd.find_subcommand_mut(&sub).expect("listed above");
                let p = if path.is_empty() {
                    sub.clone()
                } else {
                    format!("{path} {sub}")
                };
                walk(child, &p, out);
            }
        }
        let mut cmd = Cli::command().term_width(100);
        cmd.build();
        let mut doc = String::from(
            "# Command-line reference\n\nGenerated from the command definitions by \
             `UPDATE_CLI_DOC=1 cargo test --bin git-ops cli_reference`; do not edit by hand.\n\n",
        );
        walk(&mut cmd, "", &mut doc);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CLI.md");
        if std::env::var_os("UPDATE_CLI_DOC").is_some() {
            std::fs::write(path, &doc).expect("writing docs/CLI.md");
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            current == doc,
            "docs/CLI.md is out of date: run UPDATE_CLI_DOC=1 cargo test --bin git-ops cli_reference"
        );
    }
}
