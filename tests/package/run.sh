#!/usr/bin/env bash
# tests/package/run.sh - the Debian package, from nothing to a health
# answer through nginx and back (issue 15; run by 'tests/run package')
#
#   tests/package/run.sh WORKDIR       (root; the suite's MariaDB running)
#
# 1. builds it: a copy of the checkout (no build dirs), dpkg-buildpackage
#    -b -us -uc (nocheck: 'tests/run unit' ran make check), lintian with
#    no error;
# 2. installs it (dpkg -i): the user and group, the group tally-web with
#    www-data alone in it, /etc/tally 0750 root:tally, /var/log/tally,
#    the unit enabled (and not started: no tally.conf), the nginx
#    snippet, the man pages, logrotate's conffile;
# 3. configures it as the README says, against the suite's MariaDB (a
#    database and user of its own, over TCP): tally.conf from the
#    installed example, the secrets in /etc/tally/tally.env, tallyctl
#    migrate reading that file through [tally] env_file;
# 4. runs tallyd from the installed files as the unit would, with no
#    systemd as PID 1: the unit's RuntimeDirectory/LogsDirectory made with
#    their modes, its ExecStartPre lines ('+' as root, the others as the
#    unit's User with its EnvironmentFile), then ExecStart as that user;
#    /run/tally 2750 tally:tally-web, each socket 0660 tally:tally-web;
# 5. nginx (workers as www-data) with the installed snippet, only its
#    'listen' changed: GET /api/v1/health answers 200, the pages are
#    served; connecting to a socket as www-data with its groups works,
#    as nobody, or as another process of www-data's group (another
#    site's pool), is EACCES;
# 6. stops it all and purges the package: nothing it made is left.
# Prints "PASS: what" / "FAIL: what" per check and exits 1 on a failure.
# It changes the machine (a package, a user, /etc/tally, /run/tally):
# run it on a test machine only.

set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
W=${1:?usage: run.sh WORKDIR}
DB_CNF=${TALLY_TEST_DB_CNF:-}
FAILED=0
PIDS=()

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
check() {	# check WHAT CMD... - PASS when CMD succeeds
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
step() { printf '\033[1m--> %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || { fail "the package test needs root"; exit 1; }
for tool in dpkg-buildpackage dh lintian nginx setpriv curl; do
	command -v $tool >/dev/null 2>&1 ||
	    { fail "$tool is not installed (./dev deps; tests need debhelper lintian)"; exit 1; }
done

sql_root() {
	mariadb --socket="$TALLY_TEST_DB_SOCKET" -u"$(id -un)" "$@"
}

purge() {
	dpkg -s tally >/dev/null 2>&1 && dpkg --purge tally >"$W/purge.log" 2>&1
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	purge
	rm -rf /run/tally
	sql_root -e "DROP DATABASE IF EXISTS pkg_tally; DROP USER IF EXISTS 'pkg_tally'@'127.0.0.1'" 2>/dev/null
}
trap cleanup EXIT

# --- 1. build -------------------------------------------------------------------
step "build the package"
purge			# a run that died half-way
rm -rf "$W/src" && mkdir -p "$W/src/tally"
tar -C "$SRC" -c --exclude=./build --exclude=./build-asan --exclude=./.git \
    --exclude=./node_modules --exclude=./.dev --exclude=./autom4te.cache \
    --exclude=./configure --exclude=./Makefile.in --exclude=./aclocal.m4 . |
    tar -x -C "$W/src/tally"
t0=$(date +%s)
(cd "$W/src/tally" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -b -us -uc) >"$W/build.log" 2>&1
rc=$?
echo "dpkg-buildpackage: $(( $(date +%s) - t0 )) s"
deb=$(ls "$W"/src/tally_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
if [ $rc -ne 0 ] || [ -z "$deb" ]; then
	tail -n 30 "$W/build.log"
	fail "dpkg-buildpackage -b -us -uc"
	exit 1
fi
pass "dpkg-buildpackage -b -us -uc: $(basename "$deb")"
lintian --fail-on error "$deb" >"$W/lintian.log" 2>&1
check "lintian: no error" [ $? -eq 0 ]
grep -E '^[EW]:' "$W/lintian.log"

# --- 2. install -----------------------------------------------------------------
step "install it"
# no systemd as PID 1 here: deb-systemd-invoke does not start anything
dpkg -i "$deb" >"$W/install.log" 2>&1 || { cat "$W/install.log"; fail "dpkg -i"; exit 1; }
pass "dpkg -i"
check "the system user tally" sh -c 'getent passwd tally >/dev/null'
check "the group tally" sh -c 'getent group tally >/dev/null'
check "the group tally-web holds nginx's user alone" \
    [ "$(getent group tally-web | cut -d: -f4)" = www-data ]
check "tally is not in it" sh -c '! id -nG tally | grep -qw tally-web'
check "/etc/tally is 0750 root:tally" [ "$(stat -c '%a %U:%G' /etc/tally)" = "750 root:tally" ]
check "/var/log/tally is 0750 tally:tally" \
    [ "$(stat -c '%a %U:%G' /var/log/tally)" = "750 tally:tally" ]
UNIT=/lib/systemd/system/tallyd.service
check "the unit is installed" [ -f $UNIT ]
check "the unit is enabled" [ -L /etc/systemd/system/multi-user.target.wants/tallyd.service ]
check "the unit waits for tally.conf" grep -qx 'ConditionPathExists=/etc/tally/tally.conf' $UNIT
check "nothing started it" [ ! -e /run/tally/api.sock ]
check "the nginx snippet" [ -f /usr/share/tally/nginx/tally.conf ]
check "the snippet's root is the installed web/" \
    grep -q 'root /usr/share/tally/web;' /usr/share/tally/nginx/tally.conf
check "the pages" [ -f /usr/share/tally/web/checkout/index.html ]
check "every migration of schema/" \
    [ "$(ls /usr/share/tally/schema)" = "$(cd "$SRC/schema" && ls -- *.sql)" ]
check "the man pages" sh -c '[ -f /usr/share/man/man8/tallyd.8.gz ] &&
    [ -f /usr/share/man/man8/tallyctl.8.gz ] && [ -f /usr/share/man/man5/tally.conf.5.gz ]'
check "logrotate's file is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' tally | grep -q /etc/logrotate.d/tally"
check "systemd-analyze verify the installed unit" systemd-analyze verify $UNIT

# --- 3. configure (as the README says) --------------------------------------------
step "configure it against the suite's MariaDB"
port=$(sed -n 's/^port = //p' "$(dirname "$TALLY_TEST_DB_SOCKET")/my.cnf")
[ -n "$port" ] || { fail "the suite's MariaDB port"; exit 1; }
dbpw=$(head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 24)
sql_root -e "CREATE DATABASE pkg_tally CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE USER 'pkg_tally'@'127.0.0.1' IDENTIFIED BY '$dbpw';
    GRANT ALL ON pkg_tally.* TO 'pkg_tally'@'127.0.0.1'" || { fail "create the database"; exit 1; }
install -m 0640 -o root -g tally /dev/null /etc/tally/tally.env
cat >/etc/tally/tally.env <<ENV
# the unit's EnvironmentFile, read by tallyctl too ([tally] env_file)
TALLY_DB_PASSWORD=$dbpw
TALLY_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 40)
STRIPE_SECRET_KEY=sk_test_package
STRIPE_WEBHOOK_SECRET=whsec_package
ENV
# the example, with this machine's database and no real Stripe (the jobs
# must not call it with a made-up key): sockets and secrets as shipped
sed -e 's|^socket = /run/mysqld/mysqld.sock.*|host = 127.0.0.1\nport = '"$port"'|' \
    -e 's|^user = tally$|user = pkg_tally|' -e 's|^database = tally$|database = pkg_tally|' \
    -e 's|^# api_base = https://api.stripe.com|api_base = http://127.0.0.1:9|' \
    /usr/share/tally/tally.conf.example >"$W/tally.conf"
install -m 0640 -o root -g tally "$W/tally.conf" /etc/tally/tally.conf
check "tallyctl config check (secrets from env_file)" \
    env -u TALLY_DB_PASSWORD tallyctl config check
env -u TALLY_DB_PASSWORD tallyctl migrate >"$W/migrate.log" 2>&1
check "tallyctl migrate" grep -q 'applied' "$W/migrate.log"

# --- 4. tallyd as the unit starts it ---------------------------------------------
step "start tallyd as the unit would"
"$SRC/tests/package/start_unit.sh" $UNIT >"$W/tallyd.out" 2>&1 &
PIDS+=($!)
rt=/run/$(sed -n 's/^RuntimeDirectory=//p' $UNIT)
for _ in $(seq 100); do
	[ -S "$rt/api.sock" ] && break
	kill -0 "${PIDS[0]}" 2>/dev/null || break
	sleep 0.1
done
check "tallyd started as the unit would (ExecStartPre: chgrp, tallyd -t as tally)" \
    [ -S "$rt/api.sock" ]
grep 'start_unit\|tallyd:' "$W/tallyd.out"
check "/run/tally is 2750 tally:tally-web (setgid)" \
    [ "$(stat -c '%a %U:%G' "$rt")" = "2750 tally:tally-web" ]
for p in api webhook admin; do
	check "$p.sock is a socket 0660 tally:tally-web" \
	    [ "$(stat -c '%F %a %U:%G' "$rt/$p.sock")" = "socket 660 tally:tally-web" ]
done
check "tallyd runs as tally" [ "$(ps -o user= -p "${PIDS[0]}" | tr -d ' ')" = tally ]

# --- 5. nginx with the installed snippet -------------------------------------------
step "nginx with the installed snippet"
N=$(mktemp -d /tmp/tally-pkg-nginx.XXXXXX)
chmod 755 "$N"
hport=$((30000 + RANDOM % 20000))
while (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null; do hport=$((hport + 1)); done
sed -e "s|listen 80 backlog=1024;|listen 127.0.0.1:$hport backlog=1024;|" \
    /usr/share/tally/nginx/tally.conf >"$N/tally.conf"
check "only the listen line differs from the installed snippet" \
    [ "$(diff /usr/share/tally/nginx/tally.conf "$N/tally.conf" | grep -c '^[<>]')" = 2 ]
cat >"$N/nginx.conf" <<NGX
user www-data;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    client_body_temp_path $N/body; proxy_temp_path $N/proxy;
    fastcgi_temp_path $N/fastcgi; uwsgi_temp_path $N/uwsgi; scgi_temp_path $N/scgi;
    include $N/tally.conf;
}
NGX
check "nginx -t" nginx -t -q -p "$N/" -c "$N/nginx.conf" -e "$N/error.log"
nginx -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && break
	sleep 0.1
done
code=000
for _ in $(seq 100); do
	code=$(curl -s -o "$W/health.json" -w '%{http_code}' "http://127.0.0.1:$hport/api/v1/health")
	[ "$code" = 200 ] && break
	sleep 0.1
done
check "GET /api/v1/health through nginx: 200 ($code, $(cat "$W/health.json" 2>/dev/null))" [ "$code" = 200 ]
check "the checkout page is served" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/checkout/")" = 200 ]
check "the access log has the request id" \
    grep -q 'GET /api/v1/health.* rid=[0-9a-f]\{32\}' /var/log/nginx/tally-access.log
# connect_as SOCKET SETPRIV_ARGS... - connect(2) to SOCKET with those
# credentials: prints "ok" or the errno's name (EACCES, ...)
connect_as() {
	local sock=$1; shift
	setpriv "$@" perl -MSocket -MPOSIX -e '
	    socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
	    if (connect($s, pack_sockaddr_un($ARGV[0]))) { print "ok\n"; exit }
	    my %n = (EACCES() => "EACCES", ENOENT() => "ENOENT",
	        ECONNREFUSED() => "ECONNREFUSED");
	    print $n{$!+0} // "errno " . ($!+0), "\n"' "$sock" 2>&1
}
for p in api webhook admin; do
	r=$(connect_as "$rt/$p.sock" --reuid=www-data --regid=www-data --init-groups)
	check "nginx's user (with its groups) connects to $p.sock ($r)" [ "$r" = ok ]
	r=$(connect_as "$rt/$p.sock" --reuid=nobody --regid=nogroup --clear-groups)
	check "nobody cannot connect to $p.sock: EACCES ($r)" [ "$r" = EACCES ]
	r=$(connect_as "$rt/$p.sock" --reuid=nobody --regid=www-data --clear-groups)
	check "another site's pool in www-data's group cannot either: EACCES ($r)" \
	    [ "$r" = EACCES ]
done
check "nor list /run/tally" \
    sh -c "! setpriv --reuid=nobody --regid=www-data --clear-groups ls $rt >/dev/null 2>&1"
env -u TALLY_DB_PASSWORD tallyctl check >"$W/check.out" 2>&1
check "tallyctl check: the ledger holds" [ $? -eq 0 ]

# --- 6. stop and purge -------------------------------------------------------------
step "stop and purge"
kill -TERM "${PIDS[0]}" 2>/dev/null
for _ in $(seq 100); do kill -0 "${PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
check "tallyd stopped on SIGTERM" sh -c "! kill -0 ${PIDS[0]} 2>/dev/null"
kill -QUIT "${PIDS[1]}" 2>/dev/null
wait "${PIDS[1]}" 2>/dev/null
PIDS=()
rm -rf "$N"
dpkg --purge tally >"$W/purge.log" 2>&1
check "dpkg --purge tally" [ $? -eq 0 ]
check "purge removed /etc/tally" [ ! -e /etc/tally ]
check "purge removed /var/log/tally" [ ! -e /var/log/tally ]
check "purge removed the user and groups" \
    sh -c '! getent passwd tally && ! getent group tally && ! getent group tally-web'
check "purge removed the programs and data" \
    sh -c '[ ! -e /usr/sbin/tallyd ] && [ ! -e /usr/share/tally ] && [ ! -e /lib/systemd/system/tallyd.service ]'
check "purge removed the unit's enablement" \
    [ ! -e /etc/systemd/system/multi-user.target.wants/tallyd.service ]
check "purge removed logrotate's conffile" [ ! -e /etc/logrotate.d/tally ]
exit $FAILED
