//! The server hook where servers run it: a bare repository served over HTTP by git's own
//! `http-backend` behind a real web server (lighttpd from Debian's packages) on 127.0.0.1, with
//! `git ops hooks install` and a pinned trust root; good and bad pushes go over the network.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Team, require_tool};

/// A lighttpd serving `root` (git's http-backend at /git/), stopped when dropped.
struct WebServer {
    child: Child,
    port: u16,
}

impl WebServer {
    fn start(root: &std::path::Path, path_env: &str) -> WebServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let conf = root.join("lighttpd.conf");
        std::fs::write(
            &conf,
            format!(
                "server.document-root = \"{root}\"\nserver.port = {port}\nserver.bind = \"127.0.0.1\"\n\
                 server.modules = ( \"mod_alias\", \"mod_cgi\", \"mod_setenv\" )\n\
                 alias.url = ( \"/git/\" => \"/usr/lib/git-core/git-http-backend/\" )\n\
                 cgi.assign = ( \"\" => \"\" )\n\
                 setenv.add-environment = ( \"GIT_PROJECT_ROOT\" => \"{root}\", \"GIT_HTTP_EXPORT_ALL\" => \"1\", \
                 \"PATH\" => \"{path_env}\", \"HOME\" => \"{root}/home\", \"GIT_CONFIG_NOSYSTEM\" => \"1\" )\n",
                root = root.display(),
            ),
        )
        .expect("writing the web server's configuration");
        let child = Command::new("lighttpd")
            .args(["-D", "-f"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting lighttpd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "lighttpd did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        WebServer { child, port }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pushes_over_http_are_judged_by_the_servers_hook() {
    if !require_tool("lighttpd", "apt-get install lighttpd")
        || !std::path::Path::new("/usr/lib/git-core/git-http-backend").exists()
    {
        return;
    }
    let (team, id) = Team::with_approved_operation();
    let repo = &team.repo;
    repo.commit_all("Record the approved operation");
    let root = repo.sb.root.clone();
    let bare = root.join("served.git");
    let bare_s = bare.display().to_string();
    repo.git(&["init", "-q", "--bare", "-b", "main", &bare_s])
        .ok();
    repo.ops_keyless(&["-C", &bare_s, "hooks", "install"]).ok();
    let first = repo
        .git(&["rev-list", "--max-parents=0", "HEAD"])
        .ok()
        .stdout();
    repo.git(&[
        "--git-dir",
        &bare_s,
        "config",
        "ops.trustRoot",
        first.trim(),
    ])
    .ok();
    repo.git(&["--git-dir", &bare_s, "config", "http.receivepack", "true"])
        .ok();
    // The hook runs as the web server's CGI: git-ops must be on its PATH.
    let path_env = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        root.join("bin").display()
    );
    let web = WebServer::start(&root, &path_env);
    let url = format!("http://127.0.0.1:{}/git/served.git", web.port);
    let served_main = || {
        repo.git(&["--git-dir", &bare_s, "rev-parse", "-q", "--verify", "main"])
            .stdout()
            .trim()
            .to_string()
    };

    repo.git(&["push", "-q", &url, "main"]).ok();
    let accepted = repo.rev("HEAD");
    assert_eq!(served_main(), accepted);

    // An uncovered governed change, pushed past the client's hook: refused by the server.
    repo.write("deploy/web.yaml", "replicas: 42\n");
    repo.git(&["commit", "-qam", "sneak", "--no-verify"]).ok();
    repo.git(&["push", "--no-verify", &url, "main"])
        .code(1)
        .says(&["pre-receive hook declined", "deploy/web.yaml", "uncovered"]);
    assert_eq!(served_main(), accepted);

    // The same change linked to the approved operation: accepted.
    repo.git(&["reset", "-q", "--hard", &accepted]).ok();
    repo.write("deploy/web.yaml", "replicas: 3\n");
    repo.ops(&team.alice, &["use", &id]).ok();
    repo.commit_all("Scale web to 3");
    repo.git(&["push", "-q", "--no-verify", &url, "main"]).ok();
    assert_eq!(served_main(), repo.rev("HEAD"));
}
