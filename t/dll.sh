#!/bin/sh
# Windows build: the DLL exports exactly the DIPC_API functions of the
# public header, and needs nothing beyond Windows itself (no MinGW runtime
# DLL such as libgcc or libwinpthread has to travel with it).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
dll=
for f in "$top_builddir"/.libs/libdragonipc-*.dll; do
	[ -f "$f" ] && dll=$f
done
objdump=$(sed -n 's/^OBJDUMP="*\([^"]*\)"*$/\1/p' "$top_builddir/libtool" 2>/dev/null)
: "${objdump:=objdump}"
if [ -z "$dll" ] || ! command -v "$objdump" >/dev/null 2>&1; then
	echo "1..0 # SKIP no DLL or no $objdump here"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e 's,/\*.*\*/,,g' "$top_srcdir/include/dragonipc.h" | tr '\n' ' ' |
	grep -o 'DIPC_API[^;(]*(' | grep -o 'dipc_[A-Za-z0-9_]*' | sort -u >"$tmp/declared"
"$objdump" -p "$dll" >"$tmp/dump"
# The name table: lines "[  n] name" after "[Ordinal/Name Pointer] Table".
awk '/\[Ordinal\/Name Pointer\] Table/ { on = 1; next }
     on && NF == 0 { on = 0 }
     on && /^[ \t]*\[ *[0-9]+\]/ { print $NF }' "$tmp/dump" | sort -u >"$tmp/exported"
awk '/DLL Name:/ { print tolower($NF) }' "$tmp/dump" | sort -u >"$tmp/imports"

echo "1..4"
n=$(wc -l <"$tmp/declared")
if [ "$n" -gt 0 ]; then echo "ok 1 - header declares $n functions"; else echo "not ok 1 - no declaration found"; fi
extra=$(comm -13 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
if [ -z "$extra" ]; then echo "ok 2 - nothing exported beyond the header"; else echo "not ok 2 - exported but not declared: $extra"; fi
missing=$(comm -23 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
if [ -z "$missing" ]; then echo "ok 3 - every declared function is exported"; else echo "not ok 3 - declared but not exported: $missing"; fi
foreign=$(grep -v -E '^(kernel32|msvcrt|ucrtbase|ntdll|advapi32|api-ms-win-.*)\.dll$' "$tmp/imports" | tr '\n' ' ')
if [ -z "$foreign" ]; then
	echo "ok 4 - imports only system DLLs: $(tr '\n' ' ' <"$tmp/imports")"
else
	echo "not ok 4 - needs DLLs Windows does not have: $foreign"
fi
