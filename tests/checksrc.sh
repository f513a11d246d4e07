#!/bin/sh
# tests/checksrc.sh - the house style and the layers, checked in 'make check'
#
# Style (docs/style.md): lines of at most 80 columns (tabs to 8), no
# trailing white space, no // comments, none of the banned functions
# (sprintf vsprintf strcpy strcat gets atoi atol atoll strtok), no
# assignment inside an if condition.
# Layers (docs/style.md): core/ never includes FastCGI; core/util/ includes
# neither MariaDB nor FastCGI nor a core/ header; fcgi/ holds no SQL and
# no MariaDB call.
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

if [ $bad = 0 ]; then
	echo "checksrc: $(echo "$files" | wc -l) files clean"
fi
exit $bad
