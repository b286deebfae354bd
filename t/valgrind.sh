#!/bin/sh
# valgrind.sh - run one C test program under valgrind memcheck (the
# LOG_COMPILER of `make check-valgrind`).
#
# The test programs are libtool wrapper scripts, so valgrind is started
# through `libtool --mode=execute`, which puts it on the real binary with
# the uninstalled library's path.  A child a test fork()s is a copy of the
# valgrind process, checked like its parent; every process writes its own
# log (--log-file=...%p), read here when the test is over.
#
# The test fails (a TAP "Bail out!", exit 99) when
#   - any process, the test or a child, had a memcheck error (invalid
#     read or write, use of an uninitialised value, bad free, overlap, ...):
#     valgrind makes that process exit 99 (--error-exitcode) and its log
#     says "ERROR SUMMARY: n errors" with n > 0;
#   - the test process definitely lost memory at exit;
#   - the test process left open a descriptor it opened itself
#     (--track-fds lists inherited ones too; those are not ours).
# Leaks and descriptors of children are reported in their logs but do not
# count: a child ends with _exit() and holds what its parent had at the
# fork, and several tests have a child leave without freeing on purpose
# (that is what they test).  So leaks are not made errors on the command
# line (--errors-for-leak-kinds=none, or such a child would exit 99 and
# fail its test); the test process is held to "definitely lost: 0" here.
# A process that was SIGKILLed (the crash tests do that on purpose) leaves
# a log without a summary, which is fine.
#
# DIPC_TEST_SCALE, DIPC_TRIALS (t/crash_trials) and DIPC_STRESS_MSGS
# (t/stress_mp) are set to small values (unless already set) so those
# tests run shorter loops under valgrind's slow-down.
set -u
prog=$1
shift
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
DIPC_TEST_SCALE=${DIPC_TEST_SCALE:-0.05}
DIPC_TRIALS=${DIPC_TRIALS:-25}
DIPC_STRESS_MSGS=${DIPC_STRESS_MSGS:-20000}
export DIPC_TEST_SCALE DIPC_TRIALS DIPC_STRESS_MSGS

logbase=$prog.vg
rm -f "$logbase".*
"$top_builddir/libtool" --mode=execute valgrind \
	--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=none \
	--track-fds=yes --suppressions="$top_srcdir/t/valgrind.supp" \
	--log-file="$logbase.%p" "$prog" "$@"
rc=$?

pids=" "
for f in "$logbase".*; do
	[ -f "$f" ] && pids="$pids${f##*.} "
done
bad=
nlogs=0
for f in "$logbase".*; do
	[ -f "$f" ] || continue
	nlogs=$((nlogs + 1))
	if grep -q 'ERROR SUMMARY: [1-9]' "$f"; then
		bad="$bad $f"
		continue
	fi
	# A child: its parent's log is among ours.
	ppid=$(sed -n 's/^==[0-9]*== Parent PID: //p' "$f")
	case $pids in *" $ppid "*) continue ;; esac
	if grep -q 'definitely lost: [1-9]' "$f"; then
		bad="$bad $f"
		continue
	fi
	# An open descriptor followed by a stack (opened by the program),
	# not by "<inherited from parent>".
	if awk '/Open (file|AF_UNIX socket|AF_INET[^ ]* socket) descriptor/ { o = 1; next }
		o && /<inherited from parent>/ { o = 0; next }
		o && /(at|by) 0x/ { found = 1 }
		o && /^==[0-9]+== *$/ { o = 0 }
		END { exit !found }' "$f"; then
		bad="$bad $f"
	fi
done
if [ "$nlogs" = 0 ]; then
	echo "Bail out! valgrind left no log (is it installed?)"
	exit 99
fi
if [ -n "$bad" ]; then
	for f in $bad; do
		echo "# ---- $f"
		sed 's/^/# /' "$f"
	done
	echo "Bail out! valgrind found errors, leaks or open descriptors:$bad"
	exit 99
fi
echo "# valgrind: no error in $nlogs processes"
rm -f "$logbase".*
exit $rc
