#!/bin/sh
# tests/installcheck.sh - every migration (schema/*.sql) and every static
# page (web/**) is in Makefile.am's install lists, so that 'make install',
# 'make dist' and the Debian package carry it (automake takes no globs: a
# new file must be listed, or the installed tallyctl migrate misses it);
# run by 'make check'.

top=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 1
bad=0
# the Makefile.am lines, continuations joined
am=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Makefile.am)
for f in $(find schema -name '*.sql' | sort) $(find web -type f | sort); do
	printf '%s\n' "$am" | grep -qE "^(dist_schema_DATA|nobase_dist_pkgdata_DATA) =.*[[:space:]]$f([[:space:]]|\$)" ||
	    { echo "$f: not in Makefile.am's install lists"; bad=1; }
done
[ $bad = 0 ] && echo "schema/ and web/: every file installed"
exit $bad
