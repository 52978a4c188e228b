//! `git ops demo [DIR]`: a throwaway repository and the whole story, told with real commands
//! (this binary through `git ops`, git itself, and ssh-keygen when it is installed). The demo is
//! a script of real commands, so it spawns processes and writes files itself; what it shows goes
//! to the writer it is given.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory asked for holds files already.
    #[error("{} is not empty; the demo needs a fresh directory", .0.display())]
    NotEmpty(PathBuf),
    #[error("finding the git-ops binary")]
    NoBinary(#[source] io::Error),
    #[error("running {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// A step did not go as the story says it does.
    #[error("{0}")]
    Step(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The exit code of a demo that fails with this error: a directory in use is a usage problem
    /// (2); anything else is internal trouble (3).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotEmpty(_) => 2,
            _ => 3,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

struct Demo<'o> {
    out: &'o mut dyn Write,
    root: PathBuf,
    repo: PathBuf,
    path_env: String,
    step: usize,
}

impl Demo<'_> {
    fn command(&self, program: &str, key: Option<&str>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.repo)
            .env_clear()
            .env("PATH", &self.path_env)
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("home/.config"))
            .env("XDG_STATE_HOME", self.root.join("home/.local/state"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.root.join("home/.gitconfig"))
            .env("LANG", "C")
            .env("TZ", "UTC");
        if let Some(k) = key {
            let path = self.root.join("keys").join(k);
            // Each person's commits carry git's SSH signature by their own key, as
            // `commits.require_signature: governed` asks.
            c.env("GIT_OPS_KEY", &path)
                .env("GIT_CONFIG_COUNT", "3")
                .env("GIT_CONFIG_KEY_0", "gpg.format")
                .env("GIT_CONFIG_VALUE_0", "ssh")
                .env("GIT_CONFIG_KEY_1", "user.signingKey")
                .env("GIT_CONFIG_VALUE_1", &path)
                .env("GIT_CONFIG_KEY_2", "commit.gpgSign")
                .env("GIT_CONFIG_VALUE_2", "true");
        }
        c
    }

    fn title(&mut self, text: &str) -> Result<()> {
        self.step += 1;
        writeln!(self.out, "\n== {}. {text}", self.step)?;
        Ok(())
    }

    /// Runs `args` as `who`, shows it and its output, and checks its exit code.
    fn run(&mut self, who: Option<&str>, args: &[&str], expect: i32) -> Result<String> {
        self.run_with(who, args, expect, None)
    }

    fn run_with(
        &mut self,
        who: Option<&str>,
        args: &[&str],
        expect: i32,
        stdin: Option<&Path>,
    ) -> Result<String> {
        let shown = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let prefix = who.map(|w| format!("({w}) ")).unwrap_or_default();
        let redirect = stdin
            .map(|p| format!(" < {}", p.display()))
            .unwrap_or_default();
        writeln!(self.out, "{prefix}$ {shown}{redirect}")?;
        let mut c = self.command(args[0], who);
        c.args(&args[1..]);
        if let Some(p) = stdin {
            c.stdin(std::fs::File::open(p)?);
        } else {
            c.stdin(Stdio::null());
        }
        let out = c.output().map_err(|source| Error::Spawn {
            program: args[0].to_string(),
            source,
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for l in text.lines() {
            writeln!(self.out, "    {l}")?;
        }
        let code = out.status.code().unwrap_or(-1);
        if code != expect {
            return Err(Error::Step(format!(
                "`{shown}` exited with {code}, the demo expected {expect}"
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Builds the demo in `target` (which must not exist, or be empty; default: a new temporary
/// directory, kept afterwards) and tells the story on `out`. Returns where the demo is.
pub fn run(target: Option<&Path>, out: &mut dyn Write) -> Result<PathBuf> {
    let root = match target {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                return Err(Error::NotEmpty(d.to_path_buf()));
            }
            std::fs::create_dir_all(d)?;
            d.canonicalize()?
        }
        None => tempfile::Builder::new()
            .prefix("git-ops-demo-")
            .tempdir()?
            .keep(),
    };
    // `git ops` finds this very binary through PATH.
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin)?;
    let exe = std::env::current_exe().map_err(Error::NoBinary)?;
    std::os::unix::fs::symlink(&exe, bin.join("git-ops"))?;
    let path_env = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::fs::create_dir_all(root.join("home"))?;
    std::fs::create_dir_all(root.join("keys"))?;
    let mut d = Demo {
        out,
        repo: root.join("repo"),
        root: root.clone(),
        path_env,
        step: 0,
    };
    writeln!(d.out, "git-ops demo in {}", root.display())?;
    story(&mut d)?;
    writeln!(
        d.out,
        "\nThe demo stays in {} for you to explore (the repository is repo/, the keys keys/).",
        root.display()
    )?;
    d.out.flush()?;
    Ok(root)
}

fn story(d: &mut Demo<'_>) -> Result<()> {
    std::fs::create_dir_all(&d.repo)?;
    d.title("A repository with a deploy config")?;
    d.run(None, &["git", "init", "-q", "-b", "main"], 0)?;
    d.run(None, &["git", "config", "user.name", "Alice Operator"], 0)?;
    d.run(
        None,
        &["git", "config", "user.email", "alice@example.org"],
        0,
    )?;
    std::fs::create_dir_all(d.repo.join("deploy"))?;
    std::fs::write(d.repo.join("deploy/web.yaml"), "replicas: 2\n")?;

    d.title(
        "Three ed25519 keys (OpenSSH format, private key mode 0600): two people and a deploy bot",
    )?;
    let keys = d.root.join("keys");
    let key = |n: &str| keys.join(n).display().to_string();
    for (name, comment) in [
        ("alice", "alice@example.org"),
        ("bob", "bob@example.org"),
        ("bot", "deploy-bot@ci"),
    ] {
        d.run(
            None,
            &[
                "git",
                "ops",
                "keys",
                "generate",
                "--out",
                &key(name),
                "--comment",
                comment,
            ],
            0,
        )?;
    }

    d.title("Alice adopts git-ops: a policy with her as first approver, Bob, and the bot; hooks installed")?;
    d.run(Some("alice"), &["git", "ops", "init", "--name", "alice"], 0)?;
    d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "keys",
            "add",
            "bob",
            &format!("{}.pub", key("bob")),
            "--role",
            "human,approver",
        ],
        0,
    )?;
    d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "keys",
            "add",
            "deploy-bot",
            &format!("{}.pub", key("bot")),
            "--role",
            "automation",
        ],
        0,
    )?;
    d.run(Some("alice"), &["git", "ops", "keys", "list"], 0)?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(None, &["git", "commit", "-q", "-m", "Adopt git-ops"], 0)?;

    d.title(
        "Alice declares an operation: the seven fields of the Ops Governor, signed as requester",
    )?;
    let out = d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "new",
            "--operation",
            "Scale web to 3 replicas",
            "--objective",
            "Absorb the Monday traffic peak",
            "--risk-class",
            "SERVICE_RESTART",
            "--blast-radius",
            "web pods only; no schema change",
            "--rollback-strategy",
            "git revert and redeploy with 2 replicas",
            "--allowed-paths",
            "deploy/web.yaml",
            "--allowed-services",
            "web",
            "--environment",
            "prod",
        ],
        0,
    )?;
    let id = out.trim().to_string();
    d.run(Some("alice"), &["git", "ops", "list"], 0)?;

    d.title("The hooks refuse the change while the operation is only pending")?;
    std::fs::write(d.repo.join("deploy/web.yaml"), "replicas: 3\n")?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(Some("alice"), &["git", "ops", "use", &id], 0)?;
    d.run(
        Some("alice"),
        &["git", "commit", "-q", "-m", "Scale web to 3"],
        1,
    )?;

    d.title("Bob approves it: the threshold is reached, and a signed tag is created")?;
    d.run(Some("bob"), &["git", "ops", "sign", &id], 0)?;
    d.run(
        Some("bob"),
        &["git", "ops", "show", &id, "--format", "seed"],
        0,
    )?;
    let tag = id.to_ascii_lowercase();

    d.title("Now the same commit goes through, carrying the Ops-Id trailer")?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(
        Some("alice"),
        &["git", "commit", "-q", "-m", "Scale web to 3"],
        0,
    )?;
    d.run(None, &["git", "log", "-1", "--format=%B"], 0)?;
    d.run(Some("alice"), &["git", "ops", "use", "--clear"], 0)?;

    d.title("Anyone can check the tag with stock git, and every signoff with stock ssh-keygen")?;
    let allowed = d.root.join("allowed_signers").display().to_string();
    d.run(
        None,
        &["git", "ops", "keys", "allowed-signers", "--out", &allowed],
        0,
    )?;
    d.run(
        None,
        &[
            "git",
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={allowed}"),
            "tag",
            "-v",
            &tag,
        ],
        0,
    )?;
    if Command::new("ssh-keygen").arg("-?").output().is_ok() {
        let stmt = d.root.join("statement.json");
        let sig = d.root.join("bob.sig");
        let s = d
            .command("git", None)
            .args(["ops", "show", &id, "--statement", "--by", "bob"])
            .output()?;
        std::fs::write(&stmt, &s.stdout)?;
        let s = d
            .command("git", None)
            .args(["ops", "show", &id, "--statement", "--by", "bob", "--sig"])
            .output()?;
        std::fs::write(&sig, &s.stdout)?;
        writeln!(
            d.out,
            "$ git ops show {id} --statement --by bob > {}",
            stmt.display()
        )?;
        writeln!(
            d.out,
            "$ git ops show {id} --statement --by bob --sig > {}",
            sig.display()
        )?;
        d.run_with(
            None,
            &[
                "ssh-keygen",
                "-Y",
                "verify",
                "-n",
                "git-ops",
                "-f",
                &allowed,
                "-I",
                "bob",
                "-s",
                &sig.display().to_string(),
            ],
            0,
            Some(&stmt),
        )?;
    } else {
        writeln!(
            d.out,
            "(ssh-keygen is not installed: skipping the OpenSSH cross-check)"
        )?;
    }

    d.title(
        "Alice grants the deploy bot two hours of web deploys to prod; Bob co-signs the grant",
    )?;
    let out = d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "grant",
            "create",
            "--grantee",
            "deploy-bot",
            "--risk-classes",
            "SERVICE_RESTART",
            "--paths",
            "deploy/",
            "--services",
            "web",
            "--environments",
            "prod",
            "--expires-in-hours",
            "2",
            "--reason",
            "release train",
        ],
        0,
    )?;
    let grant = out.trim().to_string();
    d.run(Some("bob"), &["git", "ops", "sign", &grant], 0)?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(
        None,
        &[
            "git",
            "commit",
            "-q",
            "-m",
            "Grant the deploy bot a release window",
        ],
        0,
    )?;
    d.run(Some("alice"), &["git", "ops", "grant", "list"], 0)?;

    d.title("The bot acts inside its grant: declares, approves under the grant, commits")?;
    let decl = |name: &str, path: &str, service: &str| -> Vec<String> {
        [
            "git",
            "ops",
            "new",
            "--operation",
            name,
            "--objective",
            "Roll the new web image",
            "--risk-class",
            "SERVICE_RESTART",
            "--blast-radius",
            "web pods",
            "--rollback-strategy",
            "git revert",
            "--allowed-paths",
            path,
            "--allowed-services",
            service,
            "--environment",
            "prod",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = decl("Roll web image", "deploy/web.yaml", "web");
    let out = d.run(
        Some("bot"),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        0,
    )?;
    let bot_op = out.trim().to_string();
    d.run(
        Some("bot"),
        &["git", "ops", "sign", &bot_op, "--grant", &grant],
        0,
    )?;
    std::fs::write(
        d.repo.join("deploy/web.yaml"),
        "replicas: 3\nimage: web:2.1\n",
    )?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(Some("bot"), &["git", "ops", "use", &bot_op], 0)?;
    d.run(
        Some("bot"),
        &["git", "commit", "-q", "-m", "Roll web image 2.1"],
        0,
    )?;
    d.run(Some("bot"), &["git", "ops", "use", "--clear"], 0)?;

    d.title("Outside its grant the bot is refused (the database is not in scope)")?;
    let args = decl("Restart the database", "deploy/db.yaml", "db");
    let out = d.run(
        Some("bot"),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        0,
    )?;
    let db_op = out.trim().to_string();
    d.run(
        Some("bot"),
        &["git", "ops", "sign", &db_op, "--grant", &grant],
        2,
    )?;

    d.title("Alice halts automation: the grant is suspended, and the bot cannot resume it")?;
    d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "halt",
            "--reason",
            "incident INC-42: freeze deploys",
        ],
        0,
    )?;
    let args = decl("Roll web image again", "deploy/web.yaml", "web");
    let out = d.run(
        Some("bot"),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        0,
    )?;
    let halted_op = out.trim().to_string();
    d.run(
        Some("bot"),
        &["git", "ops", "sign", &halted_op, "--grant", &grant],
        2,
    )?;
    d.run(Some("bot"), &["git", "ops", "resume"], 2)?;
    d.run(Some("alice"), &["git", "ops", "status"], 0)?;
    d.run(
        Some("alice"),
        &["git", "ops", "resume", "--reason", "incident closed"],
        0,
    )?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(
        None,
        &[
            "git",
            "commit",
            "-q",
            "-m",
            "Record the halt and the resume",
        ],
        0,
    )?;
    d.run(None, &["git", "ops", "verify"], 0)?;

    d.title("Alice closes her operation with evidence: a proof file and a live metrics snapshot")?;
    let metrics = serve_metrics()?;
    let proof = d.root.join("rollout-proof.txt");
    std::fs::write(
        &proof,
        "kubectl rollout status deploy/web: successfully rolled out\n",
    )?;
    let proof = proof.display().to_string();
    d.run(
        Some("alice"),
        &[
            "git",
            "ops",
            "close",
            &id,
            "--outcome",
            "SUCCESS",
            "--proof-path",
            &proof,
            "--metrics-url",
            &metrics,
            "--metrics-grep",
            "^web_",
        ],
        0,
    )?;
    d.run(Some("alice"), &["git", "ops", "report", &id], 0)?;

    d.title("The auto-ledger records a read-only check in one step, idempotently")?;
    let check = [
        "git",
        "ops",
        "record",
        "--operation-id",
        &id.replace("-001", "-100"),
        "--operation",
        "Post-deploy readiness check",
        "--objective",
        "Prove web is healthy after the rollout",
        "--risk-class",
        "READ_ONLY",
        "--blast-radius",
        "none (read-only)",
        "--changes-summary",
        "readiness verified",
        "--metrics-url",
        &metrics,
        "--metrics-grep",
        "^web_up",
    ];
    d.run(Some("alice"), &check, 0)?;
    d.run(Some("alice"), &check, 0)?;
    d.run(
        Some("alice"),
        &["git", "ops", "changelog", "--out", "docs/OPS_CHANGELOG.md"],
        0,
    )?;
    d.run(None, &["git", "add", "-A"], 0)?;
    d.run(
        None,
        &[
            "git",
            "commit",
            "-q",
            "-m",
            "Close the scale-up with evidence; changelog",
        ],
        0,
    )?;

    d.title("--no-verify skips the local hooks, but not the server's pre-receive hook")?;
    let remote = d.root.join("remote.git").display().to_string();
    d.run(None, &["git", "init", "-q", "--bare", &remote], 0)?;
    d.run(None, &["git", "ops", "-C", &remote, "hooks", "install"], 0)?;
    d.run(None, &["git", "push", "-q", &remote, "main"], 0)?;
    std::fs::write(d.repo.join("deploy/web.yaml"), "replicas: 9\n")?;
    d.run(
        None,
        &[
            "git",
            "commit",
            "-q",
            "--no-verify",
            "-am",
            "Sneak in 9 replicas",
        ],
        0,
    )?;
    d.run(
        None,
        &["git", "push", "-q", "--no-verify", &remote, "main"],
        1,
    )?;
    d.run(None, &["git", "reset", "-q", "--hard", "HEAD~1"], 0)?;

    d.title("Someone quietly edits the approved record: verify catches it")?;
    let month = &id[4..11];
    let ledger = d.repo.join(format!("ops/ledger/{month}.yaml"));
    let original = std::fs::read_to_string(&ledger)?;
    let tampered = original.replace("web pods only; no schema change", "web pods only");
    if tampered == original {
        return Err(Error::Step(
            "the demo could not find the text to tamper with".into(),
        ));
    }
    std::fs::write(&ledger, &tampered)?;
    writeln!(
        d.out,
        "$ sed -i 's/web pods only; no schema change/web pods only/' ops/ledger/{month}.yaml"
    )?;
    d.run(None, &["git", "ops", "verify"], 1)?;
    std::fs::write(&ledger, &original)?;
    writeln!(d.out, "$ git checkout ops/ledger/{month}.yaml   # restored")?;
    d.run(None, &["git", "ops", "verify"], 0)?;
    Ok(())
}

/// A metrics endpoint on 127.0.0.1 for the demo's evidence (answers a few requests, then stops).
fn serve_metrics() -> io::Result<String> {
    use std::io::{Read, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/metrics", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = "# HELP web_up Whether web is up\nweb_up 1\nweb_replicas 3\nweb_p99_latency_seconds 0.182\ngo_goroutines 41\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(url)
}
