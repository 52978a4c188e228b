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
