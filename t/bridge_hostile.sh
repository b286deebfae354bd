#!/bin/sh
# t/bridge_hostile.sh - dipc-bridge against a hostile local process and a
# hostile peer (t/bridge_hostile.c does the attacking).
#
# Two "hosts" on this machine, each its own mount namespace (a private
# /dev/shm) and UTS namespace (its own host id), sharing one network
# namespace of their own in which they talk over loopback.  Both bridges
# run with --max-message 1 MiB.  Checked:
#
#  - malformed gateway requests are answered with the reason when they
#    name a reply channel, dropped otherwise, and good ones still served;
#  - malformed wire headers are dropped; another host's descriptor is
#    refused at once (never relayed through the bridge's own gateway,
#    which held its network thread); the gateway pool is out of a peer's
#    reach; one channel spelled many ways does not grow the bridge; a
#    message larger than the bridge carries stays in its channel;
#  - the forever-waiting requests of a process that died are undone at
#    the owner, whose workers serve others again;
#  - both bridges live through all of it, and carry a good message.
#
# Needs root, unshare, nsenter and ip, and a build with dipc-bridge; skips
# with the reason otherwise.  Everything made is removed at the end.
set -u
: "${top_builddir:=.}"
BR="$top_builddir/bridge/dipc-bridge"
BH="$top_builddir/t/bridge_helper"
HOSTILE="$top_builddir/t/bridge_hostile"

skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(uname -s)" = Linux ] || skip_all "Linux namespaces only"
[ "$(id -u)" = 0 ] || skip_all "needs root to make mount, UTS and network namespaces"
[ -x "$BR" ] || skip_all "dipc-bridge not built (configure found no libzmq)"
[ -x "$BH" ] && [ -x "$HOSTILE" ] || skip_all "test helpers not built"
for tool in unshare nsenter ip timeout; do
	command -v $tool >/dev/null 2>&1 || skip_all "no $tool"
done

# Under AddressSanitizer freed memory waits in a quarantine before reuse,
# which the growth check would count: let the bridge reuse it at once.
# (No effect on a build without ASan.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
export ASAN_OPTIONS

tag="dbh$$"
work=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for h in A B; do
		[ -f "$work/ns$h.pid" ] && kill -9 "$(cat "$work/ns$h.pid")" 2>/dev/null
	done
	ip netns del "${tag}net" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BRIDGE_TEST_KEEP:-}" ] && trap 'cat "$work"/bridge*.log >&2; cleanup' EXIT
trap 'exit 1' INT TERM

ip netns add "${tag}net" 2>/dev/null || skip_all "cannot make network namespaces here"
ip -n "${tag}net" link set lo up
for h in A B; do
	ip netns exec "${tag}net" unshare --mount --uts --propagation private sh -c \
		"mount -t tmpfs -o mode=1777 tmpfs /dev/shm && hostname $tag-host$h && exec sleep 100000" &
	echo $! >"$work/ns$h.pid"
done
sleep 0.3
for h in A B; do
	[ "$(nsenter -t "$(cat "$work/ns$h.pid")" -u hostname 2>/dev/null)" = "$tag-host$h" ] ||
		skip_all "cannot make mount and UTS namespaces here"
done

t=0
ok() { t=$((t + 1)); echo "ok $t - $1"; }
notok() { t=$((t + 1)); echo "not ok $t - $1"; }
check() { if [ "$1" = 0 ]; then ok "$2"; else notok "$2"; fi; }
# The PASS and FAIL lines of bridge_hostile (on stdin, from a file: a
# pipe would count in a subshell) as TAP; a missing line (the program
# died) is a failure too.
tap() {
	want=$1
	got=0
	while IFS= read -r line; do
		case $line in
		PASS*) ok "${line#PASS }"; got=$((got + 1)) ;;
		FAIL*) notok "${line#FAIL }"; got=$((got + 1)) ;;
		*) echo "# $line" ;;
		esac
	done
	[ $got = "$want" ] || notok "bridge_hostile printed $got of $want results"
}
on() { h=$1; shift; exec nsenter -t "$(cat "$work/ns$h.pid")" -m -u -n "$@"; }
at() ( h=$1; shift; exec timeout 120 nsenter -t "$(cat "$work/ns$h.pid")" -m -u -n "$@" )

"$BR" --keygen "$work/key" >"$work/pub" || exit 1
pub=$(cat "$work/pub")
start_bridge() {   # host, its port, the other's port [more options]
	h=$1 port=$2 other=$3
	shift 3
	on "$h" "$BR" --allow-root -k "$work/key" -l "tcp://127.0.0.1:$port" "$@" \
		-p "tcp://127.0.0.1:$other" --max-message 1048576 --peer-timeout 6 \
		>>"$work/bridge$h.log" 2>&1 &
	echo $! >"$work/bridge$h.pid"
	pids="$pids $!"
}
start_bridge A 7811 7812
start_bridge B 7812 7811
for i in $(seq 100); do
	[ "$(grep -c " is host " "$work/bridgeA.log" "$work/bridgeB.log" | grep -c ':1$')" = 2 ] && break
	sleep 0.1
done
on B "$BH" serve "${tag}p" 7 64 1024 "$work/chB.desc" &
pids="$pids $!"
on B "$BH" serve "${tag}f" 8 64 1024 "$work/chF.desc" &
pids="$pids $!"
for i in $(seq 100); do [ -s "$work/chB.desc" ] && [ -s "$work/chF.desc" ] && break; sleep 0.1; done
r=$(at A "$BH" attach "$work/chB.desc")
[ "$r" = "attached 64 1024" ] || { echo "Bail out! no working pair of bridges ($r)"; exit 1; }

# ---- a hostile process on the caller's host ----------------------------------
at A "$HOSTILE" gateway "$work/chB.desc" >"$work/gw.out" 2>"$work/gw.err"
tap 10 <"$work/gw.out"

# ---- a process that floods and dies ------------------------------------------
# 1100 receives waiting for ever, on a channel of their own: more than
# the owner's 1024 workers.  Not under ThreadSanitizer: 1024 instrumented
# worker threads on two cores keep the bridges from answering each other's
# pings for longer than the check waits.
tsan=
ldd "$top_builddir/.libs/libdragonipc.so" 2>/dev/null | grep -q libtsan && tsan=1
if [ -n "$tsan" ]; then
	ok "a dead flooder's waits are undone # SKIP 1024 worker threads under ThreadSanitizer"
else
r=$(at A "$HOSTILE" flood "$work/chF.desc" 1100 2>&1)
# The owner's 1024 workers polling on a loaded machine can make the
# bridges miss each other's pings for a while, and undoing 1024 waits
# (the caller's bridge finds the flooder dead within a second, then
# cancels each over there) can take more than a few seconds when other
# work shares the cores: until then a receive is refused (DIPC_ELIMIT)
# or its attach fails, and it is tried again, for up to 25 s.
for i in 1 2 3 4 5; do
	sleep 3
	r2=$(at A "$BH" timed-recv "$work/chF.desc" 2000)
	case $r2 in "rc -6 "*) break ;; esac
done
[ "$(echo "$r2" | awk '{ print $1, $2 }')" = "rc -6" ]
check $? "a dead flooder's waits are undone: a receive waits again (${r2:-no output}, try $i; $r)"
fi

# ---- a hostile peer ---------------------------------------------------------------
# (Memory growth is not judged under ThreadSanitizer, whose shadow and
# allocator are in the bridge's figures.)
[ -n "$tsan" ] && DIPC_HOSTILE_NO_RSS=1 && export DIPC_HOSTILE_NO_RSS
at B "$HOSTILE" wire tcp://127.0.0.1:7812 "$pub" "$work/key" "$(cat "$work/bridgeB.pid")" \
	>"$work/wire.out" 2>"$work/wire.err"
tap 10 <"$work/wire.out"

# ---- a peer that claims another's host ---------------------------------------------
# Bridge A is started again with a third peer, listed before B, which
# comes up after B is known and says it serves B's host (it holds the
# shared key): A must keep sending B's requests to B, and the impostor
# must get none.
kill "$(cat "$work/bridgeA.pid")"
for i in $(seq 50); do kill -0 "$(cat "$work/bridgeA.pid")" 2>/dev/null || break; sleep 0.1; done
: >"$work/bridgeA.log"
start_bridge A 7811 7812 -p tcp://127.0.0.1:7813
for i in $(seq 100); do grep -q "7812 is host" "$work/bridgeA.log" && break; sleep 0.1; done
hostB=$(grep "7812 is host" "$work/bridgeA.log" | awk '{ print $NF }' | tail -n 1)
at B "$HOSTILE" impostor tcp://127.0.0.1:7813 "$work/key" "${hostB:-0}" 8 >"$work/imp.out" &
imp=$!
pids="$pids $imp"
for i in $(seq 100); do grep -q "7813 claims host $hostB" "$work/bridgeA.log" && break; sleep 0.1; done
r=$(at A "$BH" send "$work/chB.desc" 11 3 64 5000 bytes | grep -c '^ok 11')
# A host nobody serves: the impostor, whose claim is ignored, does not
# count as a peer still to be heard from, so the answer is at once.
awk '{ print substr($0, 1, 80) "0123456789abcdef" substr($0, 97) }' "$work/chB.desc" \
	>"$work/nohost.desc"
nohost=$(at A "$BH" attach "$work/nohost.desc")
wait $imp
claimed=$(grep -c "7813 claims host $hostB, served by tcp://127.0.0.1:7812: ignored" "$work/bridgeA.log")
[ -n "$hostB" ] && [ "$claimed" = 1 ] && [ "$r" = 3 ] && grep -q "[1-9][0-9]* hellos and pings, 0 requests" "$work/imp.out"
check $? "a peer claiming another bridge's host is ignored, said once, and gets none of its requests ($r of 3 sent; $(cat "$work/imp.out"); claim logged $claimed times)"
[ "$(echo "$nohost" | awk '{ print $1, $2 }')" = "error -17" ]
check $? "meanwhile a channel of a host nobody serves is DIPC_EFOREIGN ($nohost)"

# ---- afterwards ---------------------------------------------------------------------
kill -0 "$(cat "$work/bridgeA.pid")" 2>/dev/null && kill -0 "$(cat "$work/bridgeB.pid")" 2>/dev/null
check $? "both bridges are alive"
r=$(at A "$BH" send "$work/chB.desc" 9 1 64 5000 bytes | head -n 1)
[ "$r" = "ok 9 0" ]
check $? "and carry a good message ($r)"
for f in gw wire; do [ -s "$work/$f.err" ] && sed 's/^/# /' "$work/$f.err"; done
# A bridge of this run that a sanitizer or the C runtime reported on
# (its log is here, not in the suite's logs, so it is copied out).
reports=$(cat "$work"/bridge*.log | grep -E "Sanitizer|runtime error|SUMMARY:|[Aa]bort" | head -n 20)
[ -z "$reports" ]
check $? "no sanitizer or runtime report in the bridges' logs"
[ -z "$reports" ] || echo "$reports" | sed 's/^/# /'
echo "1..$t"
