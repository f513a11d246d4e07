#!/usr/bin/env bash
# tests/package/readme.sh - the README's "Running in production", run as
# written on this machine, from a release tarball or a git clone (issue
# 15; run by 'tests/run package')
#
#   tests/package/readme.sh WORKDIR tarball|clone   (root; the suite's
#                                                    MariaDB running)
#
# The tree: 'make dist' of build/ unpacked, or a copy of the checkout
# without ./configure (as a git clone has none).  The README's first code
# block of that section is taken from the tree's README.md and run with
# bash -e in the tree, with DB-PASSWORD and $PASSWORD set, and only what
# this machine cannot do replaced on PATH:
#   apt-get    checks that each named package is installed (no network,
#              no upgrade);
#   systemctl  daemon-reload does nothing; 'enable --now tallyd' starts
#              the installed unit as systemd would (start_unit.sh), as
#              there is no systemd as PID 1; 'reload nginx' starts the
#              machine's nginx (its own /etc/nginx) or reloads it.
# The system MariaDB socket (/run/mysqld/mysqld.sock, tally.conf.example's)
# is the suite's MariaDB for the run.  Prints PASS:/FAIL: lines; puts the
# machine back afterwards (make uninstall, the user, /etc/tally, nginx's
# default site, the database).  On a machine where a system MariaDB or a
# web server runs, or Tally is installed, it prints SKIP: and changes
# nothing.

set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
W=${1:?usage: readme.sh WORKDIR tarball|clone}
HOW=${2:?usage: readme.sh WORKDIR tarball|clone}
FAILED=0
TREE=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
step() { printf '\033[1m--> %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || { fail "the README test needs root"; exit 1; }
# skip() - the machine is not clean for it: say why, count a skip, leave
# the machine alone
skip() { echo "SKIP: the README test: $*"; exit 0; }
for f in /etc/tally /etc/nginx/conf.d/tally.conf /usr/local/sbin/tallyd; do
	[ ! -e "$f" ] || skip "$f exists"
done
getent passwd tally >/dev/null && skip "a user tally exists already"
(exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null && skip "port 80 is taken"
[ ! -e /run/mysqld/mysqld.sock ] || skip "a MariaDB runs on /run/mysqld/mysqld.sock"
mkdir -p "$W"
dbdir=$(dirname "$TALLY_TEST_DB_SOCKET")
dbdir_mode=$(stat -c %a "$dbdir")

cleanup() {
	local p
	if [ -f "$W/nginx.started" ]; then
		nginx -s quit 2>/dev/null
		for _ in $(seq 50); do pgrep -F /run/nginx.pid >/dev/null 2>&1 || break; sleep 0.1; done
	fi
	if [ -f "$W/tallyd.pid" ]; then
		p=$(cat "$W/tallyd.pid")
		kill "$p" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	fi
	[ -n "$TREE" ] && [ -f "$TREE/Makefile" ] && make -s -C "$TREE" uninstall >/dev/null 2>&1
	# uninstall leaves the directories it made: only empty ones go
	find /usr/local/share/tally /usr/local/share/doc/tally -depth -type d \
	    -empty -delete 2>/dev/null
	rmdir /usr/local/lib/systemd/system /usr/local/lib/systemd 2>/dev/null
	rm -f /etc/nginx/conf.d/tally.conf /var/log/nginx/tally-access.log
	if [ -e "$W/default.site" ] && [ ! -e /etc/nginx/sites-enabled/default ]; then
		cp -a "$W/default.site" /etc/nginx/sites-enabled/default
	fi
	rm -rf /etc/tally /run/tally /var/log/tally
	getent passwd tally >/dev/null && deluser --system --quiet tally >/dev/null 2>&1
	getent group tally >/dev/null && delgroup --system --quiet tally >/dev/null 2>&1
	getent group tally-web >/dev/null && delgroup --system --quiet tally-web >/dev/null 2>&1
	[ -L /run/mysqld/mysqld.sock ] && rm -f /run/mysqld/mysqld.sock
	mariadb --socket="$TALLY_TEST_DB_SOCKET" -e "DROP DATABASE IF EXISTS tally;
	    DROP USER IF EXISTS 'tally'@'localhost'" 2>/dev/null
	chmod "$dbdir_mode" "$dbdir"
}
trap cleanup EXIT
[ -e /etc/nginx/sites-enabled/default ] && cp -a /etc/nginx/sites-enabled/default "$W/default.site"

# --- the tree ---------------------------------------------------------------------
step "the tree: $HOW"
rm -rf "$W/tree" && mkdir -p "$W/tree"
case "$HOW" in
tarball)
	make -s -C "$SRC/build" dist >"$W/dist.log" 2>&1 || { tail "$W/dist.log"; fail "make dist"; exit 1; }
	tarball=$(ls -t "$SRC"/build/tally-*.tar.gz | head -n 1)
	tar -xzf "$tarball" -C "$W/tree" && rm -f "$tarball"
	TREE=$(ls -d "$W"/tree/tally-*)
	;;
clone)
	tar -C "$SRC" -c --exclude=./build --exclude=./build-asan --exclude=./.git \
	    --exclude=./node_modules --exclude=./.dev --exclude=./autom4te.cache \
	    --exclude=./configure --exclude=./Makefile.in --exclude=./aclocal.m4 \
	    --exclude=./build-aux --exclude=./m4 . | tar -x -C "$W/tree"
	TREE=$W/tree
	;;
*)	fail "usage: readme.sh WORKDIR tarball|clone"; exit 1 ;;
esac
pass "$HOW tree at $TREE"

# --- the README's commands ----------------------------------------------------------
awk '/^## Running in production/ { sec = 1; next }
    sec && /^## / { exit }
    sec && /^    / { blk = 1; print substr($0, 5); next }
    sec && blk { exit }' "$TREE/README.md" >"$W/readme-block.sh"
[ -s "$W/readme-block.sh" ] || { fail "no code block in the README's production section"; exit 1; }
grep -q 'CREATE DATABASE tally CHARACTER SET utf8mb4' "$W/readme-block.sh" &&
    pass "the README creates the database in utf8mb4" ||
    fail "the README creates the database in utf8mb4"
dbpw=$(head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 24)
sed -i "s/DB-PASSWORD/$dbpw/g" "$W/readme-block.sh"

mkdir -p "$W/shim"
cat >"$W/shim/apt-get" <<'SH'
#!/bin/sh
# apt-get of the README test: the packages must be installed already
for p in "$@"; do
	case "$p" in -*|install) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    { echo "apt-get shim: $p is not installed" >&2; exit 1; }
done
SH
cat >"$W/shim/systemctl" <<SH
#!/usr/bin/env bash
# systemctl of the README test (no systemd as PID 1 here)
case "\$*" in
daemon-reload)
	exit 0 ;;
"enable --now tallyd")
	unit=/usr/local/lib/systemd/system/tallyd.service
	[ -f "\$unit" ] || { echo "systemctl shim: no \$unit" >&2; exit 1; }
	setsid "$SRC/tests/package/start_unit.sh" "\$unit" >"$W/tallyd.out" 2>&1 &
	echo \$! >"$W/tallyd.pid"
	for i in \$(seq 100); do
		[ -S /run/tally/api.sock ] && exit 0
		kill -0 \$(cat "$W/tallyd.pid") 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/tallyd.out" >&2
	exit 1 ;;
"reload nginx")
	if [ -f "$W/nginx.started" ]; then nginx -s reload; exit; fi
	nginx || exit 1
	touch "$W/nginx.started"
	for i in \$(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null && exit 0
		sleep 0.1
	done
	exit 1 ;;
esac
echo "systemctl shim: \$*: not emulated" >&2
exit 1
SH
chmod +x "$W/shim/apt-get" "$W/shim/systemctl"

# the machine's MariaDB socket is the suite's, for the run (tallyd runs as
# tally: it may pass through the suite's directory, not list it)
ln -s "$TALLY_TEST_DB_SOCKET" /run/mysqld/mysqld.sock
chmod o+x "$dbdir"

step "run the README's production section"
t0=$(date +%s)
# as a sysadmin's root shell runs it: umask 022 (./dev runs the suite
# under 077, which would leave the installed web/ unreadable to nginx)
(umask 022 && cd "$TREE" && PATH="$W/shim:$PATH" \
    PASSWORD=$(head -c 24 /dev/urandom | base64) \
    bash -e -x "$W/readme-block.sh") >"$W/readme.out" 2>&1
rc=$?
echo "README section: $(( $(date +%s) - t0 )) s"
if [ $rc -eq 0 ]; then
	pass "the README's production section ran to its end ($HOW)"
else
	tail -n 40 "$W/readme.out"
	[ -f "$W/tallyd.out" ] && tail -n 20 "$W/tallyd.out"
	fail "the README's production section ($HOW): exit $rc"
	exit 1
fi
grep -q '"status":"ok"' "$W/readme.out" &&
    pass "its curl got the health answer through nginx" ||
    fail "its curl got the health answer through nginx"
grep -q '^tly_' "$W/readme.out" && pass "its API key was printed" || fail "its API key was printed"
code=$(curl -s -o /dev/null -w '%{http_code}' http://localhost/checkout/)
[ "$code" = 200 ] && pass "the installed checkout page is served" ||
    fail "the installed checkout page is served ($code)"
exit $FAILED
