#!/bin/sh
# The dipc tool against live and stale segments made by t/dipc_fixture.
set -u
: "${top_builddir:=.}"
dipc="$top_builddir/tools/dipc"
fixture="$top_builddir/t/dipc_fixture"
if [ ! -x "$dipc" ] || [ ! -d /dev/shm ]; then
	echo "1..0 # SKIP no dipc tool or no /dev/shm here"
	exit 0
fi
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..17"
pool="t-dipc-p-$$"; stream="t-dipc-s-$$"
tmp=$(mktemp -d)
fifo="$tmp/ready"; mkfifo "$fifo"
"$fixture" "$pool" "$stream" >"$fifo" &
fpid=$!
read -r line <"$fifo"
cleanup() { kill -9 "$fpid" 2>/dev/null; "$dipc" rm "pool:$pool" "stream:$stream" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
[ "$line" = ready ]; ok $? "fixture made a pool and a stream"

"$dipc" list >"$tmp/list"; ok $? "list exits 0"
grep -q "^pool  *$pool .* $fpid\$" "$tmp/list"; ok $? "list shows the pool mapped by the fixture"
grep -q "^stream  *$stream .*0600  $fpid\$" "$tmp/list"; ok $? "list shows the stream, its mode and its process"
"$dipc" --json list >"$tmp/json" && python3 -c '
import json, sys
segs = json.load(open(sys.argv[1]))
mine = {(s["kind"], s["name"]): s for s in segs}
p = mine[("pool", sys.argv[2])]; s = mine[("stream", sys.argv[3])]
assert p["pids"] == [int(sys.argv[4])] and not p["stale"] and s["mode"] == "0600"
' "$tmp/json" "$pool" "$stream" "$fpid"; ok $? "list --json parses and agrees"
"$dipc" status "$pool" >"$tmp/st"; ok $? "status of the pool exits 0"
grep -q "channel 42 *7 / 100 *messages" "$tmp/st"; ok $? "pool status shows channel 42 with 7 of 100 messages"
"$dipc" --json status "stream:$stream" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["buffered"] == 8 and s["writer"] == sys.argv[1] and s["reader"] == "none", s
' "$fpid"; ok $? "stream status --json: 8 bytes buffered, writer alive, no reader"
! "$dipc" gc --dry-run "pool:$pool" "stream:$stream" | grep -q -e "$pool" -e "$stream"; ok $? "gc leaves live segments alone"

kill -9 "$fpid"; wait "$fpid" 2>/dev/null
# gc spares segments younger than 2 s; ours must look old enough.
touch -d "@$(( $(date +%s) - 10 ))" "/dev/shm/dipc.p.$pool" "/dev/shm/dipc.s.$stream" 2>/dev/null
# Only ever collect our own segments: other tests run beside this one.
mine="pool:$pool stream:$stream"
"$dipc" list | grep "$pool" | grep -q "(stale)"; ok $? "a killed creator's pool is listed as stale"
"$dipc" gc --dry-run $mine | grep -q "would remove stream $stream"; ok $? "gc --dry-run names the stale stream"
[ -e "/dev/shm/dipc.p.$pool" ]; ok $? "and removes nothing"
"$dipc" --json gc $mine >"$tmp/gc"; ok $? "gc exits 0"
[ ! -e "/dev/shm/dipc.p.$pool" ] && [ ! -e "/dev/shm/dipc.s.$stream" ]; ok $? "gc removed both stale segments"

"$dipc" status "$pool" 2>/dev/null; [ $? = 3 ]; ok $? "status of a missing name exits 3"
"$dipc" frobnicate 2>/dev/null; [ $? = 2 ]; ok $? "an unknown command exits 2"
# A segment of another kind under the same prefix is neither shown nor
# taken for a stream.
other="/dev/shm/dipc.x.t-dipc-o-$$"
: >"$other" && touch -d "@$(( $(date +%s) - 10 ))" "$other"
! "$dipc" list | grep -q "t-dipc-o-$$"; ok $? "list leaves out segments that are not pools or streams"
rm -f "$other"
