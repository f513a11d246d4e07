#!/usr/bin/env bash
# tests/fuzz/run.sh - run the libFuzzer targets of tests/fuzz
#
#   tests/fuzz/run.sh BUILD SECONDS OUT [TARGET ...]
#
# BUILD is a tree configured with --enable-fuzz (build-fuzz/) whose
# targets are made; each TARGET (default: all of them, one after the
# other: the machine's cores are shared) runs for SECONDS over a working
# corpus in OUT/corpus/TARGET seeded by the committed one
# (tests/fuzz/corpus/TARGET, read, never written) with its dictionary
# (tests/fuzz/TARGET.dict), under ASan and UBSan.  A crash, a leak, a
# sanitizer report, a failed invariant or a timeout stops the target and
# its input is saved as OUT/crashes/TARGET-crash-<sha1> (replay it with
# BUILD/tests/fuzz/fuzz_TARGET FILE, then make it a unit test).
#
# Prints one line per target, which tests/run counts:
#   PASS: fuzz TARGET: N executions in S s, corpus C inputs
#   FAIL: fuzz TARGET: <what>, input saved as FILE
# and exits 1 when any target failed.  With FUZZ_MERGE=1 the new inputs
# are merged (minimised) into the committed corpus afterwards (./dev fuzz
# does it on request, never CI).

set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$1
SECONDS_PER=$2
OUT=$3
shift 3
TARGETS=${*:-http json form ini jwt stripe_sig webhook}
bad=0

mkdir -p "$OUT/crashes"
for t in $TARGETS; do
	bin=$BUILD/tests/fuzz/fuzz_$t
	seeds=$SRC/tests/fuzz/corpus/$t
	work=$OUT/corpus/$t
	log=$OUT/$t.log
	if [ ! -x "$bin" ]; then
		echo "FAIL: fuzz $t: $bin not built (make -C $BUILD fuzz-targets)"
		bad=1
		continue
	fi
	mkdir -p "$work"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$bin" -max_total_time="$SECONDS_PER" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -dict="$SRC/tests/fuzz/$t.dict" \
	    -artifact_prefix="$OUT/crashes/$t-" \
	    "$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	ncorp=$(find "$work" "$seeds" -type f | wc -l)
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$art" ]; then
		echo "PASS: fuzz $t: ${execs:-0} executions in" \
		    "$SECONDS_PER s, corpus $ncorp inputs"
	else
		what=$(grep -m 1 -E 'ERROR: |check failed|runtime error' \
		    "$log" | sed 's/^==[0-9]*==//')
		echo "FAIL: fuzz $t: ${what:-exit $rc}, input saved as" \
		    "${art:-(none)}"
		grep -A 30 -m 1 -E 'ERROR: |check failed|runtime error' \
		    "$log" | head -n 40
		bad=1
	fi
	if [ "${FUZZ_MERGE:-}" = 1 ] && [ "$rc" -eq 0 ]; then
		"$bin" -merge=1 "$seeds" "$work" >"$OUT/$t.merge.log" 2>&1 ||
		    echo "fuzz $t: merge failed (see $OUT/$t.merge.log)"
	fi
done
exit $bad
