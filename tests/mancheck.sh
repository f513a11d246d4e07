#!/bin/sh
# tests/mancheck.sh - the man pages (man/*.[58]) pass 'mandoc -Tlint'
# with warnings counted as failures; run by 'make check'.  Skips (exit
# 77) when mandoc is not installed (./dev deps installs it).

top=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v mandoc >/dev/null 2>&1 || { echo "mandoc not installed: skip"; exit 77; }
bad=0
n=0
for f in "$top"/man/*.[58]; do
	n=$((n + 1))
	mandoc -Tlint -Wwarning "$f" || bad=1
done
[ "$n" -ge 3 ] || { echo "expected 3 man pages in $top/man, found $n"; exit 1; }
[ $bad = 0 ] && echo "$n man pages: mandoc -Tlint clean"
exit $bad
