//! The whole story on one repository: declare, refuse a self-approval, approve, tag, and check
//! every signature with stock git and stock OpenSSH, without trusting git-ops.

use crate::harness::{
    Out, Repo, Team, is_operation_id, ledger_file_of, new_args, require_tool, run_input,
};

/// `ssh-keygen -Y verify` of `statement` against the signature of `signer`'s signoff.
fn ssh_keygen_verify(
    repo: &Repo,
    allowed_signers: &str,
    namespace: &str,
    signer: &str,
    sig_file: &str,
    statement: &[u8],
) -> Out {
    let mut c = repo.sb.command("ssh-keygen", &repo.dir);
    c.args([
        "-Y",
        "verify",
        "-n",
        namespace,
        "-f",
        allowed_signers,
        "-I",
        signer,
        "-s",
        sig_file,
    ]);
    run_input(c, statement)
}

#[test]
fn declare_approve_tag_and_cross_check_with_stock_git_and_ssh_keygen() {
    if !require_tool("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let team = Team::new();
    let repo = &team.repo;

    let out = repo
        .ops(&team.alice, &new_args("Restart web", "SERVICE_RESTART"))
        .ok();
    let id = out.stdout().trim().to_string();
    assert!(is_operation_id(&id), "stdout must be exactly the id\n{out}");
    assert_eq!(
        out.stdout(),
        format!("{id}\n"),
        "stdout must be the id alone"
    );
    assert!(repo.path(&ledger_file_of(&id)).is_file());
    let listed = repo.records();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(listed[0]["approvals"], 0);
    assert_eq!(
        listed[0]["required"], 1,
        "SERVICE_RESTART needs one approval"
    );
    let tag = id.to_ascii_lowercase();
    assert!(!repo.tag_exists(&tag), "a pending operation was tagged");

    // SERVICE_RESTART has no self_approval: alice cannot approve her own request.
    repo.ops(&team.alice, &["sign", &id])
        .code(2)
        .says(&["you requested"]);
    assert_eq!(repo.state_of(&id), "pending");

    repo.ops(&team.bob, &["sign", &id])
        .ok()
        .says(&["approved (1 of 1 approvals)"]);
    assert_eq!(repo.state_of(&id), "approved");
    assert!(repo.tag_exists(&tag), "no tag {tag} after approval");
    let kind = repo.git(&["cat-file", "-t", &tag]).ok();
    assert_eq!(kind.stdout().trim(), "tag", "{tag} is not an annotated tag");
    let message = repo
        .git(&["tag", "-l", "--format=%(contents:subject)", &tag])
        .ok();
    assert_eq!(message.stdout().trim(), format!("{id}: Restart web"));

    // Stock git checks the tag's signature (namespace "git").
    let allowed = repo.sb.root.join("allowed_signers").display().to_string();
    repo.ops_keyless(&["keys", "allowed-signers", "--out", &allowed])
        .ok();
    repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("gpg.ssh.allowedSignersFile={allowed}"),
        "tag",
        "-v",
        &tag,
    ])
    .ok()
    .says(&["Good \"git\" signature for bob"]);

    // Stock ssh-keygen checks every signoff (namespace "git-ops") over the exact statement bytes.
    for signer in ["alice", "bob"] {
        let statement = repo
            .ops_keyless(&["show", &id, "--statement", "--by", signer])
            .ok()
            .stdout;
        let text = String::from_utf8_lossy(&statement).into_owned();
        assert!(
            text.starts_with('{') && text.contains("\"type\":\"git-ops/signoff/v1\""),
            "{text}"
        );
        assert!(text.contains(&format!("\"record\":\"{id}\"")), "{text}");
        let sig = repo
            .ops_keyless(&["show", &id, "--statement", "--by", signer, "--sig"])
            .ok()
            .stdout;
        let sig_file = repo.sb.root.join(format!("{signer}.sig"));
        std::fs::write(&sig_file, &sig).unwrap();
        let sig_file = sig_file.display().to_string();

        ssh_keygen_verify(repo, &allowed, "git-ops", signer, &sig_file, &statement)
            .ok()
            .says(&[&format!("Good \"git-ops\" signature for {signer}")]);

        // One byte more, a changed role, or another namespace: not a valid signoff.
        let mut longer = statement.clone();
        longer.push(b'\n');
        ssh_keygen_verify(repo, &allowed, "git-ops", signer, &sig_file, &longer).failed();
        let swapped = text.replace("\"role\":\"requester\"", "\"role\":\"approver\"");
        let swapped = if swapped == text {
            text.replace("\"role\":\"approver\"", "\"role\":\"requester\"")
        } else {
            swapped
        };
        assert_ne!(swapped, text);
        ssh_keygen_verify(
            repo,
            &allowed,
            "git-ops",
            signer,
            &sig_file,
            swapped.as_bytes(),
        )
        .failed();
        ssh_keygen_verify(repo, &allowed, "git", signer, &sig_file, &statement).failed();
        // The signature is bound to its signer.
        let other = if signer == "alice" { "bob" } else { "alice" };
        ssh_keygen_verify(repo, &allowed, "git-ops", other, &sig_file, &statement).failed();
    }

    repo.verify()
        .ok()
        .says(&["1 records (1 approved, 0 pending, 0 invalid), 1 tags: verified"]);
    let report = repo
        .ops_keyless(&["verify", "--format", "json"])
        .ok()
        .json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["tags"], 1, "{report}");

    // The tag also survives a stock `git fsck` (a well-formed tag object).
    repo.git(&["fsck", "--strict", "--no-dangling"]).ok();
}
