#!/usr/bin/env bash
# bench/completion.sh - completions per second, against their ceilings
#
#   bench/completion.sh     # DUR=10 WARM=2 RUNS=1 CONNS="16 64" WORKERS=8
#                           # ONLY="webhook pay raw client" (the points run)
#                           # MYCNF_EXTRA="performance_schema = ON" (my.cnf)
#
# In one run, on this machine, one private MariaDB with
# innodb_flush_log_at_trx_commit = 1 (durable), one nginx, wrk -t2:
#   webhook   POST /webhooks/stripe: pre-signed payment_intent.succeeded
#             events, each for its own pre-created open checkout; tallyd's
#             webhook pool (WORKERS workers) verifies, stores the event and
#             completes the payment in the request (one transaction); the
#             figure is payments committed per second, counted in MariaDB
#   dup       the same events again (each already processed): the stored
#             duplicate's answer, whose p99 the issue bounds at 20 ms
#   client    POST /api/v1/payments/complete by the buyer: tallyd's api pool
#             asks Stripe (the local emulator) for the PaymentIntent, then
#             completes (the emulator's own speed bounds this figure)
#   pay       the bare FastCGI GET /pay of ../shared/perf-baseline,
#             unchanged, WORKERS processes, on its own database
#   raw       Tally's completion transaction straight from C
#             (bench/complete_bench), WORKERS connections, no HTTP
# and prints webhook/raw (target >= 0.6 on 2 cores) and webhook/pay
# (target >= 0.9).  Needs: wrk nginx-light spawn-fcgi libfcgi-dev
# mariadb-server node, and ./dev build.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10}
WARM=${WARM:-2}
RUNS=${RUNS:-1}
CONNS=${CONNS:-16 64}
WORKERS=${WORKERS:-8}
ONLY=${ONLY:-webhook pay raw client}
PERF=${PERF_BASELINE:-$SRC/../shared/perf-baseline}
BIN=${TALLY_BIN:-$SRC/build}
. "$SRC/bench/lib.sh"
bench_init ${BENCH_DIR:-/tmp/tally-bench-complete}
[ -f "$PERF/fcgi_app.c" ] || { echo "bench: no $PERF/fcgi_app.c" >&2; exit 1; }
make -s -C "$BIN" bench/complete_bench
PER_POINT=$(( (WARM + DUR) * 5000 ))	# more events than a point can use
WHSEC=whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# --- databases --------------------------------------------------------------------
start_mariadb 1
sqlroot <<EOF
CREATE DATABASE tally CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER tally@localhost IDENTIFIED BY 'bench';
GRANT ALL ON tally.* TO tally@localhost;
CREATE DATABASE perf CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER perf@localhost IDENTIFIED BY 'perf';
GRANT ALL ON perf.* TO perf@localhost;
EOF
sqlroot perf <"$PERF/schema.sql"

# --- the Stripe emulator, tallyd, the bare /pay, nginx ------------------------------
EMU_PORT=$(free_port 22111)
node "$SRC/tests/stripe-emulator/server.mjs" --port "$EMU_PORT" \
    --api-key sk_test_bench >$BASE/log/emulator.out 2>&1 &
echo $! >$BASE/emulator.pid
{ tally_conf warn "$WORKERS" "$WORKERS"; cat <<EOF
[jwt.bench]
issuer = https://bench
audience = tally
alg = HS256
secret = bench-secret-bench-secret-bench-secret-0123
[ratelimit]
buyer_per_second = 0
[stripe]
api_base = http://127.0.0.1:$EMU_PORT
secret_key = sk_test_bench
webhook_secret = $WHSEC
webhook_tolerance = 3600
EOF
} >$BASE/tally.conf
start_tallyd $BASE/tally.conf
cc -O2 -Wall -Wextra -Werror $(mariadb_config --cflags) -o $BASE/bin/fcgi_app \
    "$PERF/fcgi_app.c" "$PERF/pay.c" -lfcgi $(mariadb_config --libs)
PERF_DB_SOCKET=$BASE/mysql.sock spawn-fcgi -s $BASE/pay.sock -M 0666 \
    -F "$WORKERS" -P $BASE/hello.pids -- $BASE/bin/fcgi_app >/dev/null
PORT=$(free_port 18580)
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
    client_body_buffer_size 1m;
    server {
        listen 127.0.0.1:$PORT backlog=1024;
        location = /pay {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$BASE/pay.sock;
        }
        location = /webhooks/stripe {
            include /etc/nginx/fastcgi_params;
            fastcgi_param REQUEST_ID \$request_id;
            fastcgi_pass unix:$BASE/webhook.sock;
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
curl -sf "$URL/pay" >/dev/null || { echo "bench: /pay does not answer" >&2; exit 1; }

# --- the catalog and the checkouts ---------------------------------------------
JWT=$("$BIN/ctl/tallyctl" -c $BASE/tally.conf jwt --sub bench-buyer --ttl 86400)
BUYER=$(curl -sf -H "Authorization: Bearer $JWT" "$URL/api/v1/me" |
    sed 's/.*"account_id":"\([^"]*\)".*/\1/')
sqlroot tally <<EOF
INSERT INTO accounts (id, kind) VALUES ('acc_benchtalent', 'talent');
INSERT INTO products (id, name, seller_account_id, price_cent, currency,
  fee_fixed_cent) VALUES ('prod_bench', 'Bench', 'acc_benchtalent',
  2500, 'usd', 500);
EOF
# checkouts chk_<prefix><n>, n in FIRST..FIRST+COUNT-1, PaymentIntent pi_<same>
make_checkouts() {
	sqlroot tally <<EOF
INSERT INTO checkouts (id, buyer_account_id, product_id, quantity, currency,
  price_cent, subtotal_cent, platform_fee_cent, amount_cent,
  seller_account_id, agent_bps, host_bps, ambassador_bps, stripe_fee_bps,
  stripe_fee_fixed_cent, platform_bears_fee, status, open_key, pi_id,
  pi_state, expires_at)
SELECT CONCAT('chk_$1', LPAD(seq, 10, '0')), '$BUYER', 'prod_bench', 1,
  'usd', 2500, 2500, 500, 3000, 'acc_benchtalent', 0, 0, 0, 290, 30, 0,
  'open', NULL, CONCAT('pi_$1', LPAD(seq, 10, '0')), 'created',
  NOW() + INTERVAL 1 DAY FROM seq_$2_to_$3;
EOF
}
payments() {
	sqlroot -N tally -e "SELECT COUNT(*) FROM payments"
}

# --- measure -------------------------------------------------------------------
next=1
# webhook_point C - warm up on one batch, measure on a fresh one
webhook_point() {
	local c=$1 before after out cpu0 cpu1
	for phase in warm run; do
		make_checkouts w $next $((next + PER_POINT - 1))
		node "$SRC/bench/gen-events.mjs" w $next $PER_POINT 3000 "$WHSEC" \
		    >$BASE/events-$phase
		next=$((next + PER_POINT))
	done
	export BENCH_PATH=/webhooks/stripe BENCH_HEADER=Stripe-Signature
	settle
	BENCH_LINES=$BASE/events-warm wrk -t2 -c"$c" -d"${WARM}s" \
	    -s "$SRC/bench/lines.lua" "$URL" >/dev/null
	before=$(payments)
	out=$BASE/log/webhook-$c-$RANDOM.wrk
	cpu0=$(cpu_snap)
	BENCH_LINES=$BASE/events-run wrk -t2 -c"$c" -d"${DUR}s" --latency \
	    -s "$SRC/bench/lines.lua" "$URL" >"$out"
	cpu1=$(cpu_snap)
	after=$(payments)
	record webhook "$c" $(( (after - before) / DUR )) \
	    "$(wrk_pct "$out" 50)" "$(wrk_pct "$out" 99)" "$cpu0" "$cpu1" "$DUR"
	# the events of the run that were processed, again: each one a
	# stored duplicate (the rest of the file was never sent)
	sqlroot -N tally -e "SELECT id FROM webhook_events WHERE status =
	    'processed'" >$BASE/processed.ids
	awk 'NR == FNR { seen[$1] = 1; next }
	    match($0, /"id":"evt_[A-Za-z0-9]*"/) &&
	    seen[substr($0, RSTART + 6, RLENGTH - 7)]' \
	    $BASE/processed.ids $BASE/events-run >$BASE/events-dup
	[ -s $BASE/events-dup ] || { echo "bench: no processed events" >&2; exit 1; }
	BENCH_LINES=$BASE/events-dup BENCH_WRAP=1 wrk_point dup "$c" "$URL" \
	    -s "$SRC/bench/lines.lua"
}

# client_point C - the browser's path, on PaymentIntents at the emulator
client_point() {
	local c=$1 n=$(( (WARM + DUR) * 1500 )) f=$BASE/client-$c
	node "$SRC/bench/make-client-checkouts.mjs" "http://127.0.0.1:$EMU_PORT" \
	    sk_test_bench "$n" c$c >"$f.pi"
	{
		echo "CREATE TEMPORARY TABLE pis (n INT PRIMARY KEY, pi VARCHAR(64));"
		awk '{ printf "INSERT INTO pis VALUES (%d, \x27%s\x27);\n", $1, $2 }' \
		    "$f.pi"
		cat <<EOF
INSERT INTO checkouts (id, buyer_account_id, product_id, quantity, currency,
  price_cent, subtotal_cent, platform_fee_cent, amount_cent,
  seller_account_id, agent_bps, host_bps, ambassador_bps, stripe_fee_bps,
  stripe_fee_fixed_cent, platform_bears_fee, status, open_key, pi_id,
  pi_state, expires_at)
SELECT CONCAT('chk_c${c}_', LPAD(n, 10, '0')), '$BUYER', 'prod_bench', 1,
  'usd', 2500, 2500, 500, 3000, 'acc_benchtalent', 0, 0, 0, 290, 30, 0,
  'open', NULL, pi, 'created', NOW() + INTERVAL 1 DAY FROM pis;
EOF
	} | sqlroot tally
	awk -v c="$c" -v jwt="Bearer $JWT" '{ printf "%s\t{\"checkout_id\":\"chk_c%s_%010d\"}\n", jwt, c, $1 }' \
	    "$f.pi" >"$f.lines"
	export BENCH_PATH=/api/v1/payments/complete BENCH_HEADER=Authorization
	BENCH_LINES=$f.lines WARM=0 wrk_point client "$c" "$URL" \
	    -s "$SRC/bench/lines.lua"
}

want() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }
for r in $(seq "$RUNS"); do
	for c in $CONNS; do
		want webhook && webhook_point "$c"
		want pay && wrk_point pay "$c" "$URL/pay"
	done
	want raw || continue
	make_checkouts r $next $((next + PER_POINT - 1))
	sqlroot -N tally -e "SELECT id, pi_id, amount_cent FROM checkouts WHERE id LIKE 'chk_r%' AND status = 'open'" >$BASE/raw.ids
	next=$((next + PER_POINT))
	settle
	cpu0=$(cpu_snap)
	raw=$("$BIN/bench/complete_bench" $BASE/tally.conf "$WORKERS" "$WARM" "$DUR" $BASE/raw.ids)
	record raw "$WORKERS" "$(echo "$raw" | sed 's/.*tx_s=\([0-9]*\).*/\1/')" \
	    "$(echo "$raw" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')" \
	    "$(echo "$raw" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')" \
	    "$cpu0" "$(cpu_snap)" $((WARM + DUR))
done
if want client; then
	for c in $CONNS; do
		client_point "$c"
	done
fi

report_header
for c in $CONNS; do
	for t in webhook dup client pay; do
		want "${t/dup/webhook}" && report "$t" "$c"
	done
done
want raw && report raw "$WORKERS"
echo
echo "ratios of medians ($(nproc) cores, $WORKERS webhook workers, $WORKERS raw connections, flush_log_at_trx_commit=1):"
want webhook && want pay && want raw && for c in $CONNS; do
	awk -v c="$c" -v w="$(median_of webhook "$c")" -v p="$(median_of pay "$c")" \
	    -v r="$(median_of raw "$WORKERS")" 'BEGIN {
		printf "  @%-3d webhook/raw %.2f (target >= 0.60)   webhook/pay %.2f (target >= 0.90)\n",
		    c, w / r, w / p }'
done
echo "ledger: $(sqlroot -N tally -e "SELECT COUNT(*) FROM payments p WHERE amount_cent <> (SELECT SUM(amount_cent) FROM shares s WHERE s.payment_id = p.id AND kind IN ('split','fee_adjustment'))") payments whose shares do not sum to their amount"
