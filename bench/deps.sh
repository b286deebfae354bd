#!/bin/sh
# Install the peers libdragonipc is benchmarked against (bench/README.md).
# Not needed to build or test the library; .ci/deps does not call it.
# `make bench` and `make bench-smoke` skip whatever is missing.
set -eu
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PY=${PYTHON:-python3}
export DEBIAN_FRONTEND=noninteractive

# C peers: ZeroMQ and iceoryx (with its RouDi daemon, iox-roudi).
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	libzmq3-dev libiceoryx-binding-c-dev iceoryx >/dev/null

# Python peers and the plots.  dragonhpc is Dragon itself (its channels
# are one of the peers); iceoryx2 is iceoryx2's Python binding (a wheel
# with its Rust core inside); faster-fifo builds a small C extension.
pip_install() {
	"$PY" -m pip install -q "$@" 2>/dev/null ||
		"$PY" -m pip install -q --break-system-packages "$@"
}
pip_install matplotlib pyzmq faster-fifo dragonhpc iceoryx2
