//! Keys: what `git ops keys generate` writes, keys made by stock ssh-keygen (plain and with a
//! passphrase), key files that must be refused, and where the key is looked up.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{
    Key, Repo, Sandbox, Team, new_args, require_tool, run, run_input, without_comment,
};

/// A repository whose policy has the owner of `key` as its only signer, `alice`.
fn solo_repo(sb: &std::sync::Arc<Sandbox>, key: &Key, passphrase: Option<&str>) -> Repo {
    let repo = sb.git_init("repo");
    let mut init = sb.ops_command(&repo.dir, Some(key), &["init", "--name", "alice"]);
    if let Some(p) = passphrase {
        init.env("GIT_OPS_PASSPHRASE", p);
    }
    run(init).ok();
    repo.commit_all("Adopt git-ops");
    repo
}

/// A key made by stock `ssh-keygen`, encrypted when `passphrase` is not empty. Four KDF rounds
/// instead of sixteen keep the tests fast; the format and the code paths are the same.
fn stock_key(sb: &Sandbox, name: &str, passphrase: &str) -> Key {
    let path = sb.root.join(name);
    let mut c = sb.command("ssh-keygen", &sb.root);
    c.args([
        "-q",
        "-t",
        "ed25519",
        "-a",
        "4",
        "-N",
        passphrase,
        "-C",
        "alice@example.org",
        "-f",
    ])
    .arg(&path);
    run(c).ok();
    Key { path }
}

#[test]
fn keys_generate_writes_an_openssh_key_that_ssh_keygen_reads() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    let key = sb.generate_key("alice");
    let private = std::fs::read_to_string(&key.path).expect("reading the private key");
    assert!(
        private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        "{private}"
    );
    assert!(
        private
            .trim_end()
            .ends_with("-----END OPENSSH PRIVATE KEY-----")
    );
    let mode = std::fs::metadata(&key.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode is {mode:o}");
    let public = std::fs::read_to_string(key.pub_path()).expect("reading PATH.pub");
    assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
    assert!(
        public.trim_end().ends_with(" alice@example.org"),
        "{public}"
    );

    let mut c = sb.command("ssh-keygen", &sb.root);
    c.arg("-y").arg("-f").arg(&key.path);
    let derived = run(c).ok();
    assert_eq!(
        without_comment(&derived.stdout()),
        without_comment(&public),
        "ssh-keygen derives another public key from the private key"
    );

    // Never overwrite a key.
    let out = key.path.display().to_string();
    let again = run(sb.ops_command(&sb.root, None, &["keys", "generate", "--out", &out]));
    again.code(2).says(&["exists already"]);
    assert_eq!(std::fs::read_to_string(&key.path).unwrap(), private);
}

#[test]
fn a_key_made_by_stock_ssh_keygen_works_unchanged() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    let key = stock_key(&sb, "id_ed25519", "");
    let repo = solo_repo(&sb, &key, None);
    let policy = repo.read("ops/policy.yaml");
    assert!(
        policy.contains(&key.public_key()),
        "the policy does not hold the key:\n{policy}"
    );
    let id = repo.declare(&key, "Restart web", "READ_ONLY");
    assert_eq!(repo.field(&id, "requested_by"), "alice");
    repo.verify().ok();
}

#[test]
fn a_passphrase_protected_key_needs_the_right_passphrase() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    let key = stock_key(&sb, "id_ed25519", "pw");
    let repo = solo_repo(&sb, &key, Some("pw"));

    let mut good = sb.ops_command(&repo.dir, Some(&key), &new_args("Restart", "READ_ONLY"));
    good.env("GIT_OPS_PASSPHRASE", "pw");
    let id = run(good).ok().stdout().trim().to_string();
    assert_eq!(repo.field(&id, "requested_by"), "alice");

    let mut wrong = sb.ops_command(&repo.dir, Some(&key), &new_args("Restart", "READ_ONLY"));
    wrong.env("GIT_OPS_PASSPHRASE", "not-pw");
    run(wrong).code(2).says(&["passphrase"]);

    // No terminal to ask on (a new session has no controlling terminal) and no
    // GIT_OPS_PASSPHRASE: a configuration error that says how to provide the passphrase.
    if require_tool("setsid", "apt-get install util-linux") {
        let mut c = sb.command("setsid", &repo.dir);
        c.args(["-w", "git", "ops"])
            .args(new_args("Restart", "READ_ONLY"))
            .env("GIT_OPS_KEY", &key.path);
        run(c).code(2).says(&["GIT_OPS_PASSPHRASE"]);
    }
    assert_eq!(repo.records().len(), 1, "a failed command wrote a record");
}

#[test]
fn the_passphrase_is_asked_on_the_terminal() {
    // script(1) gives the command a pseudo-terminal.
    if !require_tool("script", "apt-get install bsdutils")
        || !require_tool("ssh-keygen", "apt-get install openssh-client")
    {
        return;
    }
    let sb = Sandbox::new();
    let key = stock_key(&sb, "id_ed25519", "pw");
    let repo = solo_repo(&sb, &key, Some("pw"));
    let new: Vec<String> = new_args("Restart web", "READ_ONLY")
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let new = new.join(" ");

    // script(1) runs the command on a pseudo-terminal and copies our stdin to it.
    let mut c = sb.command("script", &repo.dir);
    c.args(["-qec", &format!("git ops {new}"), "/dev/null"])
        .env("GIT_OPS_KEY", &key.path);
    let out = run_input(c, b"pw\n").ok().says(&["Enter passphrase for"]);
    assert_eq!(repo.records().len(), 1, "{out}");

    let mut c = sb.command("script", &repo.dir);
    c.args(["-qec", &format!("git ops {new}"), "/dev/null"])
        .env("GIT_OPS_KEY", &key.path);
    run_input(c, b"wrong\n")
        .code(2)
        .says(&["passphrase is wrong"]);
    assert_eq!(repo.records().len(), 1);
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let sb = Sandbox::new();
    let key = sb.generate_key("alice");
    std::fs::set_permissions(&key.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let repo = sb.git_init("repo");
    let out = repo
        .ops(&key, &["init", "--name", "alice"])
        .code(2)
        .says(&["accessible by others", "chmod 600"]);
    assert!(
        out.stderr().contains(&key.path.display().to_string()),
        "{out}"
    );
    assert!(
        !repo.path("ops/policy.yaml").exists(),
        "init wrote a policy"
    );
}

#[test]
fn a_missing_key_file_is_a_configuration_error() {
    let sb = Sandbox::new();
    let key = Key {
        path: sb.root.join("keys/nowhere"),
    };
    let repo = sb.git_init("repo");
    let out = repo
        .ops(&key, &["init", "--name", "alice"])
        .code(2)
        .says(&["does not exist"]);
    assert!(out.stderr().contains("keys/nowhere"), "{out}");
}

#[test]
fn no_key_at_all_says_to_run_keys_generate() {
    let sb = Sandbox::new();
    let repo = sb.git_init("repo");
    repo.ops_keyless(&["init", "--name", "alice"])
        .code(2)
        .says(&["no signing key found", "git ops keys generate"]);
    assert!(!repo.path("ops/policy.yaml").exists());
}

#[test]
fn user_signing_key_is_used_when_git_ops_key_is_unset() {
    let team = Team::new();
    let repo = &team.repo;
    // Where people who sign commits with SSH keep their key, named as they name it.
    let ssh_dir = repo.sb.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    std::fs::copy(&team.bob.path, ssh_dir.join("id_ed25519")).unwrap();
    std::fs::copy(team.bob.pub_path(), ssh_dir.join("id_ed25519.pub")).unwrap();
    std::fs::set_permissions(
        ssh_dir.join("id_ed25519"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    for value in [
        team.bob.path.display().to_string(),
        team.bob.pub_path().display().to_string(),
        "~/.ssh/id_ed25519.pub".to_string(),
    ] {
        repo.git(&["config", "--global", "user.signingKey", &value])
            .ok();
        let out = repo
            .ops_keyless(&new_args("Restart web", "SERVICE_RESTART"))
            .ok();
        let id = out.stdout().trim().to_string();
        assert_eq!(
            repo.field(&id, "requested_by"),
            "bob",
            "user.signingKey={value} was not used\n{out}"
        );
    }
}

#[test]
fn git_ops_key_wins_over_user_signing_key() {
    let team = Team::new();
    let repo = &team.repo;
    let bob = team.bob.path.display().to_string();
    repo.git(&["config", "user.signingKey", &bob]).ok();
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    assert_eq!(repo.field(&id, "requested_by"), "alice");
}

#[test]
fn a_key_that_is_not_ed25519_is_refused_with_a_hint() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    let path = sb.root.join("id_ecdsa");
    let mut c = sb.command("ssh-keygen", &sb.root);
    c.args(["-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f"])
        .arg(&path);
    run(c).ok();
    let repo = sb.git_init("repo");
    let out = repo
        .ops(&Key { path }, &["init", "--name", "alice"])
        .code(2);
    // It is an OpenSSH private key; what is wrong is its type, and the fix is an ed25519 key.
    assert!(out.stderr().contains("ed25519"), "{out}");
    assert!(!repo.path("ops/policy.yaml").exists());
}

/// Asserts that `out` holds none of the private key `text`: not its armour, and not one of its
/// base64 lines.
#[track_caller]
fn never_shows(out: &crate::harness::Out, text: &str) {
    for (stream, shown) in [("stdout", out.stdout()), ("stderr", out.stderr())] {
        assert!(
            !shown.contains("PRIVATE KEY"),
            "{stream} shows the private key's armour"
        );
        for l in text.lines().map(str::trim) {
            if l.is_empty() || l.starts_with("-----") {
                continue;
            }
            assert!(
                !shown.contains(l),
                "{stream} shows a line of the private key"
            );
        }
    }
}

#[test]
fn keys_add_refuses_a_private_key_and_never_prints_it() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let repo = solo_repo(&sb, &alice, None);
    let policy = repo.read("ops/policy.yaml");
    let ours = sb.generate_key("bob");
    let stock = stock_key(&sb, "id_ed25519", "");
    for key in [&ours, &stock] {
        let text = std::fs::read_to_string(&key.path).expect("reading the private key");
        assert!(text.contains("PRIVATE KEY"), "not a private key file");
        let path = key.path.display().to_string();
        // The path of the private key, and its text pasted in place of a public key line.
        for given in [path.as_str(), text.as_str()] {
            let out = repo.ops(&alice, &["keys", "add", "bob", given, "--role", "human"]);
            never_shows(&out, &text);
            assert_eq!(
                out.code,
                Some(2),
                "exit code of `keys add` with a private key"
            );
            assert!(
                out.stderr()
                    .contains("is a private key; give the public key (the .pub file or its `ssh-ed25519 AAAA...` line)"),
                "the refusal does not say what to give instead"
            );
        }
        // The arguments the wrong way round: the key where the name goes.
        let out = repo.ops(&alice, &["keys", "add", &text, "bob", "--role", "human"]);
        never_shows(&out, &text);
        assert_eq!(
            out.code,
            Some(2),
            "exit code of `keys add` with the key as name"
        );
        // Given the path, it names the public half beside it.
        let out = repo.ops(&alice, &["keys", "add", "bob", &path, "--role", "human"]);
        let hint = format!("hint: its public half is {}", key.pub_path().display());
        assert!(
            out.stderr().contains(&hint),
            "no hint to the .pub file: {:?}",
            out.stderr().lines().last()
        );
    }
    assert_eq!(
        repo.read("ops/policy.yaml"),
        policy,
        "a refused key changed the policy"
    );

    // The public half is what goes in.
    let out = repo
        .ops(
            &alice,
            &[
                "keys",
                "add",
                "bob",
                &ours.pub_path().display().to_string(),
                "--role",
                "human",
            ],
        )
        .ok()
        .says(&["added bob", "policy version 2"]);
    never_shows(&out, &std::fs::read_to_string(&ours.path).unwrap());
    assert!(repo.read("ops/policy.yaml").contains(&ours.public_key()));
}

#[test]
fn keys_add_does_not_repeat_a_file_that_is_not_a_public_key() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let repo = solo_repo(&sb, &alice, None);
    let secret = sb.root.join("token.txt");
    std::fs::write(&secret, "hunter2-api-token-0123456789\n").unwrap();
    let out = repo
        .ops(
            &alice,
            &[
                "keys",
                "add",
                "bob",
                &secret.display().to_string(),
                "--role",
                "human",
            ],
        )
        .code(2)
        .says(&["token.txt: not an OpenSSH public key"]);
    assert!(!out.text().contains("hunter2"), "{out}");
}
