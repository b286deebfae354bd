#!/bin/sh
# Permissions and trust (Linux):
#  - segments are owner-only by default, whatever the umask; a pool's mode
#    attribute and a stream's perm argument widen them exactly as asked;
#  - another user gets DIPC_EPERM from every way in to a segment its mode
#    does not open to it (pools by name and by descriptor, channels,
#    streams in either role, unlinking), and does get in where the mode
#    lets it (so the refusals are the modes' doing, not a broken helper);
#    as root, a throwaway user is made for this and deleted at the end;
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

tmp=$(mktemp -d)
user=
servepid=
forgepid=
cleanup() {
	[ -n "$forgepid" ] && { exec 7>&- 2>/dev/null; wait "$forgepid" 2>/dev/null; }
	if [ -n "$servepid" ]; then
		touch "$tmp/stop"
		i=0
		while kill -0 "$servepid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$servepid" 2>/dev/null
	fi
	# Whatever a killed helper left (no-op when all went well).
	for f in /dev/shm/dipc.?.t-sec-*; do
		[ -e "$f" ] || continue
		case $f in *-"$servepid"-*|*-forge-"$forgepid") rm -f "$f" ;; esac
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
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do skip "$reason"; done
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
	is "$(a pool_p60_by_name) $(a pool_p60_by_desc)" "0 0" \
		"a group member attaches a 0660 pool by name and by descriptor"
	is "$(a chan_p60_send)" 0 "and sends into its channel"
	is "$(a stream_s60_write)" 0 "and writes into a 0660 stream"
	as_stranger "$helper" attack "$tmp" >"$tmp/stranger"
	s() { val "$1" "$tmp/stranger"; }
	is "$(s pool_p60_by_name) $(s chan_p60_send) $(s stream_s60_write)" "$EPERM $EPERM $EPERM" \
		"a user outside the group: EPERM from the 0660 pool, its channel and the 0660 stream"
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
	is "$(v served_s60_data)" "hello" "the group member's bytes arrived in the 0660 stream"
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
