//! A small ssh-agent client (draft-miller-ssh-agent): list the agent's keys and ask it to sign.
//! Only the two requests git-ops needs; the private key never leaves the agent.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SSH_AGENT_FAILURE: u8 = 5;
const SSH2_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH2_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH2_AGENTC_SIGN_REQUEST: u8 = 13;
const SSH2_AGENT_SIGN_RESPONSE: u8 = 14;
/// An agent's reply is never near this; a larger length is a broken or hostile socket.
const MAX_REPLY: usize = 256 * 1024;

/// An agent at a socket (`$SSH_AUTH_SOCK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub socket: PathBuf,
}

/// A key the agent holds: its public key blob (SSH wire form) and comment.
#[derive(Debug, Clone)]
pub struct Identity {
    pub blob: Vec<u8>,
    pub comment: String,
}

impl Agent {
    /// The agent `$SSH_AUTH_SOCK` names, if it is set.
    pub fn from_env() -> Option<Agent> {
        std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(|s| Agent {
                socket: PathBuf::from(s),
            })
    }

    fn request(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let mut s = connect(&self.socket)?;
        let mut msg = Vec::with_capacity(body.len() + 4);
        msg.extend((body.len() as u32).to_be_bytes());
        msg.extend(body);
        s.write_all(&msg)
            .map_err(|e| format!("writing to the agent: {e}"))?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len)
            .map_err(|e| format!("reading the agent's reply: {e}"))?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_REPLY {
            return Err(format!("the agent sent a reply of {len} bytes"));
        }
        let mut reply = vec![0u8; len];
        s.read_exact(&mut reply)
            .map_err(|e| format!("reading the agent's reply: {e}"))?;
        Ok(reply)
    }

    /// The keys the agent holds.
    pub fn identities(&self) -> Result<Vec<Identity>, String> {
        let reply = self.request(&[SSH2_AGENTC_REQUEST_IDENTITIES])?;
        let mut r = Wire(&reply);
        match r.byte()? {
            SSH2_AGENT_IDENTITIES_ANSWER => {}
            SSH_AGENT_FAILURE => return Err("the agent refused to list its keys".into()),
            t => return Err(format!("unexpected agent reply type {t}")),
        }
        let n = r.u32()? as usize;
        let mut out = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let blob = r.string()?.to_vec();
            let comment = String::from_utf8_lossy(r.string()?).into_owned();
            out.push(Identity { blob, comment });
        }
        Ok(out)
    }

    /// Asks the agent to sign `data` with the key whose public blob is `blob`; returns the
    /// signature in SSH wire form (algorithm name and signature bytes).
    pub fn sign(&self, blob: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        let mut body = vec![SSH2_AGENTC_SIGN_REQUEST];
        put_string(&mut body, blob);
        put_string(&mut body, data);
        body.extend(0u32.to_be_bytes());
        let reply = self.request(&body)?;
        let mut r = Wire(&reply);
        match r.byte()? {
            SSH2_AGENT_SIGN_RESPONSE => Ok(r.string()?.to_vec()),
            SSH_AGENT_FAILURE => Err(
                "the agent refused to sign (the key may need confirmation or a touch, or was removed)"
                    .into(),
            ),
            t => Err(format!("unexpected agent reply type {t}")),
        }
    }
}

fn connect(socket: &Path) -> Result<UnixStream, String> {
    let s = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot reach ssh-agent at {} (SSH_AUTH_SOCK): {e}",
            socket.display()
        )
    })?;
    // A touch-to-sign key waits for a person; a dead agent must not hang a hook for ever.
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    Ok(s)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend((s.len() as u32).to_be_bytes());
    out.extend(s);
}

/// A reader of SSH wire data that fails (never panics) on short input.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the agent's reply is cut short".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_hostile_replies_are_errors_not_panics() {
        let mut w = Wire(&[0, 0, 0, 9, 1, 2]);
        assert!(w.string().is_err());
        let mut w = Wire(&[]);
        assert!(w.byte().is_err());
        let mut w = Wire(&[0, 0, 0, 2, 7, 8, 3]);
        assert_eq!(w.string().unwrap(), &[7, 8]);
        assert_eq!(w.byte().unwrap(), 3);
    }

    #[test]
    fn an_absent_socket_is_named() {
        let a = Agent {
            socket: PathBuf::from("/nonexistent/agent.sock"),
        };
        let e = a.identities().unwrap_err();
        assert!(e.contains("/nonexistent/agent.sock"), "{e}");
        assert!(e.contains("SSH_AUTH_SOCK"), "{e}");
    }
}
