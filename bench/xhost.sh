#!/bin/sh
# bench/xhost.sh - the cross-host benchmark: libdragonipc channels through
# dipc-bridge against bare ZeroMQ and a plain TCP socket, in the same run,
# on the same link.
#
#   sudo sh bench/xhost.sh [BUILDDIR]        (from the source tree; `make
#                                           bench-xhost` runs it so)
#
# Two hosts made of namespaces (network, mount with a private /dev/shm,
# UTS), joined by one veth pair with addresses that exist only inside
# them.  Host A sends, host B receives:
#
#  - throughput at 64 B and 1 MiB: the bridge with one sender and with
#    four (each bridge send waits until its message is in B's channel, so
#    one sender is one round trip per message), ZeroMQ PAIR streaming and
#    REQ/REP (one acknowledgement per message, what a bridge send gives),
#    TCP streaming and with one acknowledgement byte per message;
#  - 64 B round trip (median): A sends to B's channel, B sends it back to
#    A's, against REQ/REP and an acknowledged TCP message;
#  - the bridge with CURVE (as it runs by default) and without keys
#    (--allow-unauthenticated), to show what encryption costs; bare ZeroMQ
#    and TCP run without.
#
# Nothing is asserted; the table and the ratios are printed.  Needs root.
set -eu
B=${1:-_build}
B=$(cd "$B" && pwd)
X="$B/bench/xhost"
BR="$B/bridge/dipc-bridge"
[ "$(id -u)" = 0 ] || { echo "xhost: needs root (namespaces)"; exit 1; }
[ -x "$X" ] && [ -x "$BR" ] || { echo "xhost: build $X and $BR first (make bench/xhost)"; exit 1; }
export LD_LIBRARY_PATH="$B/.libs"
tag="xh$$"
work=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	for h in A Z; do
		[ -f "$work/ns$h.pid" ] && kill -9 "$(cat "$work/ns$h.pid")" 2>/dev/null || true
		ip netns del "$tag$h" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "${tag}A"
ip netns add "${tag}Z"
ip link add eth0 netns "${tag}A" type veth peer name eth0 netns "${tag}Z"
ip -n "${tag}A" addr add 10.232.0.1/24 dev eth0
ip -n "${tag}Z" addr add 10.232.0.2/24 dev eth0
for h in A Z; do
	ip -n "$tag$h" link set eth0 up
	ip -n "$tag$h" link set lo up
	ip netns exec "$tag$h" unshare --mount --uts --propagation private sh -c \
		"mount -t tmpfs -o mode=1777 tmpfs /dev/shm && hostname $tag$h && exec sleep 100000" &
	echo $! >"$work/ns$h.pid"
done
sleep 0.3
on() { h=$1; shift; exec nsenter -t "$(cat "$work/ns$h.pid")" -m -u -n "$@"; }
at() ( h=$1; shift; exec timeout 300 nsenter -t "$(cat "$work/ns$h.pid")" -m -u -n "$@" )
A=10.232.0.1
Z=10.232.0.2
"$BR" --keygen "$work/key" >/dev/null

bridges() {   # curve|plain
	for h in A Z; do
		[ -f "$work/br$h.pid" ] && kill "$(cat "$work/br$h.pid")" 2>/dev/null && sleep 1.2
	done
	if [ "$1" = curve ]; then keys="-k $work/key"; else keys="--allow-unauthenticated"; fi
	# shellcheck disable=SC2086
	on A "$BR" --allow-root $keys -l "tcp://$A:7781" -p "tcp://$Z:7781" \
		--gateway-size 268435456 >>"$work/brA.log" 2>&1 &
	echo $! >"$work/brA.pid"
	# shellcheck disable=SC2086
	on Z "$BR" --allow-root $keys -l "tcp://$Z:7781" -p "tcp://$A:7781" \
		--gateway-size 268435456 >>"$work/brZ.log" 2>&1 &
	echo $! >"$work/brZ.pid"
	pids="$pids $(cat "$work/brA.pid") $(cat "$work/brZ.pid")"
	for i in $(seq 100); do
		[ "$(cat "$work"/br?.log | grep -c ' is host ')" -ge 2 ] && break
		sleep 0.1
	done
}

results="$work/results"
: >"$results"
bridge_run() {   # label count size senders
	rm -f "$work/desc"
	on Z "$X" bridge-sink "$work/desc" "$2" "$3" &
	sink=$!
	at A "$X" bridge-source "$work/desc" "$2" "$3" "$4" | sed "s/bridge-/$1-/" | tee -a "$results"
	wait $sink
}
bridge_rtt() {
	rm -f "$work/dZ" "$work/dA"
	on Z "$X" bridge-echo "$work/dZ" "$work/dA" "$2" &
	echo=$!
	at A "$X" bridge-ping "$work/dZ" "$work/dA" "$2" | sed "s/bridge-/$1-/" | tee -a "$results"
	wait $echo
}
zmq_run() {   # count size pair|reqrep
	port=$((7800 + $(od -An -N1 -tu1 /dev/urandom)))
	on Z "$X" zmq-sink "tcp://$Z:$port" "$1" "$2" "$3" &
	sink=$!
	at A "$X" zmq-source "tcp://$Z:$port" "$1" "$2" "$3" | tee -a "$results"
	wait $sink
}
tcp_run() {   # count size stream|ack
	port=$((8100 + $(od -An -N1 -tu1 /dev/urandom)))
	on Z "$X" tcp-sink "$port" "$1" "$2" "$3" &
	sink=$!
	sleep 0.2
	at A "$X" tcp-source "$Z" "$port" "$1" "$2" "$3" | tee -a "$results"
	wait $sink
}

echo "== bare ZeroMQ and TCP on the link"
zmq_run 1000000 64 pair
zmq_run 20000 64 reqrep
zmq_run 2000 1048576 pair
zmq_run 500 1048576 reqrep
tcp_run 1000000 64 stream
tcp_run 20000 64 ack
tcp_run 2000 1048576 stream
tcp_run 500 1048576 ack
for mode in curve plain; do
	echo "== dipc-bridge ($mode)"
	bridges $mode
	bridge_run "bridge-$mode" 20000 64 1
	bridge_run "bridge-$mode" 40000 64 4
	bridge_run "bridge-$mode" 500 1048576 1
	bridge_run "bridge-$mode" 1000 1048576 4
	bridge_rtt "bridge-$mode" 5000
done

echo
echo "== results (messages/s, MB/s; round trips: median microseconds)"
awk '
$2 ~ /rtt/ { rtt[$2] = $4; next }
{ rate[$2 " " $3] = $4; mbs[$2 " " $3] = $5; printf "%-28s %8s B %12s msg/s %9s MB/s\n", $2, $3, $4, $5 }
END {
	for (k in rtt) printf "%-28s %8s B %12s us round trip\n", k, 64, rtt[k]
	print ""
	print "ratios against bare ZeroMQ (target: >= 0.5 at 64 B, >= 0.8 at 1 MiB)"
	split("bridge-curve bridge-plain", B, " ")
	for (i = 1; i <= 2; i++) for (s = 1; s <= 4; s *= 4) {
		for (z = 64; z <= 1048576; z *= 16384) {
			k = B[i] "-" s "sender" (s > 1 ? "s" : "") " " z
			if (!(k in rate)) continue
			printf "%-30s %8d B: %.2fx zmq-pair, %.2fx zmq-reqrep, %.2fx tcp-stream, %.2fx tcp-ack\n",
				B[i] " " s " sender" (s > 1 ? "s" : ""), z,
				rate[k] / rate["zmq-pair " z], rate[k] / rate["zmq-reqrep " z],
				rate[k] / rate["tcp-stream " z], rate[k] / rate["tcp-ack " z]
		}
	}
	for (i = 1; i <= 2; i++) if ((B[i] "-rtt") in rtt)
		printf "%-30s round trip: %.2fx zmq-reqrep, %.2fx tcp-ack (time, lower is better)\n",
			B[i], rtt[B[i] "-rtt"] / rtt["zmq-rtt"], rtt[B[i] "-rtt"] / rtt["tcp-rtt"]
}' "$results"
