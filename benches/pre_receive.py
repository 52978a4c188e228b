#!/usr/bin/env python3
"""The server hook over a 1,000-commit push (issue: judge what a push does to each ref).

Builds a governed repository (policy ledger/samples/policy.yaml), a bare server holding its
first commit, and N new commits (a mix of files under docs/ and src/, not governed, so every
commit is judged and found not to need an operation), copied into the server without moving any
ref. Then times, alternating so both share the machine's noise:
  - `git-ops hook pre-receive` with the update `base tip refs/heads/main` on its stdin, as git
    runs it (every new commit against its parent, and the net change of the ref);
  - `git log --name-only base..tip` in the same repository (the floor: reading the same commits
    and their changed paths).
Prints the medians and the ratio (target: at most 1.5x).

Usage: python3 benches/pre_receive.py [--commits 1000] [--runs 7]   (builds target/release/git-ops)
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, bench_env, non_governed_commits, release_binary, timed

def run(cmd, cwd, env, stdin=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    return p.stdout.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    exe = release_binary()
    tmp = tempfile.mkdtemp(prefix="git-ops-bench-")
    try:
        env = bench_env()
        client = os.path.join(tmp, "client")
        server = os.path.join(tmp, "server.git")
        run(["git", "init", "-q", "-b", "main", client], tmp, env)
        os.makedirs(os.path.join(client, "ops"))
        shutil.copy(os.path.join(ROOT, "ledger/samples/policy.yaml"), os.path.join(client, "ops/policy.yaml"))
        run(["git", "add", "-A"], client, env)
        run(["git", "commit", "-q", "-m", "Adopt git-ops"], client, env)
        base = run(["git", "rev-parse", "HEAD"], client, env).strip()
        run(["git", "clone", "-q", "--bare", client, server], tmp, env)
        run(["git", "config", "ops.trustRoot", base], server, env)
        run(["git", "fast-import", "--quiet"], client, env, stdin=non_governed_commits(base, a.commits))
        tip = run(["git", "rev-parse", "main"], client, env).strip()
        # The objects reach the server; no ref there moves.
        run(["git", "fetch", "-q", client, "main:refs/bench/tmp"], server, env)
        run(["git", "update-ref", "-d", "refs/bench/tmp"], server, env)
        update = f"{base} {tip} refs/heads/main\n".encode()
        hook = [exe, "hook", "pre-receive"]
        log = ["git", "log", "--name-only", f"{base}..{tip}"]
        timed(hook, server, env, update)  # warm-up (and a check that it passes)
        timed(log, server, env)
        hs, ls = [], []
        for _ in range(a.runs):
            hs.append(timed(hook, server, env, update))
            ls.append(timed(log, server, env))
        h, l = statistics.median(hs), statistics.median(ls)
        print(f"{a.commits} commits, {a.runs} runs each, medians:")
        print(f"  git-ops hook pre-receive   {h:8.1f} ms   (min {min(hs):.1f})")
        print(f"  git log --name-only        {l:8.1f} ms   (min {min(ls):.1f})")
        print(f"  ratio                      {h / l:8.2f}x  (target <= 1.5x)")
    finally:
        shutil.rmtree(tmp)

if __name__ == "__main__":
    main()
