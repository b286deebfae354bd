#!/bin/sh
# The library exports exactly the DIPC_API functions of the public header:
# nothing internal leaks out, and nothing declared is missing.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
lib="$top_builddir/.libs/libdragonipc.so"
if [ ! -f "$lib" ] || ! command -v nm >/dev/null 2>&1; then
	echo "1..0 # SKIP no ELF shared library or no nm here"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Declarations: DIPC_API up to the function name, comments removed.
sed -e 's,/\*.*\*/,,g' "$top_srcdir/include/dragonipc.h" | tr '\n' ' ' |
	grep -o 'DIPC_API[^;(]*(' | grep -o 'dipc_[A-Za-z0-9_]*' | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
echo "1..3"
n=$(wc -l <"$tmp/declared")
if [ "$n" -gt 50 ]; then echo "ok 1 - header declares $n functions"; else echo "not ok 1 - header declares only $n functions"; fi
extra=$(comm -13 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
if [ -z "$extra" ]; then echo "ok 2 - nothing exported beyond the header"; else echo "not ok 2 - exported but not declared: $extra"; fi
missing=$(comm -23 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
if [ -z "$missing" ]; then echo "ok 3 - every declared function is exported"; else echo "not ok 3 - declared but not exported: $missing"; fi
