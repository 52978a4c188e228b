//! Key rotation and git's own signing set-up: after `keys rotate`, what was signed before still
//! verifies (`git ops verify`, `verify --history`, stock `git tag -v`), the retired key signs
//! nothing new; `keys setup-git` and `init --sign-commits` make plain `git tag -v` and
//! `git verify-commit` work.

use crate::harness::{Key, Repo, Team, run};

/// git's local config value of `key`.
fn config(repo: &Repo, key: &str) -> String {
    repo.git(&["config", "--local", key])
        .ok()
        .stdout()
        .trim()
        .to_string()
}

/// Commits everything with the real time as the commit's date: `verify --history` judges
/// signoffs by the time of the commit that brought them, and these were signed just now.
fn commit_now(repo: &Repo, message: &str) {
    repo.git(&["add", "-A"]).ok();
    let date = format!("{} +0000", chrono::Utc::now().timestamp() + 1);
    repo.git_env(
        &["commit", "-q", "-m", message],
        &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
    )
    .ok();
}

/// Approves a SERVICE_RESTART operation (alice asks, `approver` approves, which tags it) and
/// commits it; returns its id.
fn approved_and_committed(team: &Team, approver: &Key) -> String {
    let id = team
        .repo
        .declare(&team.alice, "Restart web", "SERVICE_RESTART");
    team.repo.ops(approver, &["sign", &id]).ok();
    assert_eq!(team.repo.state_of(&id), "approved");
    commit_now(&team.repo, &format!("Approve {id}"));
    id
}

/// Rotates bob's key to `new` through a policy change covered by an operation approved under
/// the current policy (bob still approves with his old key).
fn rotate_bob(team: &Team, new: &Key) {
    let repo = &team.repo;
    let id = repo.declare_with(&team.alice, "SERVICE_RESTART", &["ops/policy.yaml"], &[]);
    repo.ops(&team.bob, &["sign", &id]).ok();
    commit_now(repo, "Declare bob's key rotation");
    repo.ops_keyless(&["use", &id]).ok();
    let new_pub = new.pub_path().display().to_string();
    repo.ops(&team.alice, &["keys", "rotate", "bob", &new_pub])
        .ok()
        .says(&["rotated bob", "retired at", "policy version"]);
    // The pre-commit hook judges it like any policy change.
    commit_now(repo, "Rotate bob's key");
    repo.ops_keyless(&["use", "--clear"]).ok();
}

#[test]
fn setup_git_makes_plain_git_tag_v_and_verify_commit_work() {
    let team = Team::new();
    let repo = &team.repo;
    let id = approved_and_committed(&team, &team.bob);
    let tag = id.to_lowercase();
    // Before: stock git cannot check the tag (no allowed signers configured).
    repo.git(&["tag", "-v", &tag]).failed();

    let key = team.alice.path.display().to_string();
    repo.ops_keyless(&["keys", "setup-git", "--key", &key, "--sign-commits"])
        .ok()
        .says(&["gpg.format = ssh", "commit.gpgSign = true"]);
    assert_eq!(config(repo, "gpg.format"), "ssh");
    assert_eq!(config(repo, "commit.gpgSign"), "true");
    assert_eq!(config(repo, "user.signingKey"), key);
    let signers = config(repo, "gpg.ssh.allowedSignersFile");
    assert!(
        signers.contains("/.git/git-ops/allowed_signers"),
        "{signers}"
    );

    // After: plain commands, no extra flags.
    repo.git(&["tag", "-v", &tag])
        .ok()
        .says(&["Good \"git\" signature for bob"]);
    repo.write("notes.txt", "hello\n");
    repo.commit_all("A signed commit");
    repo.git(&["verify-commit", "HEAD"])
        .ok()
        .says(&["Good \"git\" signature for alice"]);

    // A key that is not a signer's is refused: git would sign what the policy does not accept.
    let stranger = repo.sb.generate_key("stranger");
    repo.ops_keyless(&[
        "keys",
        "setup-git",
        "--key",
        &stranger.path.display().to_string(),
    ])
    .code(2)
    .says(&["is not a signer's"]);
}

#[test]
fn init_sign_commits_sets_up_signing_from_the_first_commit() {
    let sb = crate::harness::Sandbox::new();
    let alice = sb.generate_key("alice");
    let repo = sb.git_init("repo");
    repo.ops(&alice, &["init", "--name", "alice", "--sign-commits"])
        .ok()
        .says(&["set up commit signing"]);
    repo.commit_all("Adopt git-ops");
    repo.git(&["verify-commit", "HEAD"])
        .ok()
        .says(&["Good \"git\" signature for alice"]);
}

#[test]
fn after_a_rotation_old_tags_pass_stock_git_and_the_retired_key_signs_nothing_new() {
    let team = Team::new();
    let repo = &team.repo;
    let alice_key = team.alice.path.display().to_string();
    repo.ops_keyless(&["keys", "setup-git", "--key", &alice_key])
        .ok();
    let before = approved_and_committed(&team, &team.bob);
    let bob2 = repo.sb.generate_key("bob2");
    rotate_bob(&team, &bob2);

    let policy = repo.read("ops/policy.yaml");
    assert!(policy.contains("retired_keys"), "{policy}");
    assert!(policy.contains(&crate::harness::without_comment(&bob2.public_key())));

    let listed = repo.ops_keyless(&["keys", "list"]).ok().stdout();
    assert!(listed.contains("(retired "), "{listed}");
    let json = repo
        .ops_keyless(&["keys", "list", "--format", "json"])
        .ok()
        .json();
    let bob = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "bob")
        .expect("bob is listed");
    assert_eq!(
        bob["retired_keys"].as_array().map(Vec::len),
        Some(1),
        "{bob}"
    );

    // git ops itself: the history still verifies, whole and commit by commit.
    repo.verify().ok();
    repo.ops_keyless(&["verify", "--history"]).ok();

    // Opening a workspace refreshed git's allowed-signers file: bob's old key bounded by
    // valid-before, the new one by valid-after.
    repo.ops_keyless(&["status"]).ok();
    let signers = std::fs::read_to_string(config(repo, "gpg.ssh.allowedSignersFile"))
        .expect("the managed allowed-signers file");
    let old_line = signers
        .lines()
        .find(|l| l.contains(&crate::harness::without_comment(&team.bob.public_key())))
        .expect("bob's old key is kept");
    assert!(old_line.contains("valid-before="), "{old_line}");
    let new_line = signers
        .lines()
        .find(|l| l.contains(&crate::harness::without_comment(&bob2.public_key())))
        .expect("bob's new key is there");
    assert!(new_line.contains("valid-after="), "{new_line}");

    // Stock git passes the tag bob signed before the rotation...
    repo.git(&["tag", "-v", &before.to_lowercase()])
        .ok()
        .says(&["Good \"git\" signature for bob"]);
    // ... and `keys allowed-signers --out` writes the same for other tools.
    let out = repo.sb.root.join("allowed_signers");
    repo.ops_keyless(&[
        "keys",
        "allowed-signers",
        "--out",
        &out.display().to_string(),
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), signers);

    // The retired key signs nothing new with git-ops...
    let id = repo.declare(&team.alice, "Restart web again", "SERVICE_RESTART");
    repo.ops(&team.bob, &["sign", &id])
        .code(2)
        .says(&["is not a signer"]);
    // ... while the new one does, and its tag passes stock git.
    repo.ops(&bob2, &["sign", &id]).ok();
    assert_eq!(repo.state_of(&id), "approved");
    repo.git(&["tag", "-v", &id.to_lowercase()])
        .ok()
        .says(&["Good \"git\" signature for bob"]);

    // A tag made with the retired key after its retirement fails stock git.
    let tomorrow = format!("{} +0000", chrono::Utc::now().timestamp() + 86_400);
    let mut c = repo.sb.command("git", &repo.dir);
    c.args(["-c", "gpg.format=ssh", "-c"])
        .arg(format!("user.signingKey={}", team.bob.path.display()))
        .args(["tag", "-s", "-m", "late", "late-by-old-key"])
        .env("GIT_COMMITTER_DATE", &tomorrow);
    run(c).ok();
    repo.git(&["tag", "-v", "late-by-old-key"]).failed();
}

/// Adds `signer`'s approver signoff made with `key` at `at` to operation `id`, in place, as a
/// pusher with the key file (and `--no-verify`) could.
fn add_signoff_with(repo: &Repo, key: &Key, signer: &str, id: &str, at: &str) {
    use git_ops::model::{Role, SignerName, yaml};
    let file = crate::harness::ledger_file_of(id);
    let text = repo.read(&file);
    let records = yaml::parse_stream(&text).expect("the ledger file parses");
    let (span, mut record) = records
        .into_iter()
        .find(|(_, r)| r.id().to_string() == id)
        .expect("the record");
    let keypair = git_ops::store::keys::load_keypair(&key.path, || Err("no passphrase".into()))
        .expect("the key");
    let s = git_ops::crypto::signoff_in(
        repo.repository_id().as_deref(),
        &record,
        &keypair,
        &SignerName::new(signer).unwrap(),
        Role::Approver,
        at.parse().unwrap(),
        None,
    )
    .expect("signing");
    record.signoffs_mut().push(s);
    let mut out = text[..span.bytes.start].to_string();
    out.push_str(&yaml::render_record(&record));
    out.push_str(&text[span.bytes.end..]);
    repo.write(&file, &out);
}

#[test]
fn the_server_refuses_an_approval_made_with_a_retired_key_even_back_dated() {
    let team = Team::new();
    let repo = &team.repo;
    let sb = &repo.sb;
    let remote = sb.root.join("remote.git");
    let remote_s = remote.display().to_string();
    let mut c = sb.command("git", &sb.root);
    c.args(["init", "-q", "--bare", &remote_s]);
    run(c).ok();
    run(sb.ops_command(&sb.root, None, &["-C", &remote_s, "hooks", "install"]))
        .ok()
        .says(&["pre-receive"]);
    repo.git(&["remote", "add", "origin", &remote_s]).ok();
    let bob2 = sb.generate_key("bob2");
    rotate_bob(&team, &bob2);
    repo.git(&["push", "-q", "origin", "main"]).ok();

    // Past the second of the rotation (retired_at is inclusive).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let now = chrono::Utc::now();
    let later = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let back_dated = (now - chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for at in [later, back_dated] {
        let id = repo.declare(&team.alice, "Restart web", "SERVICE_RESTART");
        add_signoff_with(repo, &team.bob, "bob", &id, &at);
        repo.write("deploy/web.yaml", &format!("replicas: 3 # {at}\n"));
        repo.git(&["add", "-A"]).ok();
        let date = format!("{} +0000", chrono::Utc::now().timestamp() + 1);
        let msg = format!("Scale web\n\nOps-Id: {id}\n");
        repo.git_env(
            &["commit", "-q", "--no-verify", "-m", &msg],
            &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
        )
        .ok();
        repo.verify().code(1).says(&["wrong-key", "bob"]);
        repo.ops_keyless(&["verify", "--history"]).code(1);
        // Past the local pre-push hook: the server's pre-receive refuses it.
        repo.git(&["push", "-q", "--no-verify", "origin", "main"])
            .failed()
            .says(&["wrong-key", "pre-receive hook declined"]);
        repo.git(&["reset", "-q", "--hard", "origin/main"]).ok();
    }
}
