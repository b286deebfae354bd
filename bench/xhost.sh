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
#    (--allow-unauthenticated), each against bare ZeroMQ with the same
#    security (CURVE or none); TCP runs without.
#
# Every case runs XHOST_ROUNDS times (default 3), the rounds interleaved,
# and the table gives each case's median.  Nothing is asserted; the table
# and the ratios are printed.  Needs root.
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
zmq_run() {   # count size pair|reqrep[-curve]
	port=$((7800 + $(od -An -N1 -tu1 /dev/urandom)))
	export XHOST_KEYFILE="$work/zkey"
	rm -f "$XHOST_KEYFILE"
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

rounds=${XHOST_ROUNDS:-3}
for round in $(seq "$rounds"); do
	echo "== round $round of $rounds: bare ZeroMQ and TCP on the link"
	zmq_run 1000000 64 pair
	zmq_run 20000 64 reqrep
	zmq_run 2000 1048576 pair
	zmq_run 500 1048576 reqrep
	zmq_run 200000 64 pair-curve
	zmq_run 20000 64 reqrep-curve
	zmq_run 500 1048576 pair-curve
	zmq_run 300 1048576 reqrep-curve
	tcp_run 1000000 64 stream
	tcp_run 20000 64 ack
	tcp_run 2000 1048576 stream
	tcp_run 500 1048576 ack
	for mode in curve plain; do
		echo "== round $round of $rounds: dipc-bridge ($mode)"
		bridges $mode
		bridge_run "bridge-$mode" 20000 64 1
		bridge_run "bridge-$mode" 40000 64 4
		bridge_run "bridge-$mode" 500 1048576 1
		bridge_run "bridge-$mode" 1000 1048576 4
		bridge_rtt "bridge-$mode" 5000
	done
done

echo
echo "== results: medians of $rounds rounds (messages/s, MB/s; round trips: median microseconds)"
# Each case's median over the rounds, one line per case.
sort -k2,2 -k3,3n -k4,4g "$results" | awk '
{ k = $2 " " $3; n[k]++; v[k, n[k]] = $4; m[k, n[k]] = $5; if (!(k in seen)) { seen[k] = 1; order[++no] = k } }
END { for (i = 1; i <= no; i++) { k = order[i]; h = int((n[k] + 1) / 2); split(k, f, " ");
	print "RESULT", f[1], f[2], v[k, h], m[k, h] } }' >"$results.med"
awk '
$2 ~ /rtt/ { rtt[$2] = $4; next }
{ rate[$2 " " $3] = $4; mbs[$2 " " $3] = $5; printf "%-28s %8s B %12s msg/s %9s MB/s\n", $2, $3, $4, $5 }
END {
	for (k in rtt) printf "%-28s %8s B %12s us round trip\n", k, 64, rtt[k]
	print ""
	print "ratios against bare ZeroMQ with the same security (the bridge with CURVE"
	print "against ZeroMQ with CURVE, without keys against ZeroMQ without);"
	print "target: >= 0.5 at 64 B, >= 0.8 at 1 MiB"
	split("bridge-curve bridge-plain", B, " ")
	split("-curve ", Z, " ")
	Z[2] = ""
	for (i = 1; i <= 2; i++) for (s = 1; s <= 4; s *= 4) {
		for (z = 64; z <= 1048576; z *= 16384) {
			k = B[i] "-" s "sender" (s > 1 ? "s" : "") " " z
			if (!(k in rate)) continue
			p = "zmq-pair" Z[i] " " z; q = "zmq-reqrep" Z[i] " " z
			printf "%-30s %8d B: %.2fx zmq-pair%s, %.2fx zmq-reqrep%s, %.2fx tcp-stream, %.2fx tcp-ack\n",
				B[i] " " s " sender" (s > 1 ? "s" : ""), z,
				(p in rate) ? rate[k] / rate[p] : 0, Z[i], (q in rate) ? rate[k] / rate[q] : 0, Z[i],
				rate[k] / rate["tcp-stream " z], rate[k] / rate["tcp-ack " z]
		}
	}
	for (i = 1; i <= 2; i++) if ((B[i] "-rtt") in rtt)
		printf "%-30s round trip: %.2fx zmq-reqrep%s, %.2fx tcp-ack (time, lower is better)\n",
			B[i], rtt[B[i] "-rtt"] / rtt["zmq-rtt" Z[i]], Z[i], rtt[B[i] "-rtt"] / rtt["tcp-rtt"]
}' "$results.med"
