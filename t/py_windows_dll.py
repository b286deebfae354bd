"""Windows: the package finds libdragonipc's DLL by itself, and says what it
looked for when it cannot.

Python 3.8 and later do not search PATH for the DLLs of an extension, so
dragonipc/__init__.py looks beside the extension (where the wheel puts the
DLL) and in the directories of DRAGONIPC_DLL_DIR.  Each case imports the
package in an interpreter of its own, from a copy of the package with or
without the DLL beside the extension.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from taplib import ok, is_, diag, skip_all, done_testing

if os.name != "nt":
    skip_all("Windows' DLL search")

import dragonipc
from dragonipc import _dragonipc, _DLL

pkg = os.path.dirname(os.path.abspath(dragonipc.__file__))
ok(_dragonipc.__file__.endswith(".pyd"), "the extension is a .pyd: %s"
   % os.path.basename(_dragonipc.__file__))
ok(os.path.isfile(os.path.join(pkg, _DLL)), "%s is beside it" % _DLL)
ok(dragonipc.library_version, "the library answers: %s" % dragonipc.library_version)

tmp = tempfile.mkdtemp(prefix="py_windll.")
bare = os.path.join(tmp, "bare")
shutil.copytree(pkg, os.path.join(bare, "dragonipc"),
                ignore=shutil.ignore_patterns(_DLL, "__pycache__"))
dlldir = os.path.join(tmp, "dll")
os.mkdir(dlldir)
shutil.copy(os.path.join(pkg, _DLL), dlldir)
empty = os.path.join(tmp, "empty")
os.mkdir(empty)
broken = os.path.join(tmp, "broken")
os.mkdir(broken)
with open(os.path.join(broken, _DLL), "wb") as f:
    f.write(b"not a DLL at all")

USE = ("import dragonipc.smipc as s\n"
       "w = s.open_channel('windll-%d', s.CHAN_W, 16).open()\n"
       "print('imported', w.is_open)\n" % os.getpid())


def run(dll_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = bare + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DRAGONIPC_DLL_DIR", None)
    if dll_dir is not None:
        env["DRAGONIPC_DLL_DIR"] = dll_dir
    proc = subprocess.run([sys.executable, "-c", USE], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


rc, out, err = run(None)
last = err.splitlines()[-1] if err else ""
ok(rc != 0 and last.startswith("ImportError: dragonipc cannot load its extension"),
   "without the DLL: an ImportError of ours")
ok(_DLL in last and "was not found" in last, "  ... naming the DLL it looked for")
ok(os.path.join(bare, "dragonipc") in last and "DRAGONIPC_DLL_DIR" in last,
   "  ... and where it looked")
diag(last)

rc, out, err = run(empty)
last = err.splitlines()[-1] if err else ""
ok(rc != 0 and empty in last, "DRAGONIPC_DLL_DIR without the DLL: listed where it looked")

rc, out, err = run(dlldir)
is_((rc, out), (0, "imported True"), "DRAGONIPC_DLL_DIR names the DLL's directory: it works")
if rc:
    diag(err)

rc, out, err = run(os.pathsep.join([empty, dlldir]))
is_((rc, out), (0, "imported True"), "DRAGONIPC_DLL_DIR with several directories")

rc, out, err = run(broken)
last = err.splitlines()[-1] if err else ""
ok(rc != 0 and "was found" in last and "could not be loaded" in last
   and os.path.join(broken, _DLL) in last, "a DLL that does not load: said so, with its path")
diag(last)

shutil.rmtree(tmp, ignore_errors=True)
done_testing()
