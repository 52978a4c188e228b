#!/bin/sh
# Verifies what a push did to one ref, as the server's pre-receive hook judges it, for hosts that
# run no server hook (GitHub, GitLab): every new commit, and the net change of the ref.
#
# usage: verify-push.sh BEFORE AFTER DEFAULT [git ops verify options...]
#   BEFORE   the ref's old commit (all zeros for a new branch or tag)
#   AFTER    the ref's new commit (all zeros for a deletion)
#   DEFAULT  the default branch, e.g. origin/main: a new ref is judged against it
set -eu
if [ "$#" -lt 3 ]; then
  echo "usage: verify-push.sh BEFORE AFTER DEFAULT [verify options...]" >&2
  exit 2
fi
before=$1 after=$2 default=$3
shift 3
zero=0000000000000000000000000000000000000000
if [ "$after" = "$zero" ]; then
  echo "git-ops: the ref was deleted; the server's hook judges deletions"
  exit 0
fi
if [ "$before" = "$zero" ] || ! git cat-file -e "$before^{commit}" 2>/dev/null; then
  # A new branch or tag (or a base CI cannot see): judged against the default branch, from where
  # it left the default branch's history; a ref at a commit the default branch already holds is
  # judged against the default branch's tip.
  base=$(git merge-base "$default" "$after" 2>/dev/null || git rev-parse "$default")
  if [ "$base" = "$(git rev-parse "$after^{commit}")" ]; then
    base=$(git rev-parse "$default")
  fi
else
  base=$before
fi
exec git ops verify --range "$base..$after" "$@"
