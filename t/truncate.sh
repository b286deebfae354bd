#!/bin/sh
# Truncated segments (Linux).  Anyone with write access to a pool or a
# stream can truncate its file; what is promised then (dragonipc(7)):
#  1. a process that attaches or opens it afterwards gets DIPC_ECORRUPT,
#     by name or by descriptor, never a crash;
#  2. dipc list, status and gc report it and do not crash, even when the
#     file shrinks between dipc's mapping it and reading it;
#  3. a process already attached that touches the lost part is killed by
#     SIGBUS (write access includes that power); the processes that do
#     not touch it go on unaffected.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
helper="$top_builddir/t/truncate_helper"
dipc="$top_builddir/tools/dipc"
shim="$top_builddir/t/.libs/trunc_shim.so"
header="$top_srcdir/include/dragonipc.h"
if [ "$(uname -s)" != Linux ] || [ ! -d /dev/shm ]; then
	echo "1..0 # SKIP Linux only (needs /dev/shm)"
	exit 0
fi
if [ ! -x "$helper" ] || [ ! -x "$dipc" ] || [ ! -r "$header" ]; then
	echo "1..0 # SKIP no t/truncate_helper, tools/dipc or header here"
	exit 0
fi

n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$1', want '$2'"; fi; }
ECORRUPT=$(sed -n 's/^#define DIPC_ECORRUPT *(\(-[0-9]*\)).*/\1/p' "$header")
# Exit status of a process killed by a signal: 128 + its number.
killed_by() { [ "$1" -gt 128 ] && [ "$(kill -l "$1")" = "$2" ]; }
# Make a segment look older than gc's 2 s of grace.
age() { touch -d "@$(( $(date +%s) - 10 ))" "$@" 2>/dev/null; }

echo "1..37"
tag="t-trunc-$$"
start_env=
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -f /dev/shm/dipc.p."$tag"* /dev/shm/dipc.s."$tag"*
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Start "helper ARGS" in the background with its output on a pipe read
# through descriptor $1; its pid in $bg.
start() {
	fd=$1
	shift
	mkfifo "$tmp/fifo.$fd"
	# $start_env: one VAR=value a line, for this helper only.
	(
		IFS='
'
		# shellcheck disable=SC2086
		exec env $start_env "$helper" "$@"
	) >"$tmp/fifo.$fd" &
	bg=$!
	pids="$pids $bg"
	eval "exec $fd<\"$tmp/fifo.\$fd\""
	rm -f "$tmp/fifo.$fd"
}

# ---- 1 and 2: a truncated pool and stream, at four sizes -----------------
for cut in 0 100 header half; do
	pool="$tag-$cut"; stream="$tag-s$cut"
	pf="/dev/shm/dipc.p.$pool"; sf="/dev/shm/dipc.s.$stream"
	start 3 make "$pool" "$stream" "$tmp"
	read -r line <&3
	maker=$bg
	pfull=$(stat -c %s "$pf"); sfull=$(stat -c %s "$sf")
	case $cut in
	header) psize=4096; ssize=320 ;;        # the headers alone
	half) psize=$((pfull / 2)); ssize=$((sfull - 2048)) ;;
	*) psize=$cut; ssize=$cut ;;
	esac
	truncate -s "$psize" "$pf" && truncate -s "$ssize" "$sf"
	[ "$line" = ready ]; ok $? "cut to $cut: pool and stream made and truncated"

	"$helper" attach "$pool" "$tmp" >"$tmp/out" 2>&1
	is "$?:$(cat "$tmp/out")" "0:name=$ECORRUPT desc=$ECORRUPT chan=$ECORRUPT" \
		"cut to $cut: attaching the pool by name, by descriptor or its channel: DIPC_ECORRUPT"
	"$helper" open "$stream" >"$tmp/out" 2>&1
	is "$?:$(cat "$tmp/out")" "0:read=$ECORRUPT write=$ECORRUPT" \
		"cut to $cut: opening the stream as reader or writer: DIPC_ECORRUPT"

	"$dipc" status "pool:$pool" >"$tmp/st" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q -e "invalid: truncated" -e "invalid: empty" "$tmp/st"
	ok $? "cut to $cut: dipc status says the pool is truncated (exit $rc)"
	"$dipc" list >"$tmp/list" 2>&1 && grep -q "$stream .*damaged: truncated\|$stream .*damaged: empty" "$tmp/list"
	ok $? "cut to $cut: dipc list says the stream is damaged"

	# Mapped by its maker, the pool stays; once the maker is gone both go.
	age "$pf" "$sf"
	"$dipc" gc "pool:$pool" >"$tmp/gc" 2>&1 && [ -e "$pf" ]
	ok $? "cut to $cut: dipc gc leaves a truncated pool that a process maps"
	kill "$maker"; wait "$maker" 2>/dev/null; exec 3<&-
	age "$pf" "$sf"
	"$dipc" gc "pool:$pool" "stream:$stream" >"$tmp/gc" 2>&1 && [ ! -e "$pf" ] && [ ! -e "$sf" ]
	ok $? "cut to $cut: and removes both once nobody maps them"
done

# ---- 2: the file shrinks between dipc's mapping and reading it -----------
pool="$tag-race"; stream="$tag-srace"
start 3 make "$pool" "$stream" "$tmp"
read -r line <&3
maker=$bg
# A sanitizer's runtime must come first among preloaded libraries.
san_lib=$(ldd "$dipc" 2>/dev/null | awk '/lib[at]san\.so/ { print $3; exit }')
if [ -r "$shim" ]; then
	shim="${san_lib:+$san_lib }$shim"
	LD_PRELOAD="$shim" DIPC_TEST_TRUNCATE="/dev/shm/dipc.p.$pool:4096" \
		"$dipc" status "pool:$pool" >"$tmp/st" 2>"$tmp/err"
	rc=$?
	[ $rc = 1 ] && grep -q "truncated while being read" "$tmp/st"
	ok $? "dipc status survives the pool shrinking under it, and says so (exit $rc)"
	[ "$(stat -c %s "/dev/shm/dipc.p.$pool")" = 4096 ]
	ok $? "the shim did truncate the pool"
	LD_PRELOAD="$shim" DIPC_TEST_TRUNCATE="/dev/shm/dipc.s.$stream:100" \
		"$dipc" --json list >"$tmp/json" 2>"$tmp/err"
	rc=$?
	[ $rc = 0 ] && python3 -c '
import json, sys
segs = {(s["kind"], s["name"]): s for s in json.load(open(sys.argv[1]))}
assert segs[("pool", sys.argv[2])]["problem"].startswith("truncated"), segs
assert segs[("stream", sys.argv[3])]["problem"] is not None, segs
' "$tmp/json" "$pool" "$stream"
	ok $? "dipc --json list survives a stream shrinking under it (exit $rc)"
else
	for i in 1 2 3; do n=$((n + 1)); echo "ok $n # SKIP no t/.libs/trunc_shim.so"; done
fi
kill "$maker"; wait "$maker" 2>/dev/null; exec 3<&-
rm -f "/dev/shm/dipc.p.$pool" "/dev/shm/dipc.s.$stream"

# ---- 3: processes attached when the pool is truncated ---------------------
pool="$tag-att"; stream="$tag-satt"; pf="/dev/shm/dipc.p.$pool"
start 3 make "$pool" "$stream" "$tmp"
read -r line <&3
maker=$bg
# A sanitizer's runtime (CI runs this script under ASan and TSan too)
# would catch the SIGBUS and exit with its own status: let it through.
start_env="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_sigbus=0
TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}handle_sigbus=0"
start 4 user "$pool" touch
start_env=
read -r a <&4
toucher=$bg
start 5 user "$pool" idle
read -r b <&5
idler=$bg
[ "$line $a $b" = "ready ready ready" ]; ok $? "three processes have the pool attached"
truncate -s 4096 "$pf"
"$dipc" status "pool:$pool" >"$tmp/st" 2>&1
[ $? = 1 ] && grep -q "invalid: truncated: 4096 of" "$tmp/st"
ok $? "dipc status says the attached pool is truncated"
kill -USR1 "$toucher" "$idler"
wait "$toucher"
rc=$?
killed_by $rc BUS; ok $? "the process that reads the lost heap is killed by SIGBUS (status $rc)"
read -r b <&5
wait "$idler"
rc=$?
is "$rc:$b" "0:done 0" "the attached process that does not touch it goes on and exits cleanly"
kill -0 "$maker"; ok $? "the pool's maker, holding it untouched, is alive"
kill "$maker"; wait "$maker"
is "$?" 0 "and exits cleanly when told to"
exec 3<&- 4<&- 5<&-
rm -f "$pf" "/dev/shm/dipc.s.$stream"
