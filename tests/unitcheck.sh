#!/bin/sh
# tests/unitcheck.sh - the systemd unit made by 'make' from
# contrib/tallyd.service.in passes 'systemd-analyze verify', with its
# Documentation= man pages found (a MANPATH of man/) and its programs
# those of this build; run by 'make check' in the build directory.
# Also checks what the permission model (docs/operations.md) rests on:
# the runtime directory 2750 (setgid: the sockets take its group) handed
# to the web group (tally-web, nginx's user alone), the logs directory,
# ReadWritePaths that a missing directory cannot break, and the
# configuration test before the start.  Skips (exit 77) without
# systemd-analyze.

top=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
unit=contrib/tallyd.service
command -v systemd-analyze >/dev/null 2>&1 ||
    { echo "systemd-analyze not installed: skip"; exit 77; }
[ -f "$unit" ] || { echo "$unit not made (make check_DATA)"; exit 1; }
bad=0
fail() { echo "FAIL: $*"; bad=1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unitcheck.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man5" "$tmp/man/man8"
cp "$top"/man/*.5 "$tmp/man/man5/" && cp "$top"/man/*.8 "$tmp/man/man8/"
sbindir=$(sed -n 's|^ExecStart=\(.*\)/tallyd .*|\1|p' "$unit")
[ -n "$sbindir" ] || fail "no ExecStart=.../tallyd in $unit"
# the unit as installed, but running this build's tallyd
sed -e "s|$sbindir/tallyd|$(pwd)/fcgi/tallyd|g" "$unit" >"$tmp/tallyd.service"
MANPATH=$tmp/man systemd-analyze verify "$tmp/tallyd.service" ||
    fail "systemd-analyze verify $unit"

want() {
	grep -qx -- "$1" "$unit" || fail "$unit has no line '$1'"
}
want 'RuntimeDirectory=tally'
want 'RuntimeDirectoryMode=2750'
want 'LogsDirectory=tally'
want 'Documentation=man:tallyd(8) man:tally.conf(5) man:tallyctl(8)'
grep -q '^ExecStartPre=+/bin/chgrp [a-z_-]* /run/tally$' "$unit" ||
    fail "the runtime directory is not handed to the web group"
grep -q "^ExecStartPre=$sbindir/tallyd -t " "$unit" ||
    fail "no configuration test before the start"
grep '^ReadWritePaths=' "$unit" | tr ' =' '\n\n' | grep '^/' &&
    fail "a ReadWritePaths entry without '-' stops the start when missing"
grep -q '^SupplementaryGroups=' "$unit" &&
    fail "tallyd must not join nginx's groups"
grep -qx 'Group=tally' "$unit" ||
    fail "Group= other than tally: the logs would be the web group's"
grep -q '@[a-zA-Z_]*@' "$unit" && fail "unsubstituted @VAR@ in $unit"
[ $bad = 0 ] && echo "$unit: verified"
exit $bad
