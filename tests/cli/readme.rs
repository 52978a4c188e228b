//! The README's "A first session", run literally for two people: Alice and Bob, each with their
//! own home directory (keys, git identity) and clone, pushing to a bare server that runs the
//! `pre-receive` hook. The block is taken from README.md as it is; a comment line that starts
//! with a person's name (`# Alice …`, `# Bob …`) hands the shell to that person, and
//! `# Anyone …` to Alice. Bob "sends" his public key by the test copying `bob.pub` to Alice's
//! home (`~/bob.pub`) when she takes over.

use crate::harness::{Sandbox, run};

fn first_session_block() -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("reading README.md");
    let start = readme
        .find("## A first session")
        .expect("README.md has a first session");
    let rest = &readme[start..];
    let open = rest
        .find("```sh\n")
        .expect("the first session has a sh block")
        + "```sh\n".len();
    let len = rest[open..].find("```").expect("the block ends");
    rest[open..open + len].to_string()
}

/// The block with a hand-over before every comment line that names who acts.
fn as_script(block: &str) -> String {
    let mut out = String::new();
    for line in block.lines() {
        let who = line
            .strip_prefix("# ")
            .and_then(|c| c.split([' ', ',', ':']).next());
        match who {
            Some("Alice") | Some("Anyone") => out.push_str("as alice\n"),
            Some("Bob") => out.push_str("as bob\n"),
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

const PRELUDE: &str = r#"set -euo pipefail
as() {
    export HOME="$ROOT/$1" XDG_CONFIG_HOME="$ROOT/$1/.config"
    unset GIT_OPS_KEY
    cd "$HOME/work"
    if [ -d deploy ]; then cd deploy; fi
    # Bob sent Alice his public key.
    if [ "$1" = alice ] && [ -f "$ROOT/bob/.config/git-ops/keys/bob.pub" ]; then
        cp "$ROOT/bob/.config/git-ops/keys/bob.pub" "$HOME/bob.pub"
    fi
    echo "--- as $1 in $PWD"
}
"#;

#[test]
fn the_readme_first_session_works_for_two_people() {
    let sb = Sandbox::new();
    let root = sb.root.clone();
    for (who, email) in [("alice", "alice@example.org"), ("bob", "bob@example.org")] {
        let home = root.join(who);
        std::fs::create_dir_all(home.join("work")).expect("a home");
        std::fs::write(
            home.join(".gitconfig"),
            format!(
                "[user]\n\tname = {who}\n\temail = {email}\n[init]\n\tdefaultBranch = main\n\
                 [pull]\n\trebase = false\n"
            ),
        )
        .expect("a git identity");
    }
    // The team's server: a bare repository with the server hook.
    let server = root.join("server.git");
    let server_s = server.display().to_string();
    let mut init = sb.command("git", &root);
    init.args(["init", "-q", "--bare", "-b", "main", &server_s]);
    run(init).ok();
    run(sb.ops_command(&server, None, &["hooks", "install"])).ok();
    // `$EDITOR deploy/web.yaml`: the change Alice makes.
    let editor = root.join("edit");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'replicas: 3\\n' > \"$1\"\n").expect("an editor");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    let script = format!("{PRELUDE}{}", as_script(&first_session_block()));
    let mut bash = sb.command("bash", &root);
    bash.args(["-c", &script])
        .env("ROOT", &root)
        .env("REPO", &server)
        .env("EDITOR", &editor)
        .env_remove("GIT_CONFIG_GLOBAL");
    let out = run(bash);
    assert_eq!(
        out.code,
        Some(0),
        "the README's first session failed:\n{}\n--- the script ---\n{script}",
        out.text()
    );
    // What the session promised: the change is on the server, approved by Bob, tagged.
    let mut log = sb.command("git", &server);
    log.args(["show", "main:deploy/web.yaml"]);
    assert_eq!(run(log).ok().stdout(), "replicas: 3\n");
    let mut tags = sb.command("git", &server);
    tags.args(["tag", "-l", "ops-*"]);
    assert_eq!(
        run(tags).ok().stdout().lines().count(),
        1,
        "Bob's tag is on the server"
    );
    assert!(
        out.text().contains("Good \"git\" signature for bob"),
        "stock `git tag -v` checked Bob's tag:\n{}",
        out.text()
    );
}
