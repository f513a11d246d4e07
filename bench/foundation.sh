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
DUR=${DUR:-10}
WARM=${WARM:-2}
RUNS=${RUNS:-3}
CONNS=${CONNS:-16 64}
WORKERS=${WORKERS:-4}
LOG_LEVEL=${LOG_LEVEL:-info}
PERF=${PERF_BASELINE:-$SRC/../shared/perf-baseline}
BIN=${TALLY_BIN:-$SRC/build}
. "$SRC/bench/lib.sh"
bench_init ${BENCH_DIR:-/tmp/tally-bench}
[ -f "$PERF/fcgi_app.c" ] || { echo "bench: no $PERF/fcgi_app.c" >&2; exit 1; }

# --- the bare hello worker of the perf baseline ---------------------------------
cc -O2 -Wall -Wextra -Werror $(mariadb_config --cflags) -o $BASE/bin/fcgi_app \
    "$PERF/fcgi_app.c" "$PERF/pay.c" -lfcgi $(mariadb_config --libs)
spawn-fcgi -s $BASE/hello.sock -M 0666 -F "$WORKERS" -P $BASE/hello.pids \
    -- $BASE/bin/fcgi_app >/dev/null

# --- MariaDB and tallyd ---------------------------------------------------------
start_mariadb 1
sqlroot <<EOF
CREATE DATABASE tally CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER tally@localhost IDENTIFIED BY 'bench';
GRANT ALL ON tally.* TO tally@localhost;
EOF
tally_conf "$LOG_LEVEL" "$WORKERS" 1 >$BASE/tally.conf
start_tallyd $BASE/tally.conf

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
start_nginx $BASE/nginx/nginx.conf
URL=http://127.0.0.1:$PORT
for p in /nginx /hello /api/v1/health/live /api/v1/health; do
	curl -sf "$URL$p" >/dev/null || { echo "bench: $p does not answer" >&2; exit 1; }
done

# --- measure ----------------------------------------------------------------------
# Points are interleaved (nginx, hello, live, health, then again) RUNS times
# and each reported figure is the median run, so that drift on a shared
# machine hits every variant alike.
for r in $(seq "$RUNS"); do
	for c in $CONNS; do
		wrk_point nginx "$c" "$URL/nginx"
		wrk_point hello "$c" "$URL/hello"
		wrk_point live "$c" "$URL/api/v1/health/live"
		wrk_point health "$c" "$URL/api/v1/health"
	done
done

report_header
for c in $CONNS; do
	for t in nginx hello live health; do
		report "$t" "$c"
	done
done
echo
echo "ratios of medians ($(nproc) cores, $WORKERS FastCGI workers, log_level $LOG_LEVEL, $RUNS runs):"
for c in $CONNS; do
	awk -v c="$c" -v n="$(median_of nginx "$c")" -v h="$(median_of hello "$c")" \
	    -v l="$(median_of live "$c")" -v d="$(median_of health "$c")" 'BEGIN {
		printf "  @%-3d live/hello %.2f (target >= 0.90)   health/hello %.2f   hello/nginx %.2f\n",
		    c, l / h, d / h, h / n }'
done
