#!/usr/bin/env python3
"""P5: `git ops verify --range` over 1,000 commits on a ledger of 10,000 records (issue 12).

Builds a governed repository whose `ops/` (policy and signed ledger) comes from --ledger DIR
(a repository made by `cargo bench --bench verify_10k -- --records 10000 --runs 1 --keep`, or by
`cargo run --release --example gen_ledger -- --records 10000 --out DIR` where that example
exists), else the sample policy with an empty ledger, then N commits through fast-import (a mix
of files under docs/ and src/, not governed, so every commit is judged and found not to need an
operation). Times, alternating so both share the machine's noise:
  - `git-ops verify --range base..tip` (every commit against its first parent and its links,
    and the net change of the range);
  - `git log --name-only base..tip` (the floor: reading the same commits and changed paths);
  - `git-ops verify` (the working tree's ledger checked once), for scale: the range reads the
    policy and the ledger of the commits it judges, so a large ledger shows in both.
Prints the same run's medians and the ratio (target: at most 1.5x).

Usage: python3 benches/range.py [--commits 1000] [--runs 7] [--ledger DIR]
(builds target/release/git-ops)
"""
import argparse, glob, os, re, shutil, statistics, subprocess, sys, tempfile

from benchlib import ROOT, bench_env, non_governed_commits, release_binary, timed

def run(cmd, cwd, env, stdin=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout.decode()}{p.stderr.decode()}")
    return p.stdout.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--ledger", help="a repository whose ops/ (policy and ledger) to use")
    a = ap.parse_args()
    exe = release_binary()
    tmp = tempfile.mkdtemp(prefix="git-ops-bench-")
    try:
        env = bench_env(PATH=os.path.dirname(exe) + os.pathsep + os.environ["PATH"])
        repo = os.path.join(tmp, "repo")
        run(["git", "init", "-q", "-b", "main", repo], tmp, env)
        records = 0
        if a.ledger:
            shutil.copytree(os.path.join(a.ledger, "ops"), os.path.join(repo, "ops"))
            for p in glob.glob(os.path.join(repo, "ops/ledger/*.yaml")):
                with open(p) as f:
                    records += len(re.findall(r"^(?:operation|outcome)_id: ", f.read(), re.M))
        else:
            # The sample policy, as pre_receive.py uses: `git ops init` would need a signing key.
            os.makedirs(os.path.join(repo, "ops"))
            shutil.copy(os.path.join(ROOT, "ledger/samples/policy.yaml"), os.path.join(repo, "ops/policy.yaml"))
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "--no-verify", "-m", "Adopt git-ops"], repo, env)
        base = run(["git", "rev-parse", "HEAD"], repo, env).strip()
        run(["git", "config", "ops.trustRoot", base], repo, env)
        run(["git", "fast-import", "--quiet"], repo, env, stdin=non_governed_commits(base, a.commits))
        run(["git", "reset", "-q", "--hard", "main"], repo, env)
        tip = run(["git", "rev-parse", "main"], repo, env).strip()
        rng = ["git-ops", "verify", "--range", f"{base}..{tip}"]
        log = ["git", "log", "--name-only", f"{base}..{tip}"]
        ledger = ["git-ops", "verify"]
        for cmd in (rng, log, ledger):  # warm-up, and a check that each passes
            timed(cmd, repo, env)
        rs, ls, vs = [], [], []
        for _ in range(a.runs):
            rs.append(timed(rng, repo, env))
            ls.append(timed(log, repo, env))
            vs.append(timed(ledger, repo, env))
        med = statistics.median
        r, l, v = med(rs), med(ls), med(vs)
        print(f"{a.commits} commits, ledger of {records} records, {a.runs} runs each, medians:")
        print(f"  git-ops verify --range     {r:8.1f} ms   (min {min(rs):.1f})")
        print(f"  git log --name-only        {l:8.1f} ms   (min {min(ls):.1f})")
        print(f"  git-ops verify (ledger)    {v:8.1f} ms   (min {min(vs):.1f})")
        print(f"  ratio range / log          {r / l:8.2f}x  (target <= 1.5x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
