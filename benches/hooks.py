#!/usr/bin/env python3
"""Hook overhead on a repository of 50,000 files (issue 12: hooks run on every commit).

Measures, in one run and alternating to share the machine's noise, `git commit` of a change to
a non-governed file:
  - with no hook (`--no-verify`): the baseline;
  - with trivial hooks (`exit 0` shell scripts): git re-reads its index after any pre-commit
    hook, so any hook at all costs something on a large index, and that floor is not git-ops's;
  - with git-ops's split hooks (pre-commit, prepare-commit-msg, commit-msg; `git ops hooks
    install`), with the single hook (`git ops hooks install --single`), and with each split hook
    installed alone, so each one's cost is reported separately (target: <= 8 ms over --no-verify);
and the staged check alone (`git-ops hook pre-commit`) against `git diff --cached --name-only`
(P2, target: within 1.2x).

With --ledger DIR (a repository with a large signed ledger, e.g. from
`cargo bench --bench verify_10k -- --records 100000 --runs 1 --keep`), its `ops/` replaces the
fresh `git ops init` one, and two more cases run: a non-governed commit with an active operation
(`git ops use`, an operation of the last month file; target <= 8 ms) and a governed commit
(deploy/web.yaml, covered by the active operation; target: tens of ms), each with the split and
the single hooks against --no-verify.

Usage: python3 benches/hooks.py [--files 50000] [--runs 30] [--ledger DIR]
(builds target/release/git-ops)
"""
import argparse, glob, os, re, shutil, statistics, subprocess, sys, tempfile

from benchlib import release_binary, timed

def run(cmd, cwd, env, check=True, stdin=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


def hooks_dir(tmp, repo, env, name, args):
    """A hooks directory with what `git ops hooks install ARGS` writes there."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    run(["git", "config", "core.hooksPath", d], repo, env)
    run(["git-ops", "hooks", "install"] + args, repo, env)
    run(["git", "config", "--unset", "core.hooksPath"], repo, env)
    return d


def only(tmp, src, hook):
    """A hooks directory with one hook of `src`."""
    d = os.path.join(tmp, f"only-{hook}")
    os.makedirs(d)
    shutil.copy2(os.path.join(src, hook), d)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--ledger", help="a repository whose ops/ (policy and ledger) to use")
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
        active = None
        if a.ledger:
            shutil.copytree(os.path.join(a.ledger, "ops"), os.path.join(repo, "ops"))
            last = sorted(glob.glob(os.path.join(repo, "ops/ledger/*.yaml")))[-1]
            with open(last) as f:
                text = f.read()
            active = re.findall(r"^operation_id: (OPS-\S+)$", text, re.M)[-1]
            records = sum(len(re.findall(r"^(?:operation|outcome)_id: ", open(p).read(), re.M))
                          for p in glob.glob(os.path.join(repo, "ops/ledger/*.yaml")))
        else:
            run(["git-ops", "init", "--name", "bench"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "--no-verify", "-m", "init"], repo, env)
        split = hooks_dir(tmp, repo, env, "split", [])
        single = hooks_dir(tmp, repo, env, "single", ["--single"])
        trivial = os.path.join(tmp, "trivial"); os.makedirs(trivial)
        for h in ("pre-commit", "prepare-commit-msg", "commit-msg"):
            p = os.path.join(trivial, h)
            with open(p, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(p, 0o755)
        target = os.path.join(repo, "src/d0000/f000.txt")
        governed = os.path.join(repo, "deploy/web.yaml")
        # (label, hooks directory or None for --no-verify, active operation, governed change)
        modes = [
            ("--no-verify", None, False, False),
            ("trivial hooks (exit 0)", trivial, False, False),
            ("split hooks", split, False, False),
            ("single hook (--single)", single, False, False),
            ("  pre-commit alone", only(tmp, split, "pre-commit"), False, False),
            ("  prepare-commit-msg alone", only(tmp, split, "prepare-commit-msg"), False, False),
            ("  commit-msg alone", only(tmp, split, "commit-msg"), False, False),
        ]
        if active:
            modes += [
                ("active op: --no-verify", None, True, False),
                ("active op: split hooks", split, True, False),
                ("active op: single hook", single, True, False),
                ("governed: --no-verify", None, True, True),
                ("governed: split hooks", split, True, True),
                ("governed: single hook", single, True, True),
            ]
        times = {m[0]: [] for m in modes}
        check, diff = [], []
        active_file = os.path.join(repo, ".git/git-ops/active-operation")
        for r in range(a.runs):
            for label, hooks, use, gov in modes:
                if use:
                    os.makedirs(os.path.dirname(active_file), exist_ok=True)
                    with open(active_file, "w") as f:
                        f.write(active + "\n")
                elif os.path.exists(active_file):
                    os.remove(active_file)
                path = governed if gov else target
                with open(path, "a") as f:
                    f.write(f"# {r} {label}\n")
                run(["git", "add", path], repo, env)
                cmd = ["git"]
                if hooks:
                    cmd += ["-c", f"core.hooksPath={hooks}"]
                cmd += ["commit", "-q", "-m", f"change {r}"]
                if not hooks:
                    cmd.append("--no-verify")
                times[label].append(timed(cmd, repo, env))
            if os.path.exists(active_file):
                os.remove(active_file)
            with open(target, "a") as f:
                f.write(f"staged {r}\n")
            run(["git", "add", target], repo, env)
            check.append(timed(["git-ops", "hook", "pre-commit"], repo, env))
            diff.append(timed(["git", "diff", "--cached", "--name-only"], repo, env))
            run(["git", "commit", "-q", "--no-verify", "-m", f"staged {r}"], repo, env)
        med = statistics.median
        ledger = f", ledger of {records} records, active {active}" if active else ""
        print(f"repository: {a.files} files{ledger}; {a.runs} runs each, medians (ms), "
              f"+ms over the same run's --no-verify")
        for label, hooks, use, gov in modes:
            base = med(times["active op: --no-verify" if use and not gov else
                             "governed: --no-verify" if gov else "--no-verify"])
            m = med(times[label])
            extra = "" if hooks is None else f"   +{m - base:6.2f}"
            print(f"git commit, {label:28} {m:8.2f}{extra}")
        print(f"git-ops hook pre-commit              {med(check):8.2f}")
        print(f"git diff --cached --name-only        {med(diff):8.2f}")
        print(f"  ratio (P2, target <= 1.2x)         {med(check) / med(diff):8.2f} x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
