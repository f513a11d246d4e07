#!/bin/sh
# tests/checksrc.sh - the house style and the layers, checked in 'make check'
#
# Style (docs/style.md): lines of at most 80 columns (tabs to 8), no
# trailing white space, no // comments, none of the banned functions
# (sprintf vsprintf strcpy strcat gets atoi atol atoll strtok), no
# assignment inside an if condition.
# Layers (docs/style.md): core/ never includes FastCGI; core/util/ includes
# neither MariaDB nor FastCGI nor a core/ header; fcgi/ holds no SQL and
# no MariaDB call; the include graph of core/ has no loop (an edge
# "a -> b" for each core/a.c or core/a.h that includes core/b.h, sorted
# with tsort: docs/architecture.md, "Modules"); every table is written
# only by the module that owns it (the list below).
#
# Prints every violation as FILE:LINE: what; exits 1 if there is any.

top=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 1
files=$(find core fcgi ctl tests/unit tests/db tests/split tests/stripe \
    tests/fuzz -name '*.[ch]' ! -name sig_vectors.h 2>/dev/null | sort)
bad=0

style=$(awk '
function width(s,    i, c, w) {
	w = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\t") w = w + 8 - w % 8; else w++
	}
	return w
}
FNR == 1 { incomment = 0 }
{
	line = $0
	if (width(line) > 80) print FILENAME ":" FNR ": longer than 80 columns"
	if (line ~ /[ \t]+$/) print FILENAME ":" FNR ": trailing white space"
	# drop string literals and block comments before looking at code
	code = line
	gsub(/"([^"\\]|\\.)*"/, "\"\"", code)
	gsub(/\x27([^\x27\\]|\\.)*\x27/, "0", code)
	if (incomment) {
		if (code ~ /\*\//) { sub(/^.*\*\//, "", code); incomment = 0 }
		else next
	}
	gsub(/\/\*.*\*\//, "", code)
	if (code ~ /\/\*/) { sub(/\/\*.*$/, "", code); incomment = 1 }
	if (code ~ /\/\//) print FILENAME ":" FNR ": // comment"
	if (code ~ /(^|[^a-z_])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok)[ \t]*\(/)
		print FILENAME ":" FNR ": banned function"
	if (code ~ /(^|[ \t}])if[ \t]*\(/) {
		cond = code
		sub(/.*(^|[ \t}])if[ \t]*\(/, "", cond)
		gsub(/[=!<>]=/, "", cond)
		if (cond ~ /[^=]=[^=]/)
			print FILENAME ":" FNR ": assignment in an if condition"
	}
}' $files)
if [ -n "$style" ]; then
	echo "$style"
	bad=1
fi

layer() {
	out=$(grep -nE "$2" $3 2>/dev/null)
	if [ -n "$out" ]; then
		echo "$out" | sed "s|\$|   <- $1|"
		bad=1
	fi
}
core_files=$(find core -name '*.[ch]' | sort)
util_files=$(find core/util -name '*.[ch]' | sort)
fcgi_files=$(find fcgi -name '*.c' | sort)
layer "core/ must not know FastCGI" 'fcgiapp\.h|FCGX_' "$core_files"
layer "core/util/ is below MariaDB, FastCGI and core/" \
    '#include [<"](mysql|fcgiapp|errmsg|config|ctx|db|auth|tx|jwt)\.h' \
    "$util_files"
layer "fcgi/ holds no SQL (docs/style.md)" \
    'mysql_|mariadb_|"[^"]*\b(SELECT|INSERT|UPDATE|DELETE) ' "$fcgi_files"

# core/'s modules call downward only: a module is core/a.c with core/a.h;
# a.c or a.h including b.h is an edge a -> b, and tsort finds any loop
# (its members are printed)
edges=$(for f in core/*.c core/*.h; do
	m=$(basename "$f"); m=${m%.*}
	sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r h; do
		[ -f "core/$h.h" ] && [ "$h" != "$m" ] && echo "$m $h"
	done
done)
loop=$(echo "$edges" | tsort 2>&1 >/dev/null)
if [ -n "$loop" ]; then
	echo "$loop" | sed 's|$|   <- core/ includes form a loop (docs/architecture.md)|'
	bad=1
fi

# one writer per table (docs/architecture.md, "Modules"): the tables each
# core/ file writes (INSERT, UPDATE, DELETE, REPLACE in its SQL strings,
# adjacent literals joined) must be among those its module owns
owners='
accounts catalog.c
admin_sessions auth.c
admin_users auth.c
advances advance.c advance_offset.c
ambassador_links catalog.c
api_keys auth.c
audit_chain audit_chain.c
audit_log audit.c
buyer_identities auth.c
checkouts checkout.c checkout_pi.c
disputes dispute.c
host_partners catalog.c
idempotency_keys idem.c
login_throttle auth.c
outbox outbox.c
payments payments.c
payouts payout.c
payout_deferrals payout_defer.c
products catalog.c
reconciliation_lines reconcile.c
reconciliation_reports reconcile.c
reconciliation_acks reconcile.c
external_transfers reconcile.c
refunds refund.c refund_book.c refund_events.c
report_block_payees report_daily.c
report_block_products report_daily.c
report_days report_daily.c
report_today report_daily.c
report_top_payees report_daily.c
report_top_products report_daily.c
schema_migrations migrate.c
shares shares.c
stripe_event_cursors events.c
transfer_reversals recover.c
tx_ops tx.c
webhook_events webhook.c
webhook_refusals webhook.c
'
writes=$(awk 'function flush(   t, rest) {
	rest = grp
	gsub(/KEY UPDATE/, "KEY_UPD", rest)
	while (match(rest, /(INSERT( IGNORE)? INTO|UPDATE|DELETE FROM|REPLACE INTO)[ \t]+[a-z_]+/)) {
		t = substr(rest, RSTART, RLENGTH)
		sub(/.*[ \t]/, "", t)
		print t, f
		rest = substr(rest, RSTART + RLENGTH)
	}
	grp = ""
}
FNR == 1 { if (src != "") scan(); src = ""; f = FILENAME }
{ src = src $0 "\n" }
function scan(   out, i, j, n, k, c, lit) {
	# drop comments
	out = ""
	while ((i = index(src, "/*")) > 0) {
		out = out substr(src, 1, i - 1)
		src = substr(src, i + 2)
		j = index(src, "*/")
		if (j == 0) { src = ""; break }
		src = substr(src, j + 2)
	}
	src = out src
	n = length(src); grp = ""; between = ""; k = 1
	while (k <= n) {
		c = substr(src, k, 1)
		if (c == "\047") {		# a char literal: skip it
			k++
			if (substr(src, k, 1) == "\\") k++
			k += 2
			continue
		}
		if (c != "\"") {
			if (c !~ /[ \t\n]/ && grp != "") flush()
			k++
			continue
		}
		k++
		lit = ""
		while (k <= n && (c = substr(src, k, 1)) != "\"") {
			if (c == "\\") { lit = lit substr(src, k, 2); k += 2; continue }
			lit = lit c; k++
		}
		k++
		grp = grp lit
	}
	if (grp != "") flush()
}
END { if (src != "") scan() }
' core/*.c | sort -u)
echo "$writes" | while read -r t f; do
	[ -n "$t" ] || continue
	line=$(echo "$owners" | grep "^$t ")
	case " ${line#* } " in
	*" ${f#core/} "*) ;;
	*) echo "$f: writes $t   <- not its owner (docs/architecture.md)" ;;
	esac
done >"${TMPDIR:-/tmp}/checksrc.$$"
if [ -s "${TMPDIR:-/tmp}/checksrc.$$" ]; then
	cat "${TMPDIR:-/tmp}/checksrc.$$"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/checksrc.$$"

# comments cite documents in this repository, never the design card
# beside it (docs/style.md, "Comments")
out=$(grep -nE 'DESIGN (§|section)|STYLE\.md|shared/(DESIGN|STYLE|ROADMAP)' \
    $files 2>/dev/null)
if [ -n "$out" ]; then
	echo "$out" | sed 's|$|   <- cite docs/ in this repository|'
	bad=1
fi
for doc in $(grep -ohE 'docs/[a-z_-]+\.md' $files 2>/dev/null | sort -u); do
	if [ ! -f "$doc" ]; then
		echo "$doc: cited in a comment, not in the repository"
		bad=1
	fi
done

if [ $bad = 0 ]; then
	echo "checksrc: $(echo "$files" | wc -l) files clean"
fi
exit $bad
