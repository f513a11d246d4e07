# bench/lib.sh - what the benchmarks share (sourced, not run)
#
#   bench_init DIR        a fresh DIR, stop_all on exit (unless KEEP=1)
#   free_port N           the first free port from N
#   start_mariadb FLUSH   a private mariadbd in $BASE (innodb_flush_log_at_
#                         trx_commit = FLUSH), socket $BASE/mysql.sock
#   start_tallyd CONF     tallyd of $BIN with CONF; waits for its api socket
#   start_nginx CONF      nginx with CONF in $BASE/nginx
#   settle                MariaDB's background work of earlier points done
#   wrk_point NAME C URL [ARGS…]   one measured wrk run (settle, WARM, then DUR
#                         seconds) into RPS/P50/P99/ERR[NAME,C] (appended
#                         per run: medians with median_of)
#   median_of NAME C      the median req/s of the runs of NAME at C
#   report NAME C         one table line for NAME at C; its cpu column is
#                         % of one core over the measured run (200 = both
#                         cores): nginx/tallyd/fcgi/db/emulator/rest, rest
#                         being everything else busy (wrk, the kernel)
#
# Everything runs under $BASE and is stopped by pid at exit.

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

stop_all() {
	local f
	for f in $BASE/nginx/nginx.pid $BASE/tallyd.pid $BASE/emulator.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	[ -f $BASE/hello.pids ] && kill $(cat $BASE/hello.pids) 2>/dev/null
	sleep 1
	[ -f $BASE/mysqld.pid ] && kill "$(cat $BASE/mysqld.pid)" 2>/dev/null
	sleep 1
	return 0
}

bench_init() {
	BASE=$1
	local t
	for t in wrk nginx spawn-fcgi mariadbd; do
		command -v $t >/dev/null ||
		    { echo "bench: $t is missing" >&2; exit 1; }
	done
	[ -x "$BIN/fcgi/tallyd" ] ||
	    { echo "bench: no $BIN/fcgi/tallyd; run ./dev build" >&2; exit 1; }
	stop_all 2>/dev/null || true
	[ "${KEEP:-}" = 1 ] || trap stop_all EXIT
	rm -rf "$BASE" && mkdir -p $BASE/bin $BASE/nginx/tmp $BASE/log
}

# start_mariadb FLUSH - a private MariaDB; the invoking user is its admin
start_mariadb() {
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
max_connections = 500
innodb_buffer_pool_size = 1G
innodb_log_file_size = 512M
innodb_flush_log_at_trx_commit = $1
${MYCNF_EXTRA:-}
EOF
	mariadb-install-db --defaults-file=$BASE/my.cnf --skip-test-db \
	    --auth-root-authentication-method=socket >$BASE/log/install.log 2>&1
	mariadbd --defaults-file=$BASE/my.cnf >$BASE/log/mariadbd.out 2>&1 &
	for _ in $(seq 300); do
		mariadb-admin --socket=$BASE/mysql.sock -u"$(id -un)" ping \
		    >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: MariaDB did not start" >&2
	exit 1
}

sqlroot() {
	mariadb --socket=$BASE/mysql.sock -u"$(id -un)" "$@"
}

# settle - let MariaDB finish the work earlier points left behind (dirty
# pages, undo purge) so that it is not billed to the next point: flush
# eagerly until under 1000 dirty pages and a purge history under 1000
# (at most 60 s)
settle() {
	local i dirty hist
	[ -S $BASE/mysql.sock ] || return 0
	sqlroot -e "SET GLOBAL innodb_max_dirty_pages_pct = 0"
	for i in $(seq 120); do
		dirty=$(sqlroot -N -e "SHOW GLOBAL STATUS LIKE
		    'Innodb_buffer_pool_pages_dirty'" | awk '{ print $2 }')
		hist=$(sqlroot -N -e "SELECT count FROM
		    information_schema.INNODB_METRICS WHERE
		    name = 'trx_rseg_history_len'")
		[ "${dirty:-0}" -lt 1000 ] && [ "${hist:-0}" -lt 1000 ] && break
		sleep 0.5
	done
	sqlroot -e "SET GLOBAL innodb_max_dirty_pages_pct = 90"
}

# tally_conf LOG_LEVEL API_WORKERS WEBHOOK_WORKERS
# - the common part of a bench tally.conf on stdout (append the rest)
tally_conf() {
	cat <<EOF
[tally]
log_level = $1
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
workers = $2
socket_mode = 0666
max_requests = 100000000
[webhook]
socket = $BASE/webhook.sock
workers = $3
socket_mode = 0666
max_requests = 100000000
[admin]
socket = $BASE/admin.sock
workers = 1
socket_mode = 0666
EOF
}

start_tallyd() {
	"$BIN/ctl/tallyctl" -c "$1" migrate 2>/dev/null
	"$BIN/fcgi/tallyd" -c "$1" &
	for _ in $(seq 100); do [ -S $BASE/api.sock ] && break; sleep 0.1; done
	sleep 0.5
}

start_nginx() {
	nginx -p $BASE/nginx/ -c "$1" -e $BASE/log/nginx-error.log
	sleep 0.5
}

declare -A RPS P50 P99 ERR CPU

# ticks PID... - utime + stime of these processes, in clock ticks
ticks() {
	local p t=0 f
	for p in "$@"; do
		read -r -a f 2>/dev/null <"/proc/$p/stat" || continue
		# fields 14 and 15 (utime, stime), after the "(comm)" field
		t=$((t + f[13] + f[14]))
	done
	echo "$t"
}

# family PIDFILE - that process and its children
family() {
	local p
	[ -f "$1" ] || return 0
	p=$(cat "$1")
	echo "$p" $(pgrep -P "$p")
}

# cpu_snap - "nginx tallyd fcgi db emulator busy" ticks now
cpu_snap() {
	local busy
	busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
	echo "$(ticks $(family $BASE/nginx/nginx.pid))" \
	    "$(ticks $(family $BASE/tallyd.pid))" \
	    "$(ticks $(cat $BASE/hello.pids 2>/dev/null))" \
	    "$(ticks $(cat $BASE/mysqld.pid 2>/dev/null))" \
	    "$(ticks $(cat $BASE/emulator.pid 2>/dev/null))" "$busy"
}

# cpu_between NAME C RATE BEFORE AFTER SECONDS - CPU[NAME,C,RATE]: % of
# one core per group (nginx/tallyd/fcgi/db/emulator/rest) over the run
cpu_between() {
	local hz
	hz=$(getconf CLK_TCK)
	CPU[$1,$2,$3]=$(awk -v a="$4" -v b="$5" -v s="$6" -v hz="$hz" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) d[i] = (y[i] - x[i]) * 100 / hz / s
		rest = d[6] - d[1] - d[2] - d[3] - d[4] - d[5]
		printf "%d/%d/%d/%d/%d/%d", d[1], d[2], d[3], d[4], d[5], rest
	}')
}

# wrk_point NAME C URL [ARGS...] - one measured run, appended to RPS
wrk_point() {
	local name=$1 c=$2 url=$3 out rps p50 p99 err before after
	shift 3
	out=$BASE/log/$name-$c-$RANDOM.wrk
	settle
	[ "$WARM" -gt 0 ] && wrk -t2 -c"$c" -d"${WARM}s" "$@" "$url" >/dev/null
	before=$(cpu_snap)
	wrk -t2 -c"$c" -d"${DUR}s" --latency "$@" "$url" >"$out"
	after=$(cpu_snap)
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
	cpu_between "$name" "$c" "$rps" "$before" "$after" "$DUR"
	P50[$name,$c,$rps]=$p50
	P99[$name,$c,$rps]=$p99
	[ "$err" = - ] || ERR[$name,$c]="$(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ')"
}

# wrk_pct FILE PCT - wrk's PCT latency percentile in FILE, in ms
wrk_pct() {
	awk -v pct="$2%" '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		return v * 1000
	}
	$1 == pct { printf "%.3f\n", ms($2) }' "$1"
}

# record NAME C RATE P50 P99 [BEFORE AFTER SECONDS] - a point measured
# by something else (with cpu_snap's before and after it)
record() {
	RPS[$1,$2]="${RPS[$1,$2]:-} $3"
	P50[$1,$2,$3]=$4
	P99[$1,$2,$3]=$5
	[ $# -lt 8 ] || cpu_between "$1" "$2" "$3" "$6" "$7" "$8"
}

median_of() {
	echo "${RPS[$1,$2]}" | tr ' ' '\n' | grep . | sort -n |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

report() {
	local m rng
	m=$(median_of "$1" "$2")
	rng=$(echo "${RPS[$1,$2]}" | tr ' ' '\n' | grep . | sort -n |
	    awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')
	printf '%-10s %5d %10d %9s %9s  %-13s %-20s %s\n' "$1" "$2" "$m" \
	    "${P50[$1,$2,$m]}" "${P99[$1,$2,$m]}" "$rng" \
	    "${CPU[$1,$2,$m]:--}" "${ERR[$1,$2]:--}"
}

report_header() {
	printf '%-10s %5s %10s %9s %9s  %-13s %-20s %s\n' test conns req/s \
	    p50_ms p99_ms range cpu% errors
}
