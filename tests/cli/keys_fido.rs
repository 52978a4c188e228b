//! FIDO keys (`sk-ssh-ed25519@openssh.com`): a signature made by a real token verifies with
//! stock `ssh-keygen -Y verify` and in-process; a token's key handle is handed to
//! `ssh-keygen -Y sign`, and without the token the refusal says so.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Key, Sandbox, new_args, require_tool, run_input};

/// The known-good vector of the ssh-key crate's tests, made with a real token by stock OpenSSH
/// (message `testing`, namespace `example`).
const SK_PUBLIC: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAINSoElFleH+nN83FoLqqepJjN+y7Gs5lrn7qXjBqQZyuAAAABHNzaDo= user@example.com";
const SK_SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAg1KgSUW
V4f6c3zcWguqp6kmM37LsazmWufupeMGpBnK4AAAAEc3NoOgAAAAdleGFtcGxlAAAAAAAA
AAZzaGE1MTIAAABnAAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAQC9WcLb5NG
XRdCOHinQIS/MxdnAx7SQMYnyOt5q4+huTWh/Zk/UvWhP+wXl/ikNPlDpgliRq6o3VyKqS
LLo9lQYBAAAACQ==
-----END SSH SIGNATURE-----
";

#[test]
fn a_real_tokens_signature_verifies_with_stock_ssh_keygen_and_with_us() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    let signers = sb.root.join("allowed_signers");
    let sig = sb.root.join("msg.sig");
    std::fs::write(
        &signers,
        format!("user@example.com namespaces=\"example\" {SK_PUBLIC}\n"),
    )
    .unwrap();
    std::fs::write(&sig, SK_SIGNATURE).unwrap();
    let verify = |msg: &[u8]| {
        let mut c = sb.command("ssh-keygen", &sb.root);
        c.args([
            "-Y",
            "verify",
            "-n",
            "example",
            "-I",
            "user@example.com",
            "-f",
        ])
        .arg(&signers)
        .arg("-s")
        .arg(&sig);
        run_input(c, msg)
    };
    verify(b"testing").ok();
    verify(b"testinG").failed();
    // The same verdicts in-process.
    let key = git_ops::model::PublicKeyLine::new(SK_PUBLIC).expect("an sk key is accepted");
    git_ops::crypto::verify(&key, "example", b"testing", SK_SIGNATURE).expect("verifies");
    assert!(git_ops::crypto::verify(&key, "example", b"testinG", SK_SIGNATURE).is_err());
}

#[test]
fn a_security_key_is_handed_to_ssh_keygen_and_a_missing_token_is_named() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let sb = Sandbox::new();
    // A key handle file as `ssh-keygen -t ed25519-sk` writes it (the handle is only meaningful
    // to the token that made it; there is no token here).
    let public = ssh_key::PublicKey::from_openssh(SK_PUBLIC).unwrap();
    let sk_public = public.key_data().sk_ed25519().unwrap().clone();
    let pair = ssh_key::private::SkEd25519::new(sk_public, 0x01, vec![7u8; 64]).unwrap();
    let private = ssh_key::PrivateKey::new(
        ssh_key::private::KeypairData::SkEd25519(pair),
        "alice@example.org",
    )
    .unwrap();
    let path = sb.root.join("id_ed25519_sk");
    std::fs::write(
        &path,
        private
            .to_openssh(ssh_key::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        sb.root.join("id_ed25519_sk.pub"),
        format!("{}\n", public.to_openssh().unwrap()),
    )
    .unwrap();
    let key = Key { path };
    let repo = sb.git_init("repo");
    repo.ops(&key, &["init", "--name", "alice"]).ok();
    assert!(
        repo.read("ops/policy.yaml")
            .contains("sk-ssh-ed25519@openssh.com"),
        "the security key is alice's key in the policy"
    );
    repo.commit_all("Adopt git-ops");
    let out = repo
        .ops(&key, &new_args("Restart", "READ_ONLY"))
        .code(2)
        .says(&["ssh-keygen -Y sign with the security key", "token"]);
    assert!(!out.stderr().contains("panicked"), "{out}");
    assert!(
        repo.records().is_empty(),
        "a failed signature wrote a record"
    );
}
