//! A commit object's raw bytes, for checking git's own commit signature (the `gpgsig` header
//! signs every other byte of the object).

use gix::ObjectId;

use super::{Error, Repo, Result};

impl Repo {
    /// The bytes of commit `id` as git stores them (headers, blank line, message).
    pub fn raw_commit(&self, id: ObjectId) -> Result<Vec<u8>> {
        let obj = self
            .git
            .find_object(id)
            .map_err(|e| self.missing_commit(id, e))?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(Error::git(
                format!("{id} is not a commit"),
                std::io::Error::other(format!("a {} object", obj.kind)),
            ));
        }
        Ok(obj.data.clone())
    }
}
