//! The CI recipe of docs/CI.md, run as CI runs it: the push check script judges what a push did
//! to a ref, new branches and tags against the default branch (an earlier recipe skipped them).

use crate::harness::{Out, Repo, Team, run};

const ZERO: &str = "0000000000000000000000000000000000000000";

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci/verify-push.sh")
}

fn push_check(repo: &Repo, before: &str, after: &str) -> Out {
    let mut c = repo.sb.command("sh", &repo.dir);
    c.arg(script()).args([before, after, "main"]);
    run(c)
}

#[test]
fn the_documented_script_is_the_one_that_is_tested() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/CI.md"),
    )
    .expect("reading docs/CI.md");
    let script = std::fs::read_to_string(script()).expect("reading the script");
    assert!(
        doc.contains(script.trim_end()),
        "docs/CI.md does not show docs/ci/verify-push.sh as it is"
    );
    assert!(doc.contains("sh ci/git-ops-verify-push.sh"));
}

#[test]
fn new_refs_are_judged_against_the_default_branch_and_updates_by_their_net_change() {
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let main = repo.rev("main");

    // A new branch carrying an uncovered governed change: refused (it used to pass, unchecked).
    repo.git(&["checkout", "-q", "-b", "evil"]).ok();
    repo.write("deploy/web.yaml", "replicas: 9\n");
    repo.git(&["commit", "-qam", "sneak", "--no-verify"]).ok();
    let evil = repo.rev("HEAD");
    push_check(repo, ZERO, &evil)
        .code(1)
        .says(&["deploy/web.yaml", "uncovered"]);
    // The same commit under a new tag.
    repo.git(&["tag", "v-evil"]).ok();
    push_check(repo, ZERO, &evil).code(1);

    // A new branch with a covered change passes.
    repo.git(&["checkout", "-q", "-b", "good", &main]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.ops(&team.alice, &["use", &id]).ok();
    repo.commit_all("Scale web to 3");
    repo.ops_keyless(&["use", "--clear"]).ok();
    let good = repo.rev("HEAD");
    push_check(repo, ZERO, &good).ok();

    // An update of main by a merge whose first parent is older than main: refused.
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.git(&["merge", "-q", "--ff-only", "good"]).ok();
    repo.git(&["checkout", "-q", "--detach", &main]).ok();
    repo.git(&[
        "merge",
        "-q",
        "--no-verify",
        "-s",
        "ours",
        "-m",
        "back",
        "main",
    ])
    .ok();
    let back = repo.rev("HEAD");
    push_check(repo, &good, &back)
        .code(1)
        .says(&["deploy/web.yaml", "net change"]);
    push_check(repo, &main, &good).ok();

    // A deletion is the server's to judge; the script says so and passes.
    push_check(repo, &good, ZERO).ok().says(&["deleted"]);
}
