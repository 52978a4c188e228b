#!/usr/bin/env python3
"""Hook overhead on a repository of 50,000 files (issue: hooks run on every commit).

Measures, in one run and alternating to share the machine's noise:
  1. `git commit` of a change to a non-governed file with the git-ops hooks installed,
     against `git commit --no-verify` (target: at most 5 ms more), and against the same commit with
     trivial hooks (`exit 0` shell scripts): git itself re-reads the index after a pre-commit hook,
     so any hook at all costs something on a large index, and that floor is not git-ops's;
  2. the staged check alone (`git-ops hook pre-commit`) against `git diff --cached --name-only`
     (target: within 1.2x).

Usage: python3 benches/hooks.py [--files 50000] [--runs 30]   (builds target/release/git-ops)
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

from benchlib import ROOT, release_binary, timed

def run(cmd, cwd, env, check=True, stdin=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    exe = release_binary()
    tmp = tempfile.mkdtemp(prefix="git-ops-bench-")
    try:
        bindir = os.path.join(tmp, "bin"); os.makedirs(bindir)
        os.symlink(exe, os.path.join(bindir, "git-ops"))
        home = os.path.join(tmp, "home"); os.makedirs(home)
        env = {"PATH": bindir + ":" + os.environ["PATH"], "HOME": home, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": os.path.join(home, ".gitconfig"), "LANG": "C", "TZ": "UTC",
               "GIT_OPS_KEY": os.path.join(tmp, "key")}
        repo = os.path.join(tmp, "repo"); os.makedirs(repo)
        run(["git-ops", "keys", "generate", "--out", env["GIT_OPS_KEY"]], tmp, env)
        run(["git", "init", "-q", "-b", "main"], repo, env)
        run(["git", "config", "user.name", "Bench"], repo, env)
        run(["git", "config", "user.email", "bench@example.org"], repo, env)
        per_dir = 100
        for i in range(a.files):
            d = os.path.join(repo, "src", f"d{i // per_dir:04d}")
            if i % per_dir == 0:
                os.makedirs(d)
            with open(os.path.join(d, f"f{i % per_dir:03d}.txt"), "w") as f:
                f.write(f"file {i}\n")
        os.makedirs(os.path.join(repo, "deploy"))
        with open(os.path.join(repo, "deploy/web.yaml"), "w") as f:
            f.write("replicas: 2\n")
        run(["git-ops", "init", "--name", "bench"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "init"], repo, env)
        target = os.path.join(repo, "src/d0000/f000.txt")
        trivial = os.path.join(tmp, "trivial-hooks"); os.makedirs(trivial)
        for h in ("pre-commit", "prepare-commit-msg", "commit-msg"):
            p = os.path.join(trivial, h)
            with open(p, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(p, 0o755)
        hooks, nohooks, floor, check, diff = [], [], [], [], []
        for r in range(a.runs):
            for mode in ("git-ops", "none", "trivial"):
                with open(target, "a") as f:
                    f.write(f"{r} {mode}\n")
                run(["git", "add", target], repo, env)
                cmd = ["git", "commit", "-q", "-m", f"change {r}"]
                if mode == "none":
                    nohooks.append(timed(cmd + ["--no-verify"], repo, env))
                elif mode == "trivial":
                    floor.append(timed(["git", "-c", f"core.hooksPath={trivial}"] + cmd[1:], repo, env))
                else:
                    hooks.append(timed(cmd, repo, env))
            with open(target, "a") as f:
                f.write(f"staged {r}\n")
            run(["git", "add", target], repo, env)
            check.append(timed(["git-ops", "hook", "pre-commit"], repo, env))
            diff.append(timed(["git", "diff", "--cached", "--name-only"], repo, env))
            run(["git", "commit", "-q", "--no-verify", "-m", f"staged {r}"], repo, env)
        med = statistics.median
        print(f"repository: {a.files} files, {a.runs} runs each, medians (ms)")
        print(f"git commit with hooks      {med(hooks):8.2f}")
        print(f"git commit --no-verify     {med(nohooks):8.2f}")
        print(f"git commit, trivial hooks  {med(floor):8.2f}")
        print(f"  hook overhead            {med(hooks) - med(nohooks):8.2f} ms   (target <= 5 ms)")
        print(f"  of which git's own floor {med(floor) - med(nohooks):8.2f} ms   (any hook, even `exit 0`)")
        print(f"  git-ops beyond the floor {med(hooks) - med(floor):8.2f} ms")
        print(f"git-ops hook pre-commit    {med(check):8.2f}")
        print(f"git diff --cached --name-only {med(diff):5.2f}")
        print(f"  ratio                    {med(check) / med(diff):8.2f} x   (target <= 1.2x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
