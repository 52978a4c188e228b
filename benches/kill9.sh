#!/bin/sh
# Crash test: runs `git ops new` and `git ops sign`, each killed with SIGKILL at a random moment,
# TRIALS times (default 200), and after every kill checks that
#   - the work tree holds no stray file (only ops/ledger/YYYY-MM.yaml may change),
#   - the ledger parses and verifies (`git ops verify` exits 0),
#   - the next append works (`git ops new` exits 0).
# Usage: benches/kill9.sh [TRIALS] [path/to/git-ops]   (default: target/debug/git-ops)
set -eu
TRIALS=${1:-200}
BIN=$(cd "$(dirname "${2:-target/debug/git-ops}")" && pwd)/$(basename "${2:-target/debug/git-ops}")
[ -x "$BIN" ] || { echo "no git-ops binary at $BIN: cargo build first" >&2; exit 2; }

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/home" "$ROOT/bin"
ln -s "$BIN" "$ROOT/bin/git-ops"
export HOME="$ROOT/home" XDG_CONFIG_HOME="$ROOT/home/.config" XDG_STATE_HOME="$ROOT/home/.state"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$ROOT/home/.gitconfig" TZ=UTC LANG=C
export PATH="$ROOT/bin:$PATH"
git config --global user.name tester
git config --global user.email tester@example.org
git config --global init.defaultBranch main
for who in alice bob; do
    ssh-keygen -q -t ed25519 -N '' -C "$who@example.org" -f "$ROOT/$who" >/dev/null
done
REPO="$ROOT/repo"
git init -q "$REPO"
cd "$REPO"
GIT_OPS_KEY="$ROOT/alice" git-ops init --name alice >/dev/null 2>&1
GIT_OPS_KEY="$ROOT/alice" git-ops keys add bob "$ROOT/bob.pub" --role human,approver >/dev/null 2>&1
mkdir -p deploy && echo 'replicas: 2' > deploy/web.yaml
git add -A && git commit -q -m "Adopt git-ops"

new() {
    GIT_OPS_KEY="$ROOT/alice" "$BIN" new --operation "$1" --objective o --risk-class SERVICE_RESTART \
        --blast-radius b --rollback-strategy r --allowed-paths deploy/web.yaml --allowed-services web
}

# How long a whole run takes, to spread the kills over it.
start=$(date +%s%N)
pending=$(new warm-up 2>/dev/null)
whole_us=$(( ($(date +%s%N) - start) / 1000 ))
[ "$whole_us" -gt 0 ] || whole_us=50000

fail() { echo "trial $1: $2" >&2; exit 1; }
finished=0 killed=0
i=0
while [ "$i" -lt "$TRIALS" ]; do
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ]; then
        GIT_OPS_KEY="$ROOT/bob" "$BIN" sign "$pending" >/dev/null 2>&1 &
    else
        new "killed $i" >/dev/null 2>&1 &
    fi
    pid=$!
    # A random moment within 1.5 times a whole run.
    delay_us=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % (whole_us * 3 / 2 + 1) ))
    sleep "$(printf '0.%06d' "$delay_us")"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    if { wait "$pid"; } 2>/dev/null; then finished=$((finished + 1)); fi

    stray=$(git status --porcelain --untracked-files=all | grep -Ev '^.. ops/ledger/[0-9]{4}-[0-9]{2}\.yaml$' || true)
    [ -z "$stray" ] || fail "$i" "stray files in the work tree: $stray"
    git-ops verify >/dev/null 2>&1 || { git-ops verify >&2 || true; fail "$i" "verify fails"; }
    pending=$(new "after $i" 2>/dev/null) || fail "$i" "the next append fails"
done
# git's own lock files (a tag ref killed mid-write); git-ops's flock file stays by design.
locks=$(find .git -name '*.lock' ! -path '*/git-ops/ledger.lock' | wc -l)
records=$(git-ops list --format json | grep -o '"id"' | wc -l)
echo "kill9: $TRIALS trials (SIGKILL sent to $killed, $finished had already finished), $records records, no stray file, ledger verified after every kill, next append worked every time; $locks stale git ref locks left in .git"
