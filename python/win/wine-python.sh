#!/bin/sh
# Run one Python test with a Windows python.exe under Wine, for Automake's
# TAP driver (PY_LOG_COMPILER of make windows-python-check):
#
#   WIN_PY_DIR=DIR WIN_PYLIB=LIBDIR wine-python.sh t/py_NAME.py [args]
#
# - DIR holds python.exe (python/win/get-python.sh makes one); LIBDIR is
#   the Windows build of the package (make windows-python's python-win/lib).
#   Both, and the test's own directory (for taplib), are handed to Python
#   as Windows paths on PYTHONPATH.
# - Standard input is /dev/null: Windows Python stops at start-up when it
#   has no standard input handle at all, as under CI.
# - Windows writes "\r\n"; the carriage returns are removed so the TAP
#   driver sees clean lines.  The interpreter's exit status is kept.
# - DIPC_WINE_TIMEOUT (seconds, default 600) bounds a test that hangs.
set -u
: "${WIN_PY_DIR:?set WIN_PY_DIR to the directory holding the Windows python.exe}"
: "${WIN_PYLIB:?set WIN_PYLIB to the Windows build of the package (python-win/lib)}"

script=$1
shift
dir=$(cd "$(dirname "$script")" && pwd)
script=$dir/$(basename "$script")

WINEDEBUG=${WINEDEBUG:--all}
WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
export WINEDEBUG WINEDLLOVERRIDES

winpath() {
	winepath -w "$1" 2>/dev/null || echo "Z:$(echo "$1" | tr / '\\')"
}
PYTHONPATH="$(winpath "$WIN_PYLIB");$(winpath "$dir")"
PYTHONDONTWRITEBYTECODE=1
# Fewer rounds of the close races than on Linux: every system call costs
# more under Wine, and the races are the same.
PY_CLOSE_RACE_RUNS=${PY_CLOSE_RACE_RUNS:-10}
export PYTHONPATH PYTHONDONTWRITEBYTECODE PY_CLOSE_RACE_RUNS

limit=${DIPC_WINE_TIMEOUT:-600}
run() {
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 10 "$limit" wine "$WIN_PY_DIR/python.exe" "$(winpath "$script")" "$@" </dev/null
	else
		wine "$WIN_PY_DIR/python.exe" "$(winpath "$script")" "$@" </dev/null
	fi
}

# Standard output and error both go through pipes (tr), never straight to
# a file: Windows Python under Wine cannot start with a standard stream
# that is a regular file (the TAP driver sends standard error to the log).
# The interpreter's status is kept across the pipes (no pipefail in sh).
exec 3>&1
status=$( { { { run "$@" 2>&1 1>&5 3>&- 4>&- 5>&-; echo $? >&4; } |
	tr -d '\r' >&2; } 5>&1 | tr -d '\r' >&3; } 4>&1 )
exec 3>&-
exit "${status:-1}"
