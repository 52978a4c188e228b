//! `git ops completions bash|zsh|fish`: shell completion scripts for `git-ops` and for
//! `git ops` (through git's own completion).
//!
//! - bash: git's completion calls `_git_ops` for `git ops …`; the script defines it on top of
//!   the generated `_git__ops`, shifting the words so `git [-C dir] ops` reads as `git-ops`.
//! - zsh: git's `_git` calls `_git-ops` for a command it does not know, which is the generated
//!   function's name: installing the script as `_git-ops` in `fpath` serves both.
//! - fish: `complete -c git` entries that hand the words after `ops` to the generated
//!   `git-ops` completions.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;
use super::Result;
use super::common::{Ctx, stdout};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Which {
    Bash,
    Zsh,
    Fish,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell: bash (source it, or put it in ~/.local/share/bash-completion/completions/git-ops),
    /// zsh (save it as _git-ops in a directory on fpath), fish (save it as
    /// ~/.config/fish/completions/git-ops.fish).
    pub shell: Which,
}

const BASH_GIT: &str = r#"
# `git ops <TAB>`: git's completion calls _git_ops; hand it the words from `ops` on.
_git_ops() {
    local i start=-1
    for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
        if [[ ${COMP_WORDS[i]} == ops ]]; then start=$i; break; fi
    done
    ((start < 0)) && return
    local -a COMP_WORDS=("git-ops" "${COMP_WORDS[@]:start+1}")
    local COMP_CWORD=$((COMP_CWORD - start))
    _git__ops git-ops "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
"#;

const FISH_GIT: &str = r#"
# `git ops <TAB>`: complete the words after `ops` as git-ops would.
complete -c git -n '__fish_seen_subcommand_from ops' -f -a '(complete -C"git-ops "(commandline -cp | string replace -r "^.*?\bops\s*" ""))'
"#;

pub fn run(_ctx: &Ctx, a: Args) -> Result<u8> {
    let mut cmd = Cli::command().bin_name("git-ops");
    let (shell, extra) = match a.shell {
        Which::Bash => (Shell::Bash, BASH_GIT),
        Which::Zsh => (Shell::Zsh, ""),
        Which::Fish => (Shell::Fish, FISH_GIT),
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "git-ops", &mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if matches!(a.shell, Which::Bash) {
        // clap_complete 4.6 names the root `git__ops` in its word loop but `git__subcmd__ops` in
        // its per-command arms (a `-` in the binary's name): make them agree.
        text = text.replace("git__subcmd__ops", "git__ops");
    }
    text.push_str(extra);
    stdout().write_all(text.as_bytes())?;
    Ok(0)
}
