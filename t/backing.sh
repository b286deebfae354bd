#!/bin/sh
# Backing is reserved at create (Linux, as root):
#  - in a /dev/shm too small for it, creating a pool or opening a stream
#    fails with DIPC_ENOSPC, says why in the log, and leaves no name
#    behind, instead of succeeding and killing the first process that
#    touches the missing pages with SIGBUS;
#  - the same when the room was there but others have used it;
#  - a pool or stream that fits can have every byte written through the
#    API (the pool's heap allocated away and written, the stream's ring
#    written full and read back) without a SIGBUS.
# The small /dev/shm is an 8 MiB tmpfs mounted in a private mount
# namespace (unshare -m), so the machine's /dev/shm is not touched and
# the mount goes away with the namespace.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
helper="$top_builddir/t/backing_helper"
header="$top_srcdir/include/dragonipc.h"

if [ "${1:-}" != inner ]; then
	if [ "$(uname -s)" != Linux ] || [ ! -d /dev/shm ]; then
		echo "1..0 # SKIP Linux only (needs /dev/shm)"
		exit 0
	fi
	if [ ! -x "$helper" ] || [ ! -r "$header" ]; then
		echo "1..0 # SKIP no t/backing_helper or header here"
		exit 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root (a private mount namespace with a small /dev/shm)"
		exit 0
	fi
	if ! command -v unshare >/dev/null 2>&1 ||
	   ! unshare -m --propagation private sh -c \
		'mount -t tmpfs -o size=1m none /dev/shm' >/dev/null 2>&1; then
		echo "1..0 # SKIP cannot mount a tmpfs in a private mount namespace (unshare -m)"
		exit 0
	fi
	exec unshare -m --propagation private "${SHELL:-/bin/sh}" "$0" inner
fi

# ---- inside the namespace ---------------------------------------------------

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$1', want '$2'"; fi
}
code() { sed -n "s/^#define $1 *(\(-[0-9]*\)).*/\1/p" "$header"; }
val() { sed -n "s/^$1=//p" "$2" | head -n 1; }

ENOSPC=$(code DIPC_ENOSPC)
MiB=1048576
tmp=$(mktemp -d)
trap 'umount /dev/shm 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

echo "1..19"

mount -t tmpfs -o size=8m,mode=1777 none /dev/shm
ok $? "an 8 MiB tmpfs is mounted over /dev/shm in a private mount namespace"

# run WHAT NAME SIZE: the helper's output in $tmp/out, its log in
# $tmp/err, its exit status in $st; a death by signal is said.
run() {
	if command -v timeout >/dev/null 2>&1; then
		timeout -s KILL 120 "$helper" "$@" >"$tmp/out" 2>"$tmp/err"
	else
		"$helper" "$@" >"$tmp/out" 2>"$tmp/err"
	fi
	st=$?
	if [ "$st" -gt 128 ]; then
		sig=$((st - 128))
		echo "#   $1 $2: the helper was killed by signal $sig ($(kill -l "$sig" 2>/dev/null))"
	fi
	sed 's/^/#   log: /' "$tmp/err"
}
# Names in /dev/shm other than the ones given.
left() {
	ls -A /dev/shm | grep -v -x -e "${1:-}" | tr '\n' ' '
}
# Remove what a failing step left, so that the next one starts with the
# whole 8 MiB free.
clean() {
	rm -f /dev/shm/dipc.*
}

# -- larger than the whole /dev/shm
run pool big-pool $((64 * MiB))
is "$(val rc "$tmp/out")" "$ENOSPC" "a 64 MiB pool in an 8 MiB /dev/shm: create is DIPC_ENOSPC"
is "$st" 0 "... and nobody was killed (exit status $st)"
grep -q "cannot reserve.*DIPC_ENOSPC" "$tmp/err"
ok $? "... and the log says that the backing could not be reserved"
is "$(left)" "" "... and nothing is left in /dev/shm"
clean

run stream big-stream $((64 * MiB))
is "$(val rc "$tmp/out")" "$ENOSPC" "a stream with a 64 MiB ring: open is DIPC_ENOSPC"
is "$st" 0 "... and nobody was killed (exit status $st)"
grep -q "cannot reserve.*DIPC_ENOSPC" "$tmp/err"
ok $? "... and the log says that the backing could not be reserved"
is "$(left)" "" "... and nothing is left in /dev/shm"
clean

# -- room that others have taken: 6 of the 8 MiB hold another file
head -c $((6 * MiB)) /dev/zero >/dev/shm/filler
ok $? "another file takes 6 of the 8 MiB"
run pool mid-pool $((4 * MiB))
is "$(val rc "$tmp/out")/$st" "$ENOSPC/0" "then a 4 MiB pool is DIPC_ENOSPC at create"
run stream mid-stream $((4 * MiB))
is "$(val rc "$tmp/out")/$st" "$ENOSPC/0" "then a 4 MiB stream is DIPC_ENOSPC at open"
is "$(left filler)" "" "... and neither left anything in /dev/shm"
rm -f /dev/shm/filler
clean

# -- what fits is usable to the last byte
run pool fit-pool $((6 * MiB))
filled=$(val filled "$tmp/out")
total=$(val total "$tmp/out")
is "$(val rc "$tmp/out")" 0 "a 6 MiB pool in the 8 MiB /dev/shm is created"
is "$st" 0 "... and every byte of its heap that allocations reach was written and read back"
echo "#   $filled of the heap's $total bytes written"
[ -n "$filled" ] && [ "$filled" -gt $((5 * MiB)) ]
ok $? "... which is nearly all of the heap"
clean

run stream fit-stream $((6 * MiB))
is "$(val rc "$tmp/out")" 0 "a stream with a 6 MiB ring is opened"
is "$(val filled "$tmp/out")/$(val read "$tmp/out")/$st" "$((6 * MiB))/$((6 * MiB))/0" \
	"... and its whole ring was written full and read back"
is "$(left)" "" "nothing is left in /dev/shm at the end"

[ "$n" = 19 ] || echo "# planned 19, ran $n"
[ "$failed" = 0 ]
