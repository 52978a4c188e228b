//! What a user's shell finds: the man pages `git ops --help` shows after `git ops man --install`,
//! and the completions of `git-ops` and of `git ops` through git's own completion (bash, fish),
//! checked with the real `man`, `bash` + git's completion script, `zsh` and `fish`.

use std::path::{Path, PathBuf};

use crate::harness::{Sandbox, require_tool, run};

/// A copy of the binary in `<root>/prefix/bin`, as `cargo install` leaves it: `--install`
/// writes beside the binary it runs from.
fn installed_binary(sb: &Sandbox) -> PathBuf {
    let bin = sb.root.join("prefix/bin");
    std::fs::create_dir_all(&bin).expect("creating prefix/bin");
    let exe = bin.join("git-ops");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_git-ops"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_git-ops"), &exe).expect("copying the binary");
    }
    exe
}

/// `program args…` in the sandbox's root with its environment, plus `env`.
fn command(
    sb: &Sandbox,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut c = sb.command(program, &sb.root);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn git_ops_help_finds_the_man_page_after_one_install_step() {
    if !require_tool("man", "apt-get install man-db") {
        return;
    }
    let sb = Sandbox::new();
    let exe = installed_binary(&sb);
    let bin = exe.parent().expect("bin").to_path_buf();
    let path = path_with(&bin);
    let out = run(command(
        &sb,
        &exe,
        &["man", "--install"],
        &[("PATH", &path)],
    ))
    .ok()
    .stdout();
    let man1 = sb.root.join("prefix/share/man/man1");
    assert!(out.contains(&man1.display().to_string()), "{out}");

    // Every page a page refers to exists: no `git-ops-sign(1)` pointing nowhere.
    let mut refs = 0;
    for entry in std::fs::read_dir(&man1).expect("the pages") {
        let page = std::fs::read_to_string(entry.expect("an entry").path()).expect("a page");
        for (i, _) in page.match_indices("git\\-ops\\-") {
            let word: String = page[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '\\')
                .collect();
            if !page[i + word.len()..].starts_with("(1)") {
                continue; // a page's own NAME line, not a reference
            }
            let name = word.replace('\\', "");
            refs += 1;
            assert!(
                man1.join(format!("{name}.1")).is_file(),
                "a page refers to {name}(1), which was not installed"
            );
        }
    }
    assert!(
        refs > 20,
        "the main page lists the commands ({refs} references)"
    );

    // `git ops --help` is git running `man git-ops`: with the binary's directory on PATH and
    // nothing else set, man finds the page through <bin>/../share/man.
    let help = run(command(
        &sb,
        "git",
        &["ops", "--help"],
        &[("PATH", &path), ("MANPAGER", "cat"), ("PAGER", "cat")],
    ))
    .ok()
    .stdout();
    assert!(
        help.contains("NAME") && help.contains("signoff tool"),
        "git ops --help did not show the page:\n{help}"
    );
    let sign = run(command(
        &sb,
        "man",
        &["-w", "git-ops-sign"],
        &[("PATH", &path)],
    ))
    .ok()
    .stdout();
    assert_eq!(
        sign.trim(),
        man1.join("git-ops-sign.1").display().to_string()
    );
}

/// The bash script completes `git-ops …` and, through git's completion, `git ops …`.
#[test]
fn bash_completes_git_ops_through_gits_own_completion() {
    let git_completion = Path::new("/usr/share/bash-completion/completions/git");
    if !require_tool("bash", "apt-get install bash") {
        return;
    }
    assert!(
        git_completion.is_file(),
        "git's bash completion is missing (Debian's git package ships it)"
    );
    let sb = Sandbox::new();
    let script = sb.root.join("git-ops.bash");
    let text = run(sb.ops_command(&sb.root, None, &["completions", "bash"]))
        .ok()
        .stdout();
    std::fs::write(&script, text).expect("writing the script");
    let driver = format!(
        r#"source {git}
source {script}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE="$*";
      COMP_POINT=${{#COMP_LINE}}; COMPREPLY=();
      "$F" "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"; echo "$* => ${{COMPREPLY[*]}}"; }}
F=__git_wrap__git_main
t git ops si
t git ops keys a
t git -C /tmp ops ver
t git ops sign --k
F=_git__ops
t git-ops keys a
"#,
        git = git_completion.display(),
        script = script.display()
    );
    let out = run(command(&sb, "bash", &["-c", &driver], &[]))
        .ok()
        .stdout();
    for line in [
        "git ops si => sign",
        "git ops keys a => add allowed-signers",
        "git -C /tmp ops ver => verify",
        "git ops sign --k => --key",
        "git-ops keys a => add allowed-signers",
    ] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in\n{out}");
    }
}

#[test]
fn fish_completes_git_ops_and_zsh_takes_the_script() {
    let sb = Sandbox::new();
    if require_tool("fish", "apt-get install fish") {
        let script = sb.root.join("git-ops.fish");
        let text = run(sb.ops_command(&sb.root, None, &["completions", "fish"]))
            .ok()
            .stdout();
        std::fs::write(&script, text).expect("writing the script");
        let cmd = format!(
            "source {}; complete -C'git-ops keys a'; echo ---; complete -C'git ops keys a'",
            script.display()
        );
        let out = run(command(&sb, "fish", &["-c", &cmd], &[])).ok().stdout();
        let (direct, through_git) = out.split_once("---").expect("two parts");
        for part in [direct, through_git] {
            assert!(
                part.contains("add\t") && part.contains("allowed-signers\t"),
                "fish did not complete `keys a`:\n{out}"
            );
        }
    }
    if require_tool("zsh", "apt-get install zsh") {
        let script = sb.root.join("_git-ops");
        let text = run(sb.ops_command(&sb.root, None, &["completions", "zsh"]))
            .ok()
            .stdout();
        // git's `_git` calls `_git-ops` for `git ops`; the file's name and #compdef say so.
        assert!(text.starts_with("#compdef git-ops") && text.contains("_git-ops()"));
        std::fs::write(&script, text).expect("writing the script");
        let script = script.display().to_string();
        run(command(&sb, "zsh", &["-n", &script], &[])).ok();
    }
}
