//! Keys as people hold them: a key only in a real `ssh-agent` (git's `key::` form, a `.pub` path,
//! `SSH_AUTH_SOCK`), an encrypted key with no terminal, a `.pub` file given as the private key,
//! and what is said when no key is found. Cross-checked with stock `git tag -v`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Key, Repo, Sandbox, Team, new_args, require_tool, run};

/// A real `ssh-agent` on a socket in the sandbox, killed when dropped.
pub struct AgentProc {
    child: Child,
    pub sock: PathBuf,
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AgentProc {
    pub fn start(sb: &Sandbox) -> AgentProc {
        let sock = sb.root.join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ssh-agent");
        let start = Instant::now();
        while !sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ssh-agent made no socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        AgentProc { child, sock }
    }

    /// `ssh-add KEY` into this agent.
    pub fn add(&self, sb: &Sandbox, key: &Key) {
        let mut c = sb.command("ssh-add", &sb.root);
        c.arg("-q").arg(&key.path).env("SSH_AUTH_SOCK", &self.sock);
        run(c).ok();
    }
}

pub fn have_agent() -> bool {
    require_tool("ssh-agent", "apt-get install openssh-client")
        && require_tool("ssh-add", "apt-get install openssh-client")
}

/// `git ops ARGS` in `repo` with only the agent (no GIT_OPS_KEY).
fn ops_via_agent(repo: &Repo, agent: &AgentProc, args: &[&str]) -> crate::harness::Out {
    let mut c = repo.sb.ops_command(&repo.dir, None, args);
    c.env("SSH_AUTH_SOCK", &agent.sock);
    run(c)
}

/// Moves the private key away: from now on only the agent holds it.
fn hide_private_half(key: &Key) {
    std::fs::rename(&key.path, key.path.with_extension("moved")).expect("moving the key");
}

#[test]
fn a_key_held_only_by_ssh_agent_signs_through_git_key_form() {
    if !have_agent() {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    let agent = AgentProc::start(&repo.sb);
    agent.add(&repo.sb, &team.bob);
    hide_private_half(&team.bob);
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let line = format!("key::{}", team.bob.public_key());
    repo.git(&["config", "user.signingKey", &line]).ok();
    ops_via_agent(repo, &agent, &["sign", &id]).ok();
    assert_eq!(repo.state_of(&id), "approved");
    repo.verify().ok();
    // The tag bob signed through the agent passes stock git.
    let signers = repo.sb.root.join("allowed_signers");
    repo.ops(
        &team.alice,
        &[
            "keys",
            "allowed-signers",
            "--out",
            &signers.display().to_string(),
        ],
    )
    .ok();
    let tag = id.to_lowercase();
    repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
        "tag",
        "-v",
        &tag,
    ])
    .ok();
}

#[test]
fn a_pub_path_in_user_signing_key_uses_the_agent() {
    if !have_agent() {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    let agent = AgentProc::start(&repo.sb);
    agent.add(&repo.sb, &team.bob);
    hide_private_half(&team.bob);
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    let pub_path = team.bob.pub_path().display().to_string();
    repo.git(&["config", "user.signingKey", &pub_path]).ok();
    ops_via_agent(repo, &agent, &["sign", &id]).ok();
    assert_eq!(repo.state_of(&id), "approved");

    // Without the agent, the .pub file is named as such (not a "NUL byte").
    let mut c = repo.sb.ops_command(&repo.dir, None, &["sign", &id]);
    c.env_remove("SSH_AUTH_SOCK");
    let out = run(c)
        .code(2)
        .says(&["is a public key (.pub), not a private key", "SSH_AUTH_SOCK"]);
    assert!(!out.stderr().contains("NUL"), "{out}");
}

#[test]
fn with_nothing_named_the_agents_policy_key_is_used() {
    if !have_agent() {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;
    let agent = AgentProc::start(&repo.sb);
    let stranger = repo.sb.generate_key("stranger");
    agent.add(&repo.sb, &stranger);
    let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
    // Only a key the policy does not know: not found, and it says where it looked and whose
    // keys would do.
    let out = ops_via_agent(repo, &agent, &["sign", &id]).code(2).says(&[
        "no signing key found",
        "$GIT_OPS_KEY",
        "user.signingKey",
        "ssh-agent at",
        "holds 1 keys, 0 of them a signer's",
    ]);
    for k in [&team.alice, &team.bob] {
        let fp = run({
            let mut c = repo.sb.command("ssh-keygen", &repo.sb.root);
            c.arg("-lf").arg(k.pub_path());
            c
        })
        .ok()
        .stdout();
        let fp = fp.split_whitespace().nth(1).expect("a fingerprint");
        assert!(out.stderr().contains(fp), "{fp} not listed: {out}");
    }
    // Bob's key in the agent too: it is the one policy key there, and it signs.
    agent.add(&repo.sb, &team.bob);
    ops_via_agent(repo, &agent, &["sign", &id]).ok();
    assert_eq!(repo.state_of(&id), "approved");
}

#[test]
fn an_encrypted_key_without_a_terminal_says_to_use_the_agent() {
    if !have_agent() || !require_tool("setsid", "apt-get install util-linux") {
        return;
    }
    let sb = Sandbox::new();
    let path = sb.root.join("id_ed25519");
    let mut c = sb.command("ssh-keygen", &sb.root);
    c.args([
        "-q",
        "-t",
        "ed25519",
        "-a",
        "4",
        "-N",
        "pw",
        "-C",
        "a@example.org",
        "-f",
    ])
    .arg(&path);
    run(c).ok();
    let key = Key { path };
    let repo = sb.git_init("repo");
    let mut init = sb.ops_command(&repo.dir, Some(&key), &["init", "--name", "alice"]);
    init.env("GIT_OPS_PASSPHRASE", "pw");
    run(init).ok();
    repo.commit_all("Adopt git-ops");

    let mut c = sb.command("setsid", &repo.dir);
    c.args(["-w", "git", "ops"])
        .args(new_args("Restart", "READ_ONLY"))
        .env("GIT_OPS_KEY", &key.path);
    let out = run(c).code(2).says(&[
        "this key is encrypted and there is no terminal to ask for its passphrase",
        "load it into ssh-agent",
    ]);
    assert!(!out.stderr().contains("not an OpenSSH"), "{out}");

    // Loaded into the agent (with its passphrase, as ssh-add asks), the same file signs with no
    // passphrase at all.
    let agent = AgentProc::start(&sb);
    let mut add = sb.command("setsid", &sb.root);
    add.args(["-w", "ssh-add", "-q"])
        .arg(&key.path)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .env("SSH_ASKPASS", sb.root.join("askpass"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0");
    let askpass = sb.root.join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho pw\n").expect("writing askpass");
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755))
        .expect("chmod askpass");
    run(add).ok();
    let mut c = sb.command("setsid", &repo.dir);
    c.args(["-w", "git", "ops"])
        .args(new_args("Restart", "READ_ONLY"))
        .env("GIT_OPS_KEY", &key.path)
        .env("SSH_AUTH_SOCK", &agent.sock);
    let id = run(c).ok().stdout().trim().to_string();
    assert_eq!(repo.field(&id, "requested_by"), "alice");
}

#[test]
fn a_pub_file_as_git_ops_key_is_named_not_blamed_on_a_nul_byte() {
    let sb = Sandbox::new();
    let alice = sb.generate_key("alice");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice"]).ok();
    // A lone .pub file, and the same text under a name without .pub (as if it were the key).
    let lone = sb.root.join("lone.pub");
    let renamed = sb.root.join("id_alice");
    std::fs::copy(alice.pub_path(), &lone).expect("copying the .pub file");
    std::fs::copy(alice.pub_path(), &renamed).expect("copying the .pub file");
    for (path, says) in [
        (lone, "no private key beside it"),
        (renamed, "same path without .pub"),
    ] {
        let key = Key { path };
        let mut c = sb.ops_command(&repo.dir, Some(&key), &new_args("Restart", "READ_ONLY"));
        c.env_remove("SSH_AUTH_SOCK");
        let out = run(c)
            .code(2)
            .says(&["is a public key (.pub), not a private key", says]);
        assert!(!out.stderr().contains("NUL"), "{out}");
    }
}

#[test]
fn a_user_signing_key_of_another_type_is_passed_over_for_the_default_key() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    // alice's git-ops key in the default place; her commit-signing key is ECDSA.
    let dir = sb.home.join(".config/git-ops/keys");
    std::fs::create_dir_all(&dir).unwrap();
    let default = dir.join("default").display().to_string();
    run(sb.ops_command(&sb.root, None, &["keys", "generate", "--out", &default])).ok();
    let ecdsa = sb.root.join("id_ecdsa");
    let mut c = sb.command("ssh-keygen", &sb.root);
    c.args(["-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f"])
        .arg(&ecdsa);
    run(c).ok();
    let repo = sb.git_init("repo");
    repo.git(&["config", "user.signingKey", &ecdsa.display().to_string()])
        .ok();
    repo.ops_keyless(&["init", "--name", "alice"]).ok();
    repo.commit_all("Adopt git-ops");
    let id = repo
        .ops_keyless(&new_args("Restart", "READ_ONLY"))
        .ok()
        .stdout()
        .trim()
        .to_string();
    assert_eq!(repo.field(&id, "requested_by"), "alice");
}

#[test]
fn a_key_generated_under_its_own_name_is_found_when_it_is_a_signers() {
    let team = Team::new();
    let repo = &team.repo;
    // Nothing named, no default key: the message counts what the key directory holds.
    let mut c = repo
        .sb
        .ops_command(&repo.dir, None, &new_args("Restart", "READ_ONLY"));
    c.env_remove("SSH_AUTH_SOCK");
    run(c)
        .code(2)
        .says(&["no signing key found", "SSH_AUTH_SOCK is not set"]);

    // As the README's second person does: a key under their own name, then added to the policy.
    run(repo.sb.ops_command(
        &repo.sb.root,
        None,
        &["keys", "generate", "--name", "carol"],
    ))
    .ok();
    let carol_pub = repo.sb.home.join(".config/git-ops/keys/carol.pub");
    let mut c = repo
        .sb
        .ops_command(&repo.dir, None, &new_args("Restart", "READ_ONLY"));
    c.env_remove("SSH_AUTH_SOCK");
    run(c).code(2).says(&["holds 1 keys, 0 of them a signer's"]);
    repo.ops(
        &team.alice,
        &[
            "keys",
            "add",
            "carol",
            &carol_pub.display().to_string(),
            "--role",
            "human",
        ],
    )
    .ok();
    let id = repo
        .ops_keyless(&new_args("Restart", "READ_ONLY"))
        .ok()
        .stdout()
        .trim()
        .to_string();
    assert_eq!(repo.field(&id, "requested_by"), "carol");
}
