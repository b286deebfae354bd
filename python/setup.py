"""Build the dragonipc Python package against libdragonipc.

The C extension dragonipc._dragonipc is compiled against the library that
pkg-config finds.  By default that is the installed ``dragonipc`` module;
set DRAGONIPC_PKGCONFIG to another module name (the build tree's
``dragonipc-uninstalled``, with PKG_CONFIG_PATH pointing at the build
directory) to build against an uninstalled copy.  Without pkg-config or
the library the build stops with a message saying what to install.

The extension finds the library at run time without LD_LIBRARY_PATH: when
pkg-config names a library directory that the dynamic loader does not
search by itself (a prefix such as $HOME/x or /opt/dragonipc), that
directory is recorded in the extension as its run path.  Builds against
an uninstalled module (the build tree's, which the Debian package and
make check use) get none, and DRAGONIPC_RPATH=no turns it off.
"""

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

import setuptools
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.environ.get("DRAGONIPC_PKGCONFIG", "dragonipc")


def fail(message):
    sys.stderr.write("\nerror: cannot build dragonipc: %s\n\n" % message)
    raise SystemExit(1)


def pkg_config(*args):
    exe = os.environ.get("PKG_CONFIG", "pkg-config")
    if not shutil.which(exe):
        fail("pkg-config was not found (looked for %r).  Install pkg-config "
             "(Debian: apt-get install pkg-config) and libdragonipc." % exe)
    proc = subprocess.run([exe, *args, MODULE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        fail("pkg-config cannot find the %r module: %s\n"
             "Install libdragonipc (its headers and dragonipc.pc), or set "
             "PKG_CONFIG_PATH to the directory holding %s.pc."
             % (MODULE, proc.stderr.strip() or "no details", MODULE))
    return shlex.split(proc.stdout)


def library_flags():
    """Split pkg-config's answer into what Extension() takes."""
    flags = {"include_dirs": [], "library_dirs": [], "libraries": [],
             "extra_compile_args": [], "extra_link_args": []}
    for arg in pkg_config("--cflags"):
        if arg.startswith("-I"):
            flags["include_dirs"].append(arg[2:])
        else:
            flags["extra_compile_args"].append(arg)
    for arg in pkg_config("--libs"):
        if arg.startswith("-L"):
            flags["library_dirs"].append(arg[2:])
        elif arg.startswith("-l"):
            flags["libraries"].append(arg[2:])
        else:
            flags["extra_link_args"].append(arg)
    flags["runtime_library_dirs"] = run_path(flags["library_dirs"])
    return flags


def loader_default_dirs():
    """The directories the dynamic loader searches without being told:
    /lib and /usr/lib, their lib64 variants and their multiarch
    subdirectories (Debian's /usr/lib/x86_64-linux-gnu).  Directories
    that only /etc/ld.so.conf names, such as /usr/local/lib, are not
    among them: they need ldconfig after every install."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = set()
    for top in ("/lib", "/usr/lib", "/lib64", "/usr/lib64"):
        dirs.add(os.path.realpath(top))
        if multiarch:
            dirs.add(os.path.realpath(os.path.join(top, multiarch)))
    return dirs


def run_path(library_dirs):
    """The library directories to record as the extension's run path."""
    if not sys.platform.startswith(("linux", "freebsd", "netbsd", "openbsd")):
        return []
    if MODULE.endswith("-uninstalled"):
        return []
    if os.environ.get("DRAGONIPC_RPATH", "").lower() in ("no", "0", "false", "off"):
        return []
    default = loader_default_dirs()
    return [d for d in library_dirs
            if os.path.isabs(d) and os.path.realpath(d) not in default]


# Only building needs the library; sdist, egg_info and the like do not.
NEEDS_LIBRARY = not any(cmd in sys.argv for cmd in ("sdist", "egg_info", "--version",
                                                     "--help", "clean", "dist_info"))
flags = library_flags() if NEEDS_LIBRARY else {}
flags.setdefault("extra_compile_args", []).append("-std=gnu11")

SOURCES = ["ext/module.c", "ext/pool.c", "ext/channel.c", "ext/message.c",
           "ext/handles.c", "ext/stream.c", "ext/chanset.c"]

# The metadata lives in pyproject.toml; setuptools older than 61 cannot
# read it there, so give them what the build needs here.
legacy = {}
if tuple(int(x) for x in setuptools.__version__.split(".")[:2] if x.isdigit()) < (61, 0):
    legacy = dict(name="dragonipc", version="0.1.0", python_requires=">=3.8",
                  package_dir={"": "src"}, packages=["dragonipc"],
                  package_data={"dragonipc": ["py.typed", "*.pyi"]})

setup(
    **legacy,
    ext_modules=[
        Extension(
            "dragonipc._dragonipc",
            sources=SOURCES,
            depends=["ext/dipcpy.h"],
            **flags,
        )
    ],
)
