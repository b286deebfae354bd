#!/bin/sh
# Run one Windows test program under Wine for Automake's TAP driver
# (LOG_COMPILER of a MinGW cross build): t/wine-run.sh t/NAME.exe [args].
#
# - libtool leaves t/NAME.exe as a launcher and the program itself in
#   t/.libs/NAME.exe; we run the program directly, so nothing depends on
#   the launcher translating Unix paths under Wine.
# - The DLL is found through WINEPATH (Wine adds it to the program's PATH,
#   which child processes inherit), pointed at the build tree's .libs, so a
#   rebuilt DLL is picked up at once and no copy goes stale.
# - Windows writes "\r\n"; the carriage returns are removed so the TAP
#   driver sees clean lines.  The program's exit status is kept.
# - Wine's own chatter is silenced; DIPC_WINE_TIMEOUT (seconds, default
#   600) bounds a test that hangs.
set -u

prog=$1
shift
dir=$(dirname "$prog")
base=$(basename "$prog")
case $base in *.exe) ;; *) base=$base.exe ;; esac
if [ -f "$dir/.libs/$base" ]; then
	prog=$dir/.libs/$base
elif [ -f "$dir/$base" ]; then
	prog=$dir/$base
fi

libs=${top_builddir:-.}/.libs
if command -v winepath >/dev/null 2>&1; then
	wlibs=$(WINEDEBUG=-all winepath -w "$libs" 2>/dev/null) || wlibs=
fi
[ -n "${wlibs:-}" ] || wlibs="Z:$(cd "$libs" 2>/dev/null && pwd | tr / '\\')"
WINEPATH="$wlibs${WINEPATH:+;$WINEPATH}"
WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko installer prompts if the prefix is new.
WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
export WINEPATH WINEDEBUG WINEDLLOVERRIDES

limit=${DIPC_WINE_TIMEOUT:-600}
run() {
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 10 "$limit" wine "$prog" "$@"
	else
		wine "$prog" "$@"
	fi
}

# Keep the program's status across the pipe through tr (no pipefail in sh).
exec 3>&1
status=$( { { run "$@"; echo $? >&4; } | tr -d '\r' >&3; } 4>&1 )
exec 3>&-
exit "${status:-1}"
