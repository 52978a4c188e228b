//! End-to-end tests of `git ops`: the real binary, run through the real `git`, on real
//! repositories in temporary directories, with real ed25519 keys, cross-checked with stock
//! `ssh-keygen` and `git tag -v`. One test binary, one module per area.

#[path = "cli/attacks.rs"]
mod attacks;
#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/cache.rs"]
mod cache;
#[path = "cli/ci_recipe.rs"]
mod ci_recipe;
#[path = "cli/concurrency.rs"]
mod concurrency;
#[path = "cli/consistency.rs"]
mod consistency;
#[path = "cli/coverage.rs"]
mod coverage;
#[path = "cli/enforce.rs"]
mod enforce;
#[path = "cli/exit_codes.rs"]
mod exit_codes;
#[path = "cli/flow.rs"]
mod flow;
#[path = "cli/grants.rs"]
mod grants;
#[path = "cli/harness.rs"]
mod harness;
#[path = "cli/hook_managers.rs"]
mod hook_managers;
#[path = "cli/http_server.rs"]
mod http_server;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/keys.rs"]
mod keys;
#[path = "cli/keys_agent.rs"]
mod keys_agent;
#[path = "cli/keys_fido.rs"]
mod keys_fido;
#[path = "cli/keys_rotate.rs"]
mod keys_rotate;
#[path = "cli/merge.rs"]
mod merge;
#[path = "cli/misc.rs"]
mod misc;
#[path = "cli/readme.rs"]
mod readme;
#[path = "cli/ref_updates.rs"]
mod ref_updates;
#[path = "cli/review.rs"]
mod review;
#[path = "cli/samples.rs"]
mod samples;
#[path = "cli/shell.rs"]
mod shell;
#[path = "cli/signed.rs"]
mod signed;
#[path = "cli/single_hook.rs"]
mod single_hook;
#[path = "cli/tamper.rs"]
mod tamper;
#[path = "cli/teams.rs"]
mod teams;
#[path = "cli/toolkit.rs"]
mod toolkit;
#[path = "cli/transcripts.rs"]
mod transcripts;
