"""What the Python benchmarks share: the release binary, and timing one whole process."""
import os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def release_binary():
    """Builds and returns target/release/git-ops."""
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target/release/git-ops")

def timed(cmd, cwd, env, stdin=None):
    """Wall milliseconds of one run of `cmd`; a failure ends the benchmark with its stderr."""
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return dt

def bench_env(**extra):
    """The environment of a benchmark's git and git-ops: no user or system config, a fixed
    identity, C locale and UTC."""
    return dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", LANG="C", TZ="UTC",
                GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.org",
                GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.org", **extra)

def non_governed_commits(base, n):
    """A `git fast-import` stream of `n` commits on refs/heads/main after `base`, each changing
    one or two non-governed files (docs/, src/)."""
    stream = []
    for i in range(n):
        stream.append(f"commit refs/heads/main\ncommitter bench <bench@example.org> {1768478400 + i} +0000\n")
        msg = f"change {i}\n"
        stream.append(f"data {len(msg)}\n{msg}")
        if i == 0:
            stream.append(f"from {base}\n")
        for path in (f"docs/page{i % 97}.md", f"src/mod{i % 31}/file{i % 7}.txt")[: 1 + i % 2]:
            body = f"revision {i} of {path}\n"
            stream.append(f"M 100644 inline {path}\ndata {len(body)}\n{body}")
        stream.append("\n")
    return "".join(stream).encode()
