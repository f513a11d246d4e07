#!/usr/bin/env bash
# bench/foundation.sh - the request path of tallyd against its ceilings
#
#   bench/foundation.sh     # DUR=10 WARM=2 RUNS=3 CONNS="16 64" WORKERS=4
#
# In one run, on this machine, with wrk (-t2, keep-alive) through one
# private nginx (2 worker processes, access log off):
#   nginx     GET /nginx       nginx's own 'return 200'
#   hello     GET /hello       the bare libfcgi worker of
#                              ../shared/perf-baseline/fcgi_app.c, WORKERS
#                              processes under spawn-fcgi
#   live      GET /api/v1/health/live   nginx -> tallyd, WORKERS api
#                              workers, no database
#   health    GET /api/v1/health        the same plus one MariaDB round
#                              trip (SELECT 1 over the worker's connection)
# and prints req/s, p50/p99 and the ratios live/hello (target >= 0.9),
# health/hello and hello/nginx.  tallyd runs as in production (log_level
# info: one access-log line per request, to a file).  Everything lives in
# /tmp/tally-bench and is stopped on exit.  Needs: wrk nginx-light
# spawn-fcgi libfcgi-dev mariadb-server, and a build in build/ (./dev build).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BASE=${BENCH_DIR:-/tmp/tally-bench}
DUR=${DUR:-10}
WARM=${WARM:-2}
CONNS=${CONNS:-16 64}
WORKERS=${WORKERS:-4}
LOG_LEVEL=${LOG_LEVEL:-info}
PERF=${PERF_BASELINE:-$SRC/../shared/perf-baseline}
BIN=${TALLY_BIN:-$SRC/build}

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

stop_all() {
	[ -f $BASE/nginx/nginx.pid ] && kill "$(cat $BASE/nginx/nginx.pid)" 2>/dev/null
	[ -f $BASE/tallyd.pid ] && kill "$(cat $BASE/tallyd.pid)" 2>/dev/null
	[ -f $BASE/hello.pids ] && kill $(cat $BASE/hello.pids) 2>/dev/null
	[ -f $BASE/mysqld.pid ] && kill "$(cat $BASE/mysqld.pid)" 2>/dev/null
	sleep 1
	return 0
}

for t in wrk nginx spawn-fcgi mariadbd; do
	command -v $t >/dev/null || { echo "bench: $t is missing" >&2; exit 1; }
done
[ -x "$BIN/fcgi/tallyd" ] || { echo "bench: no $BIN/fcgi/tallyd; run ./dev build" >&2; exit 1; }
[ -f "$PERF/fcgi_app.c" ] || { echo "bench: no $PERF/fcgi_app.c" >&2; exit 1; }

stop_all 2>/dev/null || true
[ "${KEEP:-}" = 1 ] || trap stop_all EXIT
rm -rf $BASE && mkdir -p $BASE/bin $BASE/nginx/tmp $BASE/log

# --- the bare hello worker of the perf baseline ---------------------------------
cc -O2 -Wall -Wextra -Werror $(mariadb_config --cflags) -o $BASE/bin/fcgi_app \
    "$PERF/fcgi_app.c" "$PERF/pay.c" -lfcgi $(mariadb_config --libs)
spawn-fcgi -s $BASE/hello.sock -M 0666 -F "$WORKERS" -P $BASE/hello.pids \
    -- $BASE/bin/fcgi_app >/dev/null

# --- MariaDB and tallyd ---------------------------------------------------------
DBPORT=$(free_port 33306)
cat >$BASE/my.cnf <<EOF
[mysqld]
$([ "$(id -u)" = 0 ] && echo "user = root")
datadir = $BASE/mysql
socket = $BASE/mysql.sock
pid-file = $BASE/mysqld.pid
log-error = $BASE/log/mysqld.err
port = $DBPORT
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
innodb_buffer_pool_size = 512M
EOF
mariadb-install-db --defaults-file=$BASE/my.cnf --skip-test-db \
    --auth-root-authentication-method=socket >$BASE/log/install.log 2>&1
mariadbd --defaults-file=$BASE/my.cnf >$BASE/log/mariadbd.out 2>&1 &
for _ in $(seq 300); do
	mariadb-admin --socket=$BASE/mysql.sock -u"$(id -un)" ping >/dev/null 2>&1 && break
	sleep 0.1
done
mariadb --socket=$BASE/mysql.sock -u"$(id -un)" <<EOF
CREATE DATABASE tally;
CREATE USER tally@localhost IDENTIFIED BY 'bench';
GRANT ALL ON tally.* TO tally@localhost;
EOF
cat >$BASE/tally.conf <<EOF
[tally]
log_level = $LOG_LEVEL
log_file = $BASE/log/tallyd.log
pid_file = $BASE/tallyd.pid
schema_dir = $SRC/schema
[db]
socket = $BASE/mysql.sock
user = tally
password = bench
database = tally
[api]
socket = $BASE/api.sock
workers = $WORKERS
socket_mode = 0666
max_requests = 100000000
[webhook]
socket = $BASE/webhook.sock
workers = 1
socket_mode = 0666
[admin]
socket = $BASE/admin.sock
workers = 1
socket_mode = 0666
EOF
"$BIN/ctl/tallyctl" -c $BASE/tally.conf migrate 2>/dev/null
"$BIN/fcgi/tallyd" -c $BASE/tally.conf &
for _ in $(seq 100); do [ -S $BASE/api.sock ] && break; sleep 0.1; done

# --- nginx: one server, the four paths -----------------------------------------
PORT=$(free_port 18480)
cat >$BASE/nginx/nginx.conf <<EOF
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2;
pid $BASE/nginx/nginx.pid;
error_log $BASE/log/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $BASE/nginx/tmp/body;
    proxy_temp_path $BASE/nginx/tmp/proxy;
    fastcgi_temp_path $BASE/nginx/tmp/fastcgi;
    uwsgi_temp_path $BASE/nginx/tmp/uwsgi;
    scgi_temp_path $BASE/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT backlog=1024;
        location = /nginx { default_type text/plain; return 200 "ok"; }
        location = /hello {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$BASE/hello.sock;
        }
        location /api/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param REQUEST_ID \$request_id;
            fastcgi_pass unix:$BASE/api.sock;
        }
    }
}
EOF
nginx -p $BASE/nginx/ -c $BASE/nginx/nginx.conf -e $BASE/log/nginx-error.log
sleep 0.5
URL=http://127.0.0.1:$PORT
for p in /nginx /hello /api/v1/health/live /api/v1/health; do
	curl -sf "$URL$p" >/dev/null || { echo "bench: $p does not answer" >&2; exit 1; }
done

# --- measure ----------------------------------------------------------------------
# Points are interleaved (nginx, hello, live, health, then again) RUNS times
# and each reported figure is the median run, so that drift on a shared
# machine hits every variant alike.
RUNS=${RUNS:-3}
declare -A RPS P50 P99 ERR
point() {
	local name=$1 path=$2 c=$3 r=$4 out
	out=$BASE/log/$name-$c-$r.wrk
	wrk -t2 -c"$c" -d"${WARM}s" "$URL$path" >/dev/null
	wrk -t2 -c"$c" -d"${DUR}s" --latency "$URL$path" >"$out"
	read -r rps p50 p99 err < <(awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		return v * 1000
	}
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/^Requests\/sec/ { rps = $2 }
	/Non-2xx|Socket errors/ { err = "errors" }
	END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, err ? err : "-" }' "$out")
	RPS[$name,$c]="${RPS[$name,$c]:-} $rps"
	P50[$name,$c,$rps]=$p50
	P99[$name,$c,$rps]=$p99
	[ "$err" = - ] || ERR[$name,$c]=yes
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for r in $(seq "$RUNS"); do
	for c in $CONNS; do
		point nginx /nginx "$c" "$r"
		point hello /hello "$c" "$r"
		point live /api/v1/health/live "$c" "$r"
		point health /api/v1/health "$c" "$r"
	done
done

printf '%-8s %5s %10s %9s %9s  %-22s %s\n' test conns req/s p50_ms p99_ms \
    "range (runs)" errors
declare -A MED
for c in $CONNS; do
	for t in nginx hello live health; do
		m=$(echo "${RPS[$t,$c]}" | median)
		MED[$t,$c]=$m
		rng=$(echo "${RPS[$t,$c]}" | tr ' ' '\n' | grep . | sort -n |
		    awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')
		printf '%-8s %5d %10d %9s %9s  %-22s %s\n' "$t" "$c" "$m" \
		    "${P50[$t,$c,$m]}" "${P99[$t,$c,$m]}" "$rng ($RUNS)" \
		    "${ERR[$t,$c]:--}"
	done
done

echo
echo "ratios of medians ($(nproc) cores, $WORKERS FastCGI workers, log_level $LOG_LEVEL):"
for c in $CONNS; do
	awk -v c="$c" -v n="${MED[nginx,$c]}" -v h="${MED[hello,$c]}" \
	    -v l="${MED[live,$c]}" -v d="${MED[health,$c]}" 'BEGIN {
		printf "  @%-3d live/hello %.2f (target >= 0.90)   health/hello %.2f   hello/nginx %.2f\n",
		    c, l / h, d / h, h / n }'
done
