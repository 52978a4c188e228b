//! The harness of the end-to-end tests: a sandbox per test (a temporary directory with its own
//! HOME, git config and PATH), real git repositories, real ed25519 keys, and processes that are
//! killed, failing the test, if they hang.
//!
//! Every process starts from an empty environment plus exactly the variables set in
//! [`Sandbox::command`], so neither the developer's git config nor their keys can leak in.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The check a test that needs an external tool makes first (skips visibly, fails under CI).
pub use git_ops::evidence::testkit::require_tool;

/// The author and committer date of every commit the tests make (2026-01-15T12:00:00Z).
pub const GIT_DATE: &str = "1768478400 +0000";

/// A process still running after this long is hung; the test fails rather than waiting forever.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A temporary directory holding the HOME, the keys and the repositories of one test.
pub struct Sandbox {
    _tmp: tempfile::TempDir,
    /// The sandbox directory, canonicalised (git prints canonical paths).
    pub root: PathBuf,
    pub home: PathBuf,
    path_env: OsString,
    /// The key git signs commits with (the first key generated): every `git` the sandbox runs
    /// signs its commits with it, as `commits.require_signature: governed` asks.
    commit_key: std::sync::OnceLock<PathBuf>,
}

impl Sandbox {
    pub fn new() -> Arc<Sandbox> {
        let tmp = tempfile::Builder::new()
            .prefix("git-ops-cli-")
            .tempdir()
            .expect("creating the sandbox directory");
        let root = tmp
            .path()
            .canonicalize()
            .expect("canonicalising the sandbox");
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".config")).expect("creating HOME");
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test Operator\n\temail = operator@example.org\n\
             [init]\n\tdefaultBranch = main\n\
             [commit]\n\tgpgSign = false\n\
             [tag]\n\tgpgSign = false\n\
             [advice]\n\tdetachedHead = false\n",
        )
        .expect("writing the sandbox's global git config");
        // `git ops ...` runs `git-ops` from PATH, as it does for users.
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).expect("creating the bin directory");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_git-ops"), bin.join("git-ops"))
            .expect("linking git-ops into the sandbox's PATH");
        let mut path_env = bin.into_os_string();
        if let Some(system) = std::env::var_os("PATH") {
            path_env.push(":");
            path_env.push(system);
        }
        Arc::new(Sandbox {
            _tmp: tmp,
            root,
            home,
            path_env,
            commit_key: std::sync::OnceLock::new(),
        })
    }

    /// `program` in `dir`, with the sandbox's environment and nothing else; no GIT_OPS_KEY.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(dir)
            .env_clear()
            .env("PATH", &self.path_env)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_AUTHOR_DATE", GIT_DATE)
            .env("GIT_COMMITTER_DATE", GIT_DATE)
            .env("TZ", "UTC")
            .env("LANG", "C");
        // Commit signing through the environment, not the global config: git-ops itself would
        // otherwise take `user.signingKey` as the caller's key in every test.
        if let Some(key) = self.commit_key.get() {
            c.env("GIT_CONFIG_COUNT", "3")
                .env("GIT_CONFIG_KEY_0", "gpg.format")
                .env("GIT_CONFIG_VALUE_0", "ssh")
                .env("GIT_CONFIG_KEY_1", "user.signingKey")
                .env("GIT_CONFIG_VALUE_1", key)
                .env("GIT_CONFIG_KEY_2", "commit.gpgSign")
                .env("GIT_CONFIG_VALUE_2", "true");
        }
        c
    }

    /// Stops signing commits with the first key (for tests of unsigned commits).
    pub fn without_commit_signing(&self, c: &mut Command) {
        for v in [
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_VALUE_0",
            "GIT_CONFIG_KEY_1",
            "GIT_CONFIG_VALUE_1",
            "GIT_CONFIG_KEY_2",
            "GIT_CONFIG_VALUE_2",
        ] {
            c.env_remove(v);
        }
    }

    /// `git ops <args>` in `dir`, signing with `key` when given.
    pub fn ops_command(&self, dir: &Path, key: Option<&Key>, args: &[&str]) -> Command {
        let mut c = self.command("git", dir);
        self.without_commit_signing(&mut c);
        c.arg("ops").args(args);
        if let Some(k) = key {
            c.env("GIT_OPS_KEY", &k.path);
        }
        c
    }

    /// A new unencrypted key pair made by `git ops keys generate --out`, in `<root>/keys`.
    pub fn generate_key(&self, name: &str) -> Key {
        let path = self.root.join("keys").join(name);
        let out = path.display().to_string();
        let comment = format!("{name}@example.org");
        run(self.ops_command(
            &self.root,
            None,
            &["keys", "generate", "--out", &out, "--comment", &comment],
        ))
        .ok();
        let _ = self.commit_key.set(path.clone());
        Key { path }
    }

    /// A new directory `<root>/<name>` with `git init` run in it.
    pub fn git_init(self: &Arc<Self>, name: &str) -> Repo {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("creating the repository directory");
        let repo = Repo {
            sb: Arc::clone(self),
            dir,
        };
        repo.git(&["init", "-q"]).ok();
        repo
    }
}

/// A signer's private key file (its public half is next to it, as `<path>.pub`).
#[derive(Clone, Debug)]
pub struct Key {
    pub path: PathBuf,
}

impl Key {
    pub fn pub_path(&self) -> PathBuf {
        PathBuf::from(format!("{}.pub", self.path.display()))
    }

    /// `ssh-ed25519 AAAA...` without the comment.
    pub fn public_key(&self) -> String {
        let text = std::fs::read_to_string(self.pub_path()).expect("reading the public key");
        without_comment(&text)
    }
}

/// The first two fields of an OpenSSH public key line.
pub fn without_comment(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A working tree in a sandbox.
pub struct Repo {
    pub sb: Arc<Sandbox>,
    pub dir: PathBuf,
}

impl Repo {
    pub fn git(&self, args: &[&str]) -> Out {
        let mut c = self.sb.command("git", &self.dir);
        c.args(args);
        run(c)
    }

    /// A clone of this repository in `<root>/<name>` (its `origin`).
    pub fn clone_to(&self, name: &str) -> Repo {
        let dir = self.sb.root.join(name);
        let (src, dst) = (self.dir.display().to_string(), dir.display().to_string());
        self.git(&["clone", "-q", &src, &dst]).ok();
        Repo {
            sb: Arc::clone(&self.sb),
            dir,
        }
    }

    /// `git ops <args>` as the owner of `key`.
    pub fn ops(&self, key: &Key, args: &[&str]) -> Out {
        run(self.sb.ops_command(&self.dir, Some(key), args))
    }

    /// `git ops <args>` with no key in the environment (read-only commands need none).
    pub fn ops_keyless(&self, args: &[&str]) -> Out {
        run(self.sb.ops_command(&self.dir, None, args))
    }

    pub fn verify(&self) -> Out {
        self.ops_keyless(&["verify"])
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap_or_else(|e| panic!("writing {rel}: {e}"));
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]).ok();
        self.git(&["commit", "-q", "-m", message]).ok();
    }

    /// The `repository_id` of the work tree's policy (signoff statements name it), if any.
    pub fn repository_id(&self) -> Option<String> {
        git_ops::model::yaml::parse_policy(&self.read("ops/policy.yaml"))
            .expect("the policy parses")
            .repository_id
    }

    /// Declares an operation as the owner of `key` and returns its id (the only stdout line).
    pub fn declare(&self, key: &Key, name: &str, risk_class: &str) -> String {
        let out = self.ops(key, &new_args(name, risk_class)).ok();
        let id = out.stdout().trim().to_string();
        assert!(is_operation_id(&id), "`git ops new` printed {id:?}\n{out}");
        id
    }

    /// The records `git ops list --format json` shows.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let out = self.ops_keyless(&["list", "--format", "json"]).ok();
        match out.json() {
            serde_json::Value::Array(v) => v,
            other => panic!("list --format json printed {other}"),
        }
    }

    /// The state (`approved`, `pending`, `invalid`) of record `id`.
    pub fn state_of(&self, id: &str) -> String {
        let records = self.records();
        let r = records
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in `git ops list`: {records:?}"));
        r["state"].as_str().expect("state is a string").to_string()
    }

    /// A field of record `id`, from `git ops show --format json`.
    pub fn field(&self, id: &str, name: &str) -> serde_json::Value {
        let out = self
            .ops_keyless(&["show", id, "--format", "json"])
            .ok()
            .json();
        out[name].clone()
    }

    /// `git <args>` with extra environment variables (set after the sandbox's, so they win).
    pub fn git_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.sb.command("git", &self.dir);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        run(c)
    }

    /// The full commit id `rev` names.
    pub fn rev(&self, rev: &str) -> String {
        let spec = format!("{rev}^{{commit}}");
        let out = self.git(&["rev-parse", "--verify", "-q", &spec]).ok();
        out.stdout().trim().to_string()
    }

    /// The paths staged in the index (against HEAD), as `git diff --cached --name-only` lists them.
    pub fn staged(&self) -> Vec<String> {
        let out = self.git(&["diff", "--cached", "--name-only"]).ok();
        out.stdout().lines().map(str::to_string).collect()
    }

    /// Declares an operation of `risk_class` allowing `paths` (and the `web` service), with
    /// `extra` flags for `git ops new`, and returns its id.
    pub fn declare_with(
        &self,
        key: &Key,
        risk_class: &str,
        paths: &[&str],
        extra: &[&str],
    ) -> String {
        let mut args = vec![
            "new",
            "--operation",
            "Change config",
            "--objective",
            "Keep the web tier healthy",
            "--risk-class",
            risk_class,
            "--blast-radius",
            "web pods only",
            "--rollback-strategy",
            "git revert",
            "--allowed-services",
            "web",
            "--allowed-paths",
        ];
        args.extend_from_slice(paths);
        args.extend_from_slice(extra);
        let out = self.ops(key, &args).ok();
        let id = out.stdout().trim().to_string();
        assert!(is_operation_id(&id), "`git ops new` printed {id:?}\n{out}");
        id
    }

    /// Rewrites operation `id` (declared by `signer` with `key`, not yet committed) through
    /// `edit`, and signs it again as requester at `signed_at`, in place in its month file. For
    /// times the command line cannot produce (a window already over, a creation in the future);
    /// the operation's tag, if `git ops new` made one, is deleted since it no longer matches.
    pub fn resign_operation(
        &self,
        key: &Key,
        signer: &str,
        id: &str,
        signed_at: git_ops::model::Timestamp,
        edit: impl FnOnce(&mut git_ops::model::record::Operation),
    ) {
        use git_ops::model::{Record, Role, SignerName, yaml};
        let file = ledger_file_of(id);
        let text = self.read(&file);
        let records = yaml::parse_stream(&text).expect("the ledger file parses");
        let (span, mut record) = records
            .into_iter()
            .find(|(_, r)| r.id().to_string() == id)
            .unwrap_or_else(|| panic!("{id} is not in {file}"));
        let Record::Operation(op) = &mut record else {
            panic!("{id} is not an operation")
        };
        edit(op);
        record.signoffs_mut().clear();
        let keypair = git_ops::store::keys::load_keypair(&key.path, || {
            Err("test keys have no passphrase".to_string())
        })
        .expect("loading the test key");
        let name = SignerName::new(signer).expect("a valid signer name");
        let repo_id = self.repository_id();
        let signoff = git_ops::crypto::signoff_in(
            repo_id.as_deref(),
            &record,
            &keypair,
            &name,
            Role::Requester,
            signed_at,
            None,
        )
        .expect("signing");
        record.signoffs_mut().push(signoff);
        let mut rewritten = text[..span.bytes.start].to_string();
        rewritten.push_str(&yaml::render_record(&record));
        rewritten.push_str(&text[span.bytes.end..]);
        self.write(&file, &rewritten);
        let tag = id.to_ascii_lowercase();
        if self.tag_exists(&tag) {
            self.git(&["tag", "-d", &tag]).ok();
        }
    }

    pub fn tag_exists(&self, tag: &str) -> bool {
        let r = format!("refs/tags/{tag}");
        let out = self.git(&["rev-parse", "-q", "--verify", &r]);
        match out.code {
            Some(0) => true,
            Some(1) => false,
            _ => panic!("{out}"),
        }
    }
}

/// The month file of a record id: `OPS-2026-01-27-011` lives in `ops/ledger/2026-01.yaml`.
pub fn ledger_file_of(id: &str) -> String {
    let (_, rest) = id.split_once('-').expect("an id has a prefix");
    format!("ops/ledger/{}.yaml", &rest[..7])
}

pub fn is_operation_id(s: &str) -> bool {
    let b = s.as_bytes();
    // Three digits, or up to five when drawn at random in a clone with a remote.
    (18..=20).contains(&s.len())
        && s.starts_with("OPS-")
        && [8, 11, 14].iter().all(|&i| b[i] == b'-')
        && b.iter()
            .enumerate()
            .skip(4)
            .all(|(i, c)| [8, 11, 14].contains(&i) || c.is_ascii_digit())
}

/// The arguments of `git ops new` for an operation on the web service.
pub fn new_args<'a>(name: &'a str, risk_class: &'a str) -> Vec<&'a str> {
    vec![
        "new",
        "--operation",
        name,
        "--objective",
        "Keep the web tier healthy",
        "--risk-class",
        risk_class,
        "--blast-radius",
        "web pods only; no schema change",
        "--rollback-strategy",
        "git revert and redeploy",
        "--allowed-paths",
        "deploy/web.yaml",
        "--allowed-services",
        "web",
    ]
}

/// A repository governed by git-ops with two human approvers: alice (who ran `git ops init`)
/// and bob, the policy committed.
pub struct Team {
    pub repo: Repo,
    pub alice: Key,
    pub bob: Key,
}

impl Team {
    pub fn new() -> Team {
        let sb = Sandbox::new();
        let alice = sb.generate_key("alice");
        let bob = sb.generate_key("bob");
        let repo = sb.git_init("repo");
        repo.ops(&alice, &["init", "--name", "alice"]).ok();
        let bob_pub = bob.pub_path().display().to_string();
        repo.ops(
            &alice,
            &["keys", "add", "bob", &bob_pub, "--role", "human,approver"],
        )
        .ok();
        std::fs::create_dir_all(repo.path("deploy")).expect("creating deploy/");
        repo.write("deploy/web.yaml", "replicas: 2\n");
        repo.commit_all("Adopt git-ops");
        Team { repo, alice, bob }
    }

    /// A team and a SERVICE_RESTART operation requested by alice and approved by bob.
    pub fn with_approved_operation() -> (Team, String) {
        let team = Team::new();
        let id = team
            .repo
            .declare(&team.alice, "Restart web", "SERVICE_RESTART");
        team.repo.ops(&team.bob, &["sign", &id]).ok();
        assert_eq!(team.repo.state_of(&id), "approved");
        (team, id)
    }
}

/// What a finished process did.
pub struct Out {
    pub what: String,
    /// None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Out {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Standard output and standard error together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    #[track_caller]
    pub fn ok(self) -> Out {
        self.code(0)
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Out {
        assert_eq!(self.code, Some(expected), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn failed(self) -> Out {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a failure\n{self}"
        );
        self
    }

    /// Asserts that the output (stdout and stderr) contains every one of `needles`.
    #[track_caller]
    pub fn says(self, needles: &[&str]) -> Out {
        let text = self.text();
        for n in needles {
            assert!(text.contains(n), "the output lacks {n:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "$ {}\nexit code: {:?} after {:?}",
            self.what, self.code, self.elapsed
        )?;
        writeln!(f, "--- stdout\n{}", self.stdout())?;
        write!(f, "--- stderr\n{}", self.stderr())
    }
}

/// Runs `cmd` to completion, with no standard input.
pub fn run(cmd: Command) -> Out {
    run_full(cmd, None, DEADLINE)
}

/// Runs `cmd` with `input` on its standard input.
pub fn run_input(cmd: Command, input: &[u8]) -> Out {
    run_full(cmd, Some(input), DEADLINE)
}

/// Runs `cmd`, failing the test if it has not finished within `deadline`.
pub fn run_full(mut cmd: Command, input: Option<&[u8]>, deadline: Duration) -> Out {
    let what = describe(&cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        // A child may exit without reading everything: a broken pipe here is not our failure.
        thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let stdout = reader(child.stdout.take().expect("stdout is piped"));
    let stderr = reader(child.stderr.take().expect("stderr is piped"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}; killed it");
        }
        thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    Out {
        what,
        code: status.code(),
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
        elapsed,
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
