#!/bin/sh
# Permissions and trust (Linux):
#  - segments are owner-only by default, whatever the umask; a pool's mode
#    attribute and a stream's perm argument widen them exactly as asked;
#  - another user gets DIPC_EPERM from every way in to a segment its mode
#    does not open to it (pools by name and by descriptor, channels,
#    streams in either role, unlinking), and does get in where the mode
#    lets it (so the refusals are the modes' doing, not a broken helper);
#    as root, a throwaway user is made for this and deleted at the end;
#  - squatting: opening by name never joins a segment another user owns,
#    nor (streams) one more open than asked, unless DIPC_SHARED says so:
#    a name the other user took first (stream as reader, stream as writer
#    with bait in the ring, pool) is refused to root's ordinary open and
#    nothing passes between them; a group member needs DIPC_SHARED to
#    join a 0660 pool or stream by name; DIPC_SHARED opens nothing the
#    mode keeps shut;
#  - liveness is the same whoever owns the dead: an unprivileged reader
#    whose root writer was killed and is left unreaped gets
#    DIPC_EPEERCLOSED (not a timeout), and its receiver passes the slot a
#    dead root sender left half written; a process whose main thread has
#    exited while another runs is alive;
#  - bad names are refused with the right code by pools, streams and the
#    dipc tool;
#  - descriptors of another host or ABI version are refused, including a
#    genuine descriptor attached under another host name (a UTS namespace).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
helper="$top_builddir/t/sec_helper"
dipc="$top_builddir/tools/dipc"
header="$top_srcdir/include/dragonipc.h"
if [ "$(uname -s)" != Linux ] || [ ! -d /dev/shm ]; then
	echo "1..0 # SKIP Linux only (needs /dev/shm)"
	exit 0
fi
if [ ! -x "$helper" ] || [ ! -x "$dipc" ] || [ ! -r "$header" ]; then
	echo "1..0 # SKIP no t/sec_helper, tools/dipc or header here"
	exit 0
fi

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
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# The value of a DIPC_E* code, from the header.
code() { sed -n "s/^#define $1 *(\(-[0-9]*\)).*/\1/p" "$header"; }
# key=value from a result file.
val() { sed -n "s/^$1=//p" "$2" | head -n 1; }

EINVAL=$(code DIPC_EINVAL)
EPERM=$(code DIPC_EPERM)
EEXIST=$(code DIPC_EEXIST)
EFOREIGN=$(code DIPC_EFOREIGN)
EVERSION=$(code DIPC_EVERSION)
ENAMETOOLONG=$(code DIPC_ENAMETOOLONG)

EPEERCLOSED=$(code DIPC_EPEERCLOSED)

tmp=$(mktemp -d)
user=
servepid=
forgepid=
sqpid=
zpid=
cleanup() {
	[ -n "$forgepid" ] && { exec 7>&- 2>/dev/null; wait "$forgepid" 2>/dev/null; }
	[ -n "$sqpid" ] && { exec 8>&- 2>/dev/null; kill -9 "$sqpid" 2>/dev/null; wait "$sqpid" 2>/dev/null; }
	if [ -n "$zpid" ]; then
		touch "$tmp/zstop"
		i=0
		while kill -0 "$zpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$zpid" 2>/dev/null     # its children go to init, which reaps them
	fi
	if [ -n "$servepid" ]; then
		touch "$tmp/stop"
		i=0
		while kill -0 "$servepid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$servepid" 2>/dev/null
	fi
	# Whatever a killed helper left (no-op when all went well).
	for f in /dev/shm/dipc.?.t-sec-*; do
		[ -e "$f" ] || continue
		case $f in *-"$servepid"-*|*-forge-"$forgepid"|*.t-sec-"$$"-*|*-"$zpid"-*) rm -f "$f" ;; esac
	done
	if [ -n "$user" ]; then
		userdel "$user" 2>/dev/null
		getent group "$user" >/dev/null 2>&1 && groupdel "$user" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- names -------------------------------------------------------------------
"$helper" names >"$tmp/names" || echo "# sec_helper names failed"
for key in empty slash lead_slash dotdot dotdot_path dot trail_slash backslash newline \
	hidden space utf8 over_max far_over_max; do
	want=$EINVAL
	case $key in *over_max) want=$ENAMETOOLONG ;; esac
	bad=
	for call in pool_create pool_attach stream_open stream_unlink; do
		got=$(val "${call}_$key" "$tmp/names")
		[ "$got" = "$want" ] || bad="$bad $call=$got"
	done
	[ -z "$bad" ]; ok $? "name '$key' refused by pool create/attach and stream open/unlink ($want)"
	[ -z "$bad" ] || echo "#  $bad"
done
echo "# no C call takes a name with a length: a NUL ends the name (one inside a"
echo "# descriptor's name is refused, see t/badinput)"

# The tool: a usage error (2) for names the library cannot make, "not
# found" (3) only for a valid name; it never removes anything else.
long=$(printf '%064d' 0)
for arg in '../x' '' 'a/b' 'pool:' 'stream:../etc' '.hidden' "$long" 'pool:a b'; do
	"$dipc" rm "$arg" >/dev/null 2>&1; rc1=$?
	"$dipc" status "$arg" >/dev/null 2>&1; rc2=$?
	"$dipc" gc --dry-run "$arg" >/dev/null 2>&1; rc3=$?
	is "$rc1 $rc2 $rc3" "2 2 2" "dipc rm, status and gc refuse the name '$arg' as a usage error"
done
"$dipc" rm "t-sec-none-$$" >/dev/null 2>&1
is $? 3 "dipc rm of a valid name that does not exist: not found"

# ---- descriptors of another host or ABI ------------------------------------------
mkfifo "$tmp/forge-in"
"$helper" forge <"$tmp/forge-in" >"$tmp/forge" &
forgepid=$!
exec 7>"$tmp/forge-in"
i=0
while ! grep -q "^mem_other_abi=" "$tmp/forge" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1))
done
is "$(val pool_genuine "$tmp/forge") $(val chan_genuine "$tmp/forge") $(val mem_genuine "$tmp/forge")" \
	"0 0 0" "genuine pool, channel and memory descriptors attach"
is "$(val pool_other_host "$tmp/forge")" "$EFOREIGN" "pool descriptor with another host id: EFOREIGN"
is "$(val pool_other_abi "$tmp/forge")" "$EVERSION" "pool descriptor of another ABI version: EVERSION"
is "$(val chan_other_host "$tmp/forge")" "$EFOREIGN" "channel descriptor of another host: EFOREIGN"
is "$(val chan_other_host_with_pool "$tmp/forge")" "$EFOREIGN" \
	"and so with the local pool given"
is "$(val chan_other_abi "$tmp/forge")" "$EVERSION" "channel descriptor of another ABI: EVERSION"
is "$(val chan_pool_other_abi "$tmp/forge")" "$EVERSION" \
	"channel descriptor whose pool part is of another ABI: EVERSION"
is "$(val mem_other_host "$tmp/forge")" "$EFOREIGN" "memory descriptor of another host: EFOREIGN"
is "$(val mem_other_abi "$tmp/forge")" "$EVERSION" "memory descriptor of another ABI: EVERSION"
desc=$(val pool_desc "$tmp/forge")
"$helper" attach "$desc" >"$tmp/here"
is "$(val attach "$tmp/here")" 0 "the pool descriptor attaches from another process here"
if command -v unshare >/dev/null 2>&1 &&
	unshare --uts sh -c 'hostname dipc-elsewhere' 2>/dev/null; then
	unshare --uts sh -c 'hostname dipc-elsewhere && exec "$0" attach "$1"' \
		"$helper" "$desc" >"$tmp/there"
	is "$(val attach "$tmp/there")" "$EFOREIGN" \
		"the same genuine descriptor under another host name: EFOREIGN"
else
	skip "cannot make a UTS namespace here (unshare --uts)"
fi
exec 7>&-
wait "$forgepid"
is $? 0 "the forge helper cleaned up and ended"
forgepid=

# ---- one user: modes wider than asked, a main thread gone ---------------------------
"$helper" modes >"$tmp/modes" 2>&1
m() { val "$1" "$tmp/modes"; }
is "$(m wide_create)" 0 "a stream is created 0666"
is "$(m wide_0600) $(m wide_default) $(m wide_0660)" "$EPERM $EPERM $EPERM" \
	"opening it again with perm 0600, the default or 0660: EPERM (more open than asked)"
is "$(m wide_0666) $(m wide_shared)" "0 0" "with perm 0666, or 0600|DIPC_SHARED, it is joined"
is "$(m wide_data)" "ab" "and only the joined openers' bytes arrived"
is "$(m narrow_create) $(m narrow_0666)" "0 0" \
	"a 0600 stream opened with perm 0666 is joined (narrower than asked is no risk)"
is "$(m narrow_0400)" 0 "and with perm 0400: only group and other bits count"
"$helper" leader >"$tmp/leader" 2>&1
l() { val "$1" "$tmp/leader"; }
is "$(l leader_main_state)" Z "a writer's main thread exits, another thread writes on (/proc shows Z)"
is "$(l leader_tryonce)" 0 "the reader finds it alive: an empty ring, not DIPC_EPEERCLOSED"
is "$(l leader_read) $(l leader_data) $(l leader_exit)" "4 late 0" \
	"and the other thread's bytes arrive; the writer ends cleanly"

# ---- modes, and another user ------------------------------------------------------
reason=
if [ "$(id -u)" != 0 ]; then
	reason="not root: no second user to try with"
elif ! command -v useradd >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
	reason="useradd or setpriv missing"
else
	user="dipc-sec-test-$$"
	if ! useradd -M -r -U -s /bin/false "$user" 2>"$tmp/useradd"; then
		reason="useradd failed: $(cat "$tmp/useradd")"
		user=
	fi
fi
if [ -n "$user" ]; then
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	# The helper must be runnable by that user from this tree.
	if ! setpriv --reuid "$uid" --regid "$gid" --clear-groups "$helper" names \
		>/dev/null 2>&1; then
		reason="the build tree is not readable by another user"
	fi
fi
chmod 755 "$tmp"
# serve runs as root; with a second user, in that user's group, so that
# group permission can be tried too.
if [ -n "$user" ] && [ -z "$reason" ]; then
	setpriv --regid "$gid" --clear-groups "$helper" serve "$tmp" >"$tmp/served" &
else
	"$helper" serve "$tmp" >"$tmp/served" &
fi
servepid=$!
i=0
while [ ! -f "$tmp/desc" ] && [ $i -lt 300 ] && kill -0 "$servepid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
[ -f "$tmp/desc" ]; ok $? "the serving helper made its pools, channels and streams"
name() { sed -n "s/^name_$1 //p" "$tmp/desc"; }
mode() { stat -c %a "/dev/shm/dipc.$1.$(name "$2")" 2>/dev/null; }
is "$(mode p p0)" 600 "a pool is created 0600 by default, even under umask 000"
is "$(mode s s0)" 600 "a stream is created 0600 by default, even under umask 000"
is "$(mode p p60)" 660 "pool mode 0660 is honoured under umask 077"
is "$(mode p p44)" 644 "pool mode 0644 is honoured under umask 077"
is "$(mode p p66)" 666 "pool mode 0666 is honoured under umask 077"
is "$(mode s s60)" 660 "stream perm 0660 is honoured under umask 077"
"$dipc" status "stream:$(name s0)" >"$tmp/st0" 2>&1
is $? 0 "its owner reads a small stream's status with dipc"

if [ -n "$reason" ]; then
	echo "# other-user checks skipped: $reason"
	i=0
	while [ $i -lt 48 ]; do skip "$reason"; i=$((i + 1)); done
else
	as_user() { setpriv --reuid "$uid" --regid "$gid" --clear-groups "$@"; }
	as_stranger() { setpriv --reuid "$uid" --regid 65534 --clear-groups "$@"; }
	is "$(stat -c %g "/dev/shm/dipc.p.$(name p60)")" "$gid" "the segments belong to the user's group"
	as_user "$helper" attack "$tmp" >"$tmp/attack"
	is "$(val uid "$tmp/attack")" "$uid" "the attack ran as user $user ($uid)"
	a() { val "$1" "$tmp/attack"; }
	is "$(a pool_p0_by_name)" "$EPERM" "another user: attach a 0600 pool by name: EPERM"
	is "$(a pool_p0_by_desc)" "$EPERM" "another user: attach a 0600 pool by descriptor: EPERM"
	is "$(a chan_p0_send)" "$EPERM" "another user: attach a channel in a 0600 pool: EPERM"
	is "$(a pool_p44_by_name)" "$EPERM" "another user: a 0644 pool (read only to it): EPERM"
	is "$(a pool_p0_create)" "$EEXIST" "another user: create over a 0600 pool's name: EEXIST"
	is "$(a stream_s0_write)" "$EPERM" "another user: open a 0600 stream as writer: EPERM"
	is "$(a stream_s0_read)" "$EPERM" "another user: open a 0600 stream as reader: EPERM"
	is "$(a stream_s0_unlink)" "$EPERM" "another user: unlink a 0600 stream: EPERM"
	is "$(a pool_p60_by_name) $(a pool_p60_by_name_flags0)" "$EPERM $EPERM" \
		"a group member: a 0660 pool another user owns, by name without DIPC_SHARED: EPERM"
	is "$(a pool_p60_by_name_shared) $(a pool_p60_by_desc)" "0 0" \
		"with DIPC_SHARED it attaches by name; by descriptor (sharing on purpose) with no flag"
	is "$(a chan_p60_send)" 0 "and sends into its channel"
	is "$(a stream_s60_write) $(a stream_s60_write_0660)" "$EPERM $EPERM" \
		"a group member: a 0660 stream another user owns, as writer with perm 0 or 0660: EPERM"
	is "$(a stream_s60_write_shared)" 0 "with 0660|DIPC_SHARED it joins and writes"
	is "$(a pool_p0_by_name_shared) $(a stream_s0_write_shared)" "$EPERM $EPERM" \
		"DIPC_SHARED opens nothing the mode shuts: a 0600 pool and stream stay EPERM"
	as_stranger "$helper" attack "$tmp" >"$tmp/stranger"
	s() { val "$1" "$tmp/stranger"; }
	is "$(s pool_p60_by_name) $(s chan_p60_send) $(s stream_s60_write)" "$EPERM $EPERM $EPERM" \
		"a user outside the group: EPERM from the 0660 pool, its channel and the 0660 stream"
	is "$(s pool_p60_by_name_shared) $(s stream_s60_write_shared)" "$EPERM $EPERM" \
		"and so with DIPC_SHARED"
	is "$(s chan_p66_send)" 0 "but it sends into a channel of a 0666 pool"
	as_user "$dipc" rm "pool:$(name p0)" >/dev/null 2>&1
	rc=$?
	[ "$rc" != 0 ] && [ -e "/dev/shm/dipc.p.$(name p0)" ]
	ok $? "another user's dipc rm of a 0600 pool fails (exit $rc) and the pool stays"
	as_user "$dipc" status "pool:$(name p0)" >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] && grep -q "Permission denied" "$tmp/err"
	ok $? "another user's dipc status of a 0600 pool: exit $rc, permission denied"
	as_user "$dipc" status "stream:$(name s0)" >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] && grep -q "Permission denied" "$tmp/err"
	ok $? "and of a 0600 stream: exit $rc, permission denied"
	as_user "$dipc" status "stream:$(name s60)" >/dev/null 2>&1
	is $? 0 "a group member reads the 0660 stream's status"
	as_user "$dipc" gc "pool:$(name p0)" >/dev/null 2>&1
	[ -e "/dev/shm/dipc.p.$(name p0)" ]
	ok $? "another user's dipc gc leaves it too"

	touch "$tmp/stop"
	wait "$servepid"
	is $? 0 "the serving helper ended cleanly"
	servepid=
	v() { val "$1" "$tmp/served"; }
	is "$(v served_p0_msgs) $(v served_s0_bytes)" "0 0" \
		"nothing reached the 0600 channel or stream"
	is "$(v served_p60_msgs) $(v served_p66_msgs)" "1 2" \
		"the permitted users' messages arrived: the member's in 0660, both in 0666"
	is "$(v served_s60_data)" "hello" \
		"the group member's bytes arrived in the 0660 stream, only those it wrote once joined"

	# Squatting: the other user takes a name first, open to everyone;
	# root then opens it the ordinary way.
	squat() {    # squatter's kind, victim's kind
		sqname="t-sec-$$-sq-$1"
		rm -f "$tmp/sq-in"
		mkfifo "$tmp/sq-in"
		as_user "$helper" "squat-$1" "$sqname" <"$tmp/sq-in" >"$tmp/sq-$1" 2>&1 &
		sqpid=$!
		exec 8>"$tmp/sq-in"
		i=0
		while ! grep -q '^ready=1' "$tmp/sq-$1" 2>/dev/null && [ $i -lt 300 ] &&
			kill -0 "$sqpid" 2>/dev/null; do
			sleep 0.1; i=$((i + 1))
		done
		"$helper" victim "$2" "$sqname" >"$tmp/vi-$1" 2>&1
		echo go >&8
		exec 8>&-
		wait "$sqpid" || sqrc=$?
		sqpid=
	}
	sqrc=0
	squat read write
	q() { val "$1" "$tmp/sq-$2"; }
	w() { val "$1" "$tmp/vi-$2"; }
	is "$(q uid read) $(q squat_open read)" "$uid 0" \
		"squat (a): user $user opens a stream name first, as reader, 0666|DIPC_SHARED"
	is "$(w victim_open read)" "$EPERM" "root's writer open of that name (default perm): EPERM"
	is "$(q squat_read read):$(q squat_data read):$(w victim_wrote read)" "0::" \
		"nothing root wrote reached the squatter"
	squat write read
	is "$(q squat_open write) $(q squat_wrote write)" "0 6" \
		"squat (b): user $user opens a stream name first, as writer, and fills the ring"
	is "$(w victim_open write)" "$EPERM" "root's reader open of that name: EPERM"
	is "$(w victim_read write):$(w victim_data write)" ":" "root read nothing of the bait"
	squat pool pool
	is "$(q squat_open pool)" 0 "squat (c): user $user creates a pool 0666 under a name first"
	is "$(w victim_attach pool) $(w victim_attach_flags0 pool)" "$EPERM $EPERM" \
		"root's dipc_pool_attach_name (and _flags with 0) of that name: EPERM"
	is "$(w victim_attach_shared pool)" 0 "with DIPC_SHARED, root attaches it"
	is "$sqrc" 0 "the squatters ended cleanly"

	# Liveness: the dead are root's, left unreaped by their root parent;
	# set 1 is watched by the other user (kill() gives it EPERM), set 0
	# by root (the same owner), which must see the same.
	hidepid=$(awk '$2 == "/proc" && $3 == "proc" { print $4 }' /proc/mounts |
		tr ',' '\n' | sed -n 's/^hidepid=//p')
	lreason=
	lskip=9
	case ${hidepid:-0} in 0|off) ;; *) lreason="/proc is mounted with hidepid=$hidepid" ;; esac
	if [ -z "$lreason" ]; then
		"$helper" zombies "$tmp" >"$tmp/zout" 2>&1 &
		zpid=$!
		i=0
		while [ ! -f "$tmp/zdesc" ] && [ $i -lt 300 ] && kill -0 "$zpid" 2>/dev/null; do
			sleep 0.1; i=$((i + 1))
		done
		z() { sed -n "s/^$1 //p" "$tmp/zdesc" 2>/dev/null; }
		pstate() { sed -n 's/.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null; }
		is "$(pstate "$(z zw1)") $(pstate "$(z zx1)") $(pstate "$(z zw0)") $(pstate "$(z zx0)")" \
			"Z Z Z Z" "root writers and senders killed, left unreaped by their root parent"
		lskip=8
		as_user cat "/proc/$(z zw1)/stat" >/dev/null 2>&1 ||
			lreason="/proc/<pid>/stat of root's processes is not readable by $user"
		if [ -z "$lreason" ]; then
			as_user "$helper" observe "$tmp" 1 >"$tmp/obs1" 2>&1
			"$helper" observe "$tmp" 0 >"$tmp/obs0" 2>&1
		fi
		touch "$tmp/zstop"
		wait "$zpid"
		zrc=$?
		zpid=
	fi
	if [ -n "$lreason" ]; then
		echo "# liveness of another user's dead skipped: $lreason"
		i=0
		while [ $i -lt $lskip ]; do skip "$lreason"; i=$((i + 1)); done
	else
		o() { val "$1" "$tmp/obs$2"; }
		is "$(o uid 1) $(o kill_eperm 1)" "$uid 1" \
			"the observer runs as $user: kill() of the dead writer gives it EPERM"
		is "$(o stream_open 1) $(o stream_data 1)" "0 bye" \
			"it opens the dead writer's stream with DIPC_SHARED and reads its last bytes"
		is "$(o stream_then 1)" "$EPEERCLOSED" \
			"then DIPC_EPEERCLOSED, not its 3 s timeout: the writer is seen dead"
		is "$(o chan_attach 1) $(o chan_recv 1)" "0 0" \
			"its receive (3 s timeout) passes the slot a dead sender left half written..."
		is "$(o chan_data 1)" "after" "... and takes the message a live sender put behind it"
		is "$(o uid 0) $(o stream_then 0) $(o chan_recv 0) $(o chan_data 0)" \
			"0 $EPEERCLOSED 0 after" "root, the dead's own user, sees the same"
		is "$zrc" 0 "the parent of the dead ended cleanly"
		is "$(val zombies_to_the_end "$tmp/zout")" 4 "the dead stayed unreaped zombies to the end"
	fi

	left=$(ls /dev/shm | grep -c "t-sec-")
	is "$left" 0 "no segment of this test is left"
	userdel "$user"
	is $? 0 "the throwaway user is deleted"
	getent group "$user" >/dev/null 2>&1 && groupdel "$user" 2>/dev/null
	user=
fi
if [ -n "$servepid" ]; then
	touch "$tmp/stop"
	wait "$servepid"
	is $? 0 "the serving helper ended cleanly"
	servepid=
fi

echo "1..$n"
[ "$failed" = 0 ]
