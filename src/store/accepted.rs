//! The server's memory of governed branches: the last tip the `pre-receive` hook accepted for
//! each, kept in the repository's own directory where only the hook writes it, so a branch that
//! is deleted and created again cannot come back behind what was accepted (DESIGN §3.1).

use std::collections::BTreeMap;
use std::io::ErrorKind;

use gix::ObjectId;

use super::{Error, Repo, Result, fsutil};

/// The file, relative to the (common) git directory: one `<commit> <refname>` line a branch.
pub const ACCEPTED_FILE: &str = "git-ops/accepted-refs";

/// Every governed branch's last accepted tip. A file that does not parse is an error: the hook
/// then rejects (fail closed) and says which file to look at.
pub fn read(repo: &Repo) -> Result<BTreeMap<String, ObjectId>> {
    let path = repo.common_dir().join(ACCEPTED_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut out = BTreeMap::new();
    for (n, line) in (1..).zip(text.lines()) {
        let parsed = line
            .split_once(' ')
            .and_then(|(id, name)| Some((ObjectId::from_hex(id.as_bytes()).ok()?, name)));
        let Some((id, name)) = parsed else {
            return Err(Error::Usage(format!(
                "{}:{n}: not `<commit> <refname>`; the server's record of accepted branches is damaged",
                path.display()
            )));
        };
        out.insert(name.to_string(), id);
    }
    Ok(out)
}

/// Records `tips` (refname → commit) as accepted, keeping the other branches' entries.
pub fn record(repo: &Repo, tips: &[(String, ObjectId)]) -> Result<()> {
    if tips.is_empty() {
        return Ok(());
    }
    let mut all = read(repo)?;
    for (name, id) in tips {
        all.insert(name.clone(), *id);
    }
    let text: String = all
        .iter()
        .map(|(name, id)| format!("{id} {name}\n"))
        .collect();
    fsutil::write_atomic(
        &repo.common_dir().join(ACCEPTED_FILE),
        text.as_bytes(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_tips_round_trip_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::process::Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(dir.path())
            .status()
            .unwrap();
        let repo = Repo::discover(dir.path()).unwrap();
        assert!(read(&repo).unwrap().is_empty());
        let a = ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap();
        let b = ObjectId::from_hex(b"2222222222222222222222222222222222222222").unwrap();
        record(&repo, &[("refs/heads/main".into(), a)]).unwrap();
        record(&repo, &[("refs/heads/dev".into(), b)]).unwrap();
        record(&repo, &[("refs/heads/main".into(), b)]).unwrap();
        let all = read(&repo).unwrap();
        assert_eq!(all.get("refs/heads/main"), Some(&b));
        assert_eq!(all.get("refs/heads/dev"), Some(&b));
        std::fs::write(dir.path().join(ACCEPTED_FILE), "nonsense\n").unwrap();
        assert!(read(&repo).unwrap_err().to_string().contains("damaged"));
    }
}
