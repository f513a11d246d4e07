#!/bin/sh
# tests/devcheck.sh - ./dev keeps its secrets private (issue 14, door 6):
# under a permissive umask (022) the state directory it makes is 0700
# and the env file of generated passwords 0600; the pools' sockets of
# its tally.conf are 0660, never 0666.  Runs './dev env' in a temporary
# state directory (it writes .dev/env and stops: nothing is up); run by
# 'make check'.

top=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v bash >/dev/null 2>&1 || { echo "no bash: skip"; exit 77; }
tmp=$(mktemp -d /tmp/tally-devcheck.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
bad=0
state=$tmp/state
(umask 022; TALLY_DEV_STATE=$state bash "$top/dev" env >/dev/null 2>&1)
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
for f in "$state" "$state/run" "$state/log"; do
	m=$(mode "$f")
	[ "$m" = 700 ] || { echo "FAIL: $f is $m, want 700"; bad=1; }
done
m=$(mode "$state/env")
[ "$m" = 600 ] || { echo "FAIL: $state/env is $m, want 600"; bad=1; }
if grep -n 'socket_mode = 06[0-7][1-7]' "$top/dev"; then
	echo "FAIL: ./dev gives the pool sockets to others (want 0660)"
	bad=1
fi
[ $bad = 0 ] && echo "./dev: state 0700, env 0600, sockets 0660"
exit $bad
