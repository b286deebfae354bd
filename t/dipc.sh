#!/bin/sh
# The dipc tool against segments in known states, made by t/dipc_fixture:
#  - list, status and gc on live segments;
#  - gc never removes what the library keeps for a process yet to come:
#    the unread bytes of a stream no reader has opened (a writer that
#    closed, or died) and the messages queued in a pool whose creator is
#    gone; the late reader and the late receiver then get them; once
#    nothing waits, gc removes the segment;
#  - status names the holder of a pool's lock and whether it is running,
#    stopped, a zombie or gone; list flags one that is not running;
#  - gc without names collects only the caller's own segments, refuses
#    another user's by name, and --all-users widens it (as root, in a
#    private /dev/shm so that other tests' segments are never touched).
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
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# gc spares segments younger than 2 s; ours must look old enough.
age() { touch -d "@$(( $(date +%s) - 10 ))" "$@" 2>/dev/null; }
echo "1..50"
tag="t-dipc-$$"
pool="$tag-p"; stream="$tag-s"
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -f /dev/shm/dipc.p."$tag"* /dev/shm/dipc.s."$tag"*
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Start "fixture ARGS" in the background, its output read through
# descriptor $1; its pid in $bg.
start() {
	fd=$1
	shift
	mkfifo "$tmp/fifo.$fd"
	"$fixture" "$@" >"$tmp/fifo.$fd" &
	bg=$!
	pids="$pids $bg"
	eval "exec $fd<\"$tmp/fifo.\$fd\""
	rm -f "$tmp/fifo.$fd"
}

# ---- live segments ------------------------------------------------------
start 3 hold "$pool" "$stream" 7 8
read -r line <&3
fpid=$bg
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
assert p["verdict"] == "in use" and p["lock"] is None and p["problem"] is None, p
' "$tmp/json" "$pool" "$stream" "$fpid"; ok $? "list --json parses and agrees"
"$dipc" status "$pool" >"$tmp/st"; ok $? "status of the pool exits 0"
grep -q "channel 42 *7 / 100 *messages" "$tmp/st"; ok $? "pool status shows channel 42 with 7 of 100 messages"
grep -q "^  lock free$" "$tmp/st"; ok $? "pool status says the lock is free"
"$dipc" --json status "stream:$stream" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["buffered"] == 8 and s["writer"] == sys.argv[1] and s["reader"] == "none", s
' "$fpid"; ok $? "stream status --json: 8 bytes buffered, writer alive, no reader"
! "$dipc" gc --dry-run "pool:$pool" "stream:$stream" | grep -q -e "remove.*$pool" -e "remove.*$stream"
ok $? "gc leaves live segments alone"

# ---- a killed creator that left data for others --------------------------
kill -9 "$fpid"; wait "$fpid" 2>/dev/null; exec 3<&-
age "/dev/shm/dipc.p.$pool" "/dev/shm/dipc.s.$stream"
# Only ever collect our own segments by name: other tests run beside this one.
mine="pool:$pool stream:$stream"
"$dipc" list >"$tmp/list"
grep -q "^pool  *$pool .*  (kept for a receiver)$" "$tmp/list"
ok $? "a killed creator's pool holding messages is kept for a receiver, not stale"
grep -q "^stream  *$stream .*  (kept for a reader)$" "$tmp/list"
ok $? "a killed writer's stream with unread bytes and no reader yet is kept for a reader"
"$dipc" gc $mine >"$tmp/gc"; ok $? "gc exits 0"
[ -e "/dev/shm/dipc.p.$pool" ] && [ -e "/dev/shm/dipc.s.$stream" ]; ok $? "and removes neither"
grep -q "^left pool $pool: kept for a receiver" "$tmp/gc" &&
	grep -q "^left stream $stream: kept for a reader" "$tmp/gc"
ok $? "gc says why it left them"
"$dipc" rm $mine; ok $? "rm removes them when asked to by name"

# ---- segments nobody waits for -------------------------------------------
start 3 hold "$pool" "$stream" 0 0
read -r line <&3
fpid=$bg
kill -9 "$fpid"; wait "$fpid" 2>/dev/null; exec 3<&-
age "/dev/shm/dipc.p.$pool" "/dev/shm/dipc.s.$stream"
"$dipc" list >"$tmp/list"
grep -q "^pool  *$pool .*  (stale)$" "$tmp/list" && grep -q "^stream  *$stream .*  (stale)$" "$tmp/list"
ok $? "an empty pool and stream of a killed process are listed as stale"
"$dipc" gc --dry-run $mine | grep -q "would remove stream $stream"; ok $? "gc --dry-run names the stale stream"
[ -e "/dev/shm/dipc.p.$pool" ]; ok $? "and removes nothing"
"$dipc" --json gc $mine >"$tmp/gc"; ok $? "gc exits 0"
[ ! -e "/dev/shm/dipc.p.$pool" ] && [ ! -e "/dev/shm/dipc.s.$stream" ]; ok $? "gc removed both stale segments"

# ---- a stream kept for a late reader (dipc_stream_open(3)) ---------------
"$fixture" write "$stream" "late bytes"; ok $? "a writer writes and closes before any reader opens"
age "/dev/shm/dipc.s.$stream"
"$dipc" status "stream:$stream" >"$tmp/st"
grep -q "reader none, writer closed" "$tmp/st" && grep -q "^  kept for a reader" "$tmp/st"
ok $? "status: writer closed, no reader yet, kept for a reader"
"$dipc" gc "stream:$stream" >"$tmp/gc" && [ -e "/dev/shm/dipc.s.$stream" ]
ok $? "gc leaves the stream in place"
[ "$("$fixture" read "$stream")" = "late bytes" ]; ok $? "the reader that comes later gets every byte"
[ ! -e "/dev/shm/dipc.s.$stream" ]; ok $? "and the name is gone once it has closed"

# ---- a pool kept for a late receiver -------------------------------------
"$fixture" send "$pool" "$tmp/desc" 3; ok $? "a process sends three messages and leaves without destroying the pool"
age "/dev/shm/dipc.p.$pool"
"$dipc" gc "pool:$pool" >"$tmp/gc" && [ -e "/dev/shm/dipc.p.$pool" ] &&
	grep -q "^left pool $pool: kept for a receiver" "$tmp/gc"
ok $? "gc leaves the pool: kept for a receiver"
[ "$("$fixture" receive "$tmp/desc" | tr '\n' ' ')" = "hello 0 hello 1 hello 2 " ]
ok $? "the receiver that comes later gets all three messages"
age "/dev/shm/dipc.p.$pool"
"$dipc" gc "pool:$pool" >"$tmp/gc" && [ ! -e "/dev/shm/dipc.p.$pool" ]
ok $? "once drained, the pool is stale and gc removes it"

# ---- a pool holding memory of a live process -----------------------------
"$fixture" send "$pool" "$tmp/desc" 0
start 3 alloc "$pool"
read -r line <&3
fpid=$bg
age "/dev/shm/dipc.p.$pool"
"$dipc" gc "pool:$pool" >"$tmp/gc" && [ -e "/dev/shm/dipc.p.$pool" ] &&
	grep -q "^left pool $pool: holds memory of live process $fpid" "$tmp/gc"
ok $? "gc leaves an empty pool whose creator is gone while a live process owns memory in it"
kill -9 "$fpid"; wait "$fpid" 2>/dev/null; exec 3<&-
"$dipc" gc "pool:$pool" >"$tmp/gc" && [ ! -e "/dev/shm/dipc.p.$pool" ]
ok $? "and removes it once that process is gone"

# ---- the holder of a pool's lock ------------------------------------------
start 3 lock "$pool"
read -r word holder <&3
fpid=$bg
pids="$pids $holder"
[ "$word" = stopped ]; ok $? "a process holding the pool's lock has stopped"
"$dipc" status "pool:$pool" >"$tmp/st"
grep -q "^  lock held by $holder (stopped)$" "$tmp/st"; ok $? "status names the stopped holder"
"$dipc" --json status "pool:$pool" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["lock"] == {"holder": int(sys.argv[1]), "state": "stopped"}, s
' "$holder"; ok $? "status --json names it too"
"$dipc" list | grep -q "^pool  *$pool .*  (lock held by stopped $holder)$"; ok $? "list flags it"
kill -CONT "$holder"
read -r word <&3
"$dipc" status "pool:$pool" >"$tmp/st"
[ "$word" = zombie ] && grep -q "^  lock held by $holder (zombie)$" "$tmp/st"
ok $? "let go, it dies holding the lock: status says zombie until it is reaped"
kill -USR1 "$fpid"
read -r word <&3
"$dipc" status "pool:$pool" >"$tmp/st"
[ "$word" = gone ] && grep -q "^  lock held by $holder (gone)$" "$tmp/st"
ok $? "then gone"
kill -9 "$fpid"; wait "$fpid" 2>/dev/null; exec 3<&-
"$dipc" rm "pool:$pool"

# ---- other users' segments ------------------------------------------------
# As root, in a mount namespace with a /dev/shm of its own: gc without
# names then sees only the segments made here.  Another user's segment
# is made by chown; "nobody" (65534) runs gc through setpriv.
private_tests=9
if [ "$(id -u)" != 0 ]; then
	for i in $(seq $private_tests); do skip "other users: needs root"; done
elif ! unshare --mount --propagation private true 2>/dev/null; then
	for i in $(seq $private_tests); do skip "other users: no mount namespaces (unshare)"; done
else
	mkdir "$tmp/bin" && cp "$dipc" "$tmp/bin/dipc" && chmod 755 "$tmp" "$tmp/bin"
	export tmp fixture tag
	unshare --mount --propagation private sh -c '
		r() { echo "$1 $2" >>"$tmp/private"; }
		age() { touch -d "@$(( $(date +%s) - 10 ))" "$@"; }
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm || exit 1
		d="$tmp/bin/dipc"
		"$fixture" send "$tag-root" "$tmp/d1" 0 && "$fixture" send "$tag-other" "$tmp/d2" 0 &&
			"$fixture" write "$tag-other" "for a reader" && "$fixture" write "$tag-os" "x" &&
			"$fixture" read "$tag-os" >/dev/null
		r $? "setup"
		# The stream tag-os was read and closed: gone.  tag-other (pool,
		# stale) and stream:tag-other (kept for a reader) go to nobody.
		chown 65534:65534 "/dev/shm/dipc.p.$tag-other" "/dev/shm/dipc.s.$tag-other"
		age /dev/shm/dipc.*
		"$d" gc >"$tmp/gc1" 2>&1
		r $? "gc without names, as root, exits 0"
		[ ! -e "/dev/shm/dipc.p.$tag-root" ]; r $? "and removes root'"'"'s stale pool"
		[ -e "/dev/shm/dipc.p.$tag-other" ]; r $? "but not the stale pool of another user"
		"$d" gc "pool:$tag-other" >"$tmp/gc2" 2>&1
		[ $? = 1 ] && grep -q "belongs to nobody, not to you" "$tmp/gc2" &&
			[ -e "/dev/shm/dipc.p.$tag-other" ]
		r $? "gc naming another user'"'"'s pool refuses, exit 1"
		"$fixture" send "$tag-root2" "$tmp/d3" 0 && "$fixture" send "$tag-shared" "$tmp/d4" 0 &&
			chown 65534:65534 "/dev/shm/dipc.p.$tag-shared" &&
			chmod 0666 "/dev/shm/dipc.p.$tag-shared" && age /dev/shm/dipc.*
		if command -v setpriv >/dev/null; then
			setpriv --reuid=65534 --regid=65534 --clear-groups "$d" gc >"$tmp/gc3" 2>"$tmp/gc3.err"
			rc=$?
			[ $rc = 0 ] && [ ! -e "/dev/shm/dipc.p.$tag-other" ] &&
				[ -e "/dev/shm/dipc.p.$tag-root2" ] && [ ! -s "$tmp/gc3.err" ]
			r $? "gc as nobody removes nobody'"'"'s stale pool and leaves root'"'"'s alone, exit $rc"
			[ -e "/dev/shm/dipc.s.$tag-other" ]
			r $? "nobody'"'"'s stream kept for a reader stays"
			[ -e "/dev/shm/dipc.p.$tag-shared" ]
			r $? "nobody'"'"'s stale pool that others may open stays: nobody cannot see root'"'"'s mappings"
		else
			r skip "no setpriv here"
			r skip "no setpriv here"
			r skip "no setpriv here"
		fi
		chown 65534:65534 "/dev/shm/dipc.p.$tag-root2"
		"$d" gc --all-users >"$tmp/gc4" 2>&1 && [ ! -e "/dev/shm/dipc.p.$tag-root2" ] &&
			[ -e "/dev/shm/dipc.s.$tag-other" ]
		r $? "gc --all-users collects another user'"'"'s stale pool, still not a kept stream"
	'
	if [ ! -s "$tmp/private" ]; then
		for i in $(seq $private_tests); do skip "other users: no private /dev/shm could be mounted"; done
	else
		while read -r rc what; do
			if [ "$rc" = skip ]; then skip "$what"; else ok "$rc" "$what"; fi
		done <"$tmp/private"
	fi
fi

"$dipc" status "$tag-none" 2>/dev/null; [ $? = 3 ]; ok $? "status of a missing name exits 3"
"$dipc" frobnicate 2>/dev/null; [ $? = 2 ]; ok $? "an unknown command exits 2"
# A segment of another kind under the same prefix is neither shown nor
# taken for a stream.
other="/dev/shm/dipc.x.$tag-o"
: >"$other" && age "$other"
! "$dipc" list | grep -q "$tag-o"; ok $? "list leaves out segments that are not pools or streams"
rm -f "$other"
