#!/bin/sh
# t/demo.sh - examples/demo, the README's first command, ends well
# whichever of its two processes is stopped, and however:
#  - run to the end, it succeeds and leaves nothing in /dev/shm;
#  - with the parent or the child killed (SIGKILL), terminated (SIGTERM)
#    or interrupted (SIGINT), and with both interrupted as Ctrl-C does,
#    both processes are gone within a bound (nobody waits for a dead
#    peer) and the pool is removed: by the parent, or, when the parent was
#    killed with SIGKILL, by the child that saw it die.
# Each kill comes while the parent streams messages to the child.  A
# shell starts background commands with SIGINT ignored, which the demo
# respects; env --default-signal gives it SIGINT back, as a terminal's
# foreground job has it.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
demo=$top_builddir/examples/demo
if [ "$(uname -s)" != Linux ] || [ ! -d /dev/shm ]; then
	echo "1..0 # SKIP Linux only (needs /dev/shm)"
	exit 0
fi
if [ ! -x "$demo" ]; then
	echo "1..0 # SKIP examples/demo is not built"
	exit 0
fi

n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
is() { if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$1', want '$2'"; fi; }

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
		rm -f "/dev/shm/dipc.p.demo-$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Has process $1 ended?  A zombie has: nobody waits for it but its parent.
gone() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
# Wait at most $2 seconds for process $1 to end.
wait_gone() {
	i=0
	while ! gone "$1"; do
		[ "$i" -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
# Wait at most $3 seconds for a line matching $2 in file $1.
wait_line() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		[ "$i" -ge $(($3 * 10)) ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
left() { ls /dev/shm | grep -x "dipc\.p\.demo-$1"; }

echo "1..$((3 + 6 * 4))"

# ---- a whole run ---------------------------------------------------------
"$demo" >"$tmp/out" 2>"$tmp/err" &
parent=$!
pids="$pids $parent"
wait_gone "$parent" 300 || kill -9 "$parent"
wait "$parent"
is $? 0 "the demo runs to the end and succeeds"
grep -q '^OK: every message arrived' "$tmp/out"
ok $? "... and says every message arrived"
sed 's/^/#   /' "$tmp/err"
is "$(left "$parent")" "" "... and leaves nothing in /dev/shm"

# ---- one side stopped while the parent streams ----------------------------
# kill_case WHO SIGNAL STATUS: WHO (parent, child or group) gets SIGNAL;
# the parent must end with exit status STATUS.
kill_case() {
	who=$1 sig=$2 want=$3
	# The streaming phase lasts a fraction of a second: a signal sent
	# after the demo is through it proves nothing.  Such a try is made
	# again (the demo's own "1. streaming" line is followed by "2." once
	# the phase is over).
	for try in 1 2 3 4 5; do
		# Emptied here, not by the background job's redirection, which
		# may come after the first look for the line below.
		: >"$tmp/out"
		if [ "$who" = group ]; then
			# A process group of its own, as a shell gives a job.
			# (setsid does not fork here: a background process
			# leads no group.)
			setsid env --default-signal=INT "$demo" >"$tmp/out" 2>"$tmp/err" &
		else
			env --default-signal=INT "$demo" >"$tmp/out" 2>"$tmp/err" &
		fi
		parent=$!
		pids="$pids $parent"
		# The whole line, child's id included (a reader may see a
		# line half written).
		wait_line "$tmp/out" '^1\. streaming .* to process [0-9][0-9]*,' 120
		child=$(sed -n 's/^1\. streaming .* to process \([0-9]*\),.*/\1/p' "$tmp/out")
		[ -n "$child" ] || { echo "# no child's id in the demo's output:"; sed 's/^/#   /' "$tmp/out"; }
		pids="$pids $child"
		sleep 0.05
		late=
		grep -q '^2\.' "$tmp/out" && late=1
		case $who in
		parent) kill "-$sig" "$parent" ;;
		child) kill "-$sig" "$child" ;;
		group) kill "-$sig" "-$parent" ;;
		esac
		[ -z "$late" ] && ! grep -q '^2\.' "$tmp/out" && break
		# Too late: let this run end, and try again.
		wait_gone "$parent" 30 || kill -9 "$parent" 2>/dev/null
		wait "$parent" 2>/dev/null
		echo "# try $try: the streaming phase was over before SIG$sig came; again"
	done
	what="$who, SIG$sig while streaming"
	# Detection takes a tenth of a second; the bound is generous for
	# loaded or instrumented (sanitizer) builds.
	wait_gone "$parent" 30
	ok $? "$what: the parent ends"
	wait_gone "$child" 30
	ok $? "$what: the child ends"
	kill -9 "$parent" "$child" 2>/dev/null     # those that hang
	wait "$parent"
	is $? "$want" "$what: the parent's exit status"
	is "$(left "$parent")" "" "$what: the pool is removed"
	sed 's/^/#   /' "$tmp/err"
}

skip4() { for i in 1 2 3 4; do n=$((n + 1)); echo "ok $n # SKIP $1"; done; }
if ! env --default-signal=INT true 2>/dev/null; then
	echo "# env --default-signal (coreutils 8.31) is missing: no SIGINT cases"
	nosigint=1
fi

kill_case parent KILL 137
kill_case parent TERM 143
if [ -z "${nosigint:-}" ]; then
	kill_case parent INT 130
else
	skip4 "cannot give a background job SIGINT back"
fi
kill_case child KILL 1
kill_case child TERM 1
if command -v setsid >/dev/null 2>&1 && [ -z "${nosigint:-}" ]; then
	kill_case group INT 130
else
	skip4 "no setsid to make a process group"
fi
