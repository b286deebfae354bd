#!/bin/sh
# Build the dragonipc Python package for 64-bit Windows CPython in a MinGW
# cross build tree (make windows-python runs this):
#
#   build.sh SRCDIR BUILDDIR
#
# leaves BUILDDIR/python-win/lib/dragonipc/: the package's Python files,
# the extension _dragonipc.cpXY-win_amd64.pyd and a copy of
# libdragonipc-N.dll beside it, where Windows finds it (see __init__.py).
# The extension is a per-version build (cpXY): doc/windows.md says why it
# does not use the stable ABI.
#
# What it takes, from make: CC, NM, DLLTOOL (the MinGW-w64 tools), CFLAGS,
# and WIN_PY_VERSION (default 3.11) and WIN_PY_INCLUDE (default
# /usr/include/pythonX.Y), the directory of that CPython version's headers.
# The headers of any platform serve, as only pyconfig.h differs: they are
# copied without it and our python/win/pyconfig.h goes in its place.
#
# No Windows Python is needed to build: the import library of pythonXY.dll
# is made from the names the extension's objects import, so the link
# checks nothing against the real DLL; importing the module does (the
# tests of make windows-python-check).
set -eu
src=$1
top=$2
: "${CC:?}" "${NM:?}" "${DLLTOOL:?}"
ver=${WIN_PY_VERSION:-3.11}
xy=$(echo "$ver" | tr -d .)
inc=${WIN_PY_INCLUDE:-/usr/include/python$ver}
out=$top/python-win

if [ ! -f "$inc/Python.h" ] || ! grep -q "^#define PY_VERSION *\"$ver\." "$inc/patchlevel.h"; then
	echo "windows-python: no CPython $ver headers in $inc (Debian: apt-get install" \
	     "libpython$ver-dev), or set WIN_PY_INCLUDE to their directory" >&2
	exit 1
fi
dll=
for f in "$top"/.libs/libdragonipc-*.dll; do
	[ -f "$f" ] && dll=$f
done
if [ -z "$dll" ] || [ ! -f "$top/.libs/libdragonipc.dll.a" ]; then
	echo "windows-python: no libdragonipc DLL in $top/.libs: is this a MinGW build?" >&2
	exit 1
fi

rm -rf "$out/include" "$out/tmp" "$out/lib"
mkdir -p "$out/include" "$out/tmp" "$out/lib/dragonipc"
cp -RL "$inc/." "$out/include/"
rm -f "$out/include/pyconfig.h"
cp "$src/python/win/pyconfig.h" "$out/include/pyconfig.h"

objs=
for c in module pool channel message handles stream chanset; do
	# -isystem: our warnings are for our code, not CPython's headers.
	# shellcheck disable=SC2086
	$CC ${CFLAGS:-} -O2 -DNDEBUG -isystem "$out/include" -I"$src/include" \
		-c "$src/python/ext/$c.c" -o "$out/tmp/$c.o"
	objs="$objs $out/tmp/$c.o"
done

# pythonXY.dll's import library: every Py* name the objects refer to, as
# imported (__imp_Py...) or as a function address (tp_new = PyType_GenericNew).
{
	echo "LIBRARY python$xy.dll"
	echo "EXPORTS"
	# shellcheck disable=SC2086
	$NM -u $objs | awk '$1 == "U" { n = $2; sub(/^__imp_/, "", n); if (n ~ /^_?Py/) print n }' |
		sort -u
} >"$out/tmp/python$xy.def"
$DLLTOOL -d "$out/tmp/python$xy.def" -l "$out/tmp/libpython$xy.dll.a"

pyd=$out/lib/dragonipc/_dragonipc.cp$xy-win_amd64.pyd
# -static-libgcc: GCC's helpers go into the .pyd, which then needs no
# MinGW runtime DLL, as the library itself (t/dll.sh).
# shellcheck disable=SC2086
$CC -shared -static-libgcc -o "$pyd" $objs -L"$out/tmp" -lpython$xy "$top/.libs/libdragonipc.dll.a"

for f in "$src"/python/src/dragonipc/*.py "$src"/python/src/dragonipc/*.pyi \
	 "$src"/python/src/dragonipc/py.typed "$dll"; do
	cp "$f" "$out/lib/dragonipc/"
done
mkdir -p "$out/lib/dragonipc/infrastructure"
for f in "$src"/python/src/dragonipc/infrastructure/*.py \
	 "$src"/python/src/dragonipc/infrastructure/*.pyi; do
	cp "$f" "$out/lib/dragonipc/infrastructure/"
done
echo "windows-python: $out/lib/dragonipc (CPython $ver, $(basename "$dll"))"
