#!/bin/sh
# t/core_deps.sh - the core library needs no network engine.
#
# dipc-bridge carries channels between hosts over ZeroMQ; the library
# itself must stay free of it (and of any other networking library), so
# that linking -ldragonipc never pulls one in.  The shared object's
# NEEDED entries are read from its dynamic section; every one must be a
# part of the C library (or a sanitizer's runtime, in those builds).
: "${top_builddir:=.}"
so="$top_builddir/.libs/libdragonipc.so"
if [ ! -f "$so" ]; then
	echo "1..0 # SKIP no ELF shared library in this build"
	exit 0
fi
if ! command -v readelf >/dev/null 2>&1; then
	echo "1..0 # SKIP no readelf"
	exit 0
fi
echo "1..3"
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | tr '\n' ' ')
n=1
if [ -n "$needed" ]; then
	echo "ok $n - the library's dependencies are read: $needed"
else
	echo "not ok $n - no NEEDED entry read from $so"
fi
n=$((n + 1))
net=$(echo "$needed" | tr ' ' '\n' | grep -E 'zmq|sodium|ucx|ucp|fabric|ssl|curl' || true)
if [ -z "$net" ]; then
	echo "ok $n - no network library among them"
else
	echo "not ok $n - network libraries linked: $net"
fi
n=$((n + 1))
other=$(echo "$needed" | tr ' ' '\n' | grep -v -E '^$|^(libc|libpthread|librt|libdl|libm|libasan|libtsan|libubsan|liblsan)\.so|^ld-linux' || true)
if [ -z "$other" ]; then
	echo "ok $n - only the C library's parts"
else
	echo "not ok $n - other dependencies: $other"
fi
