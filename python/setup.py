"""Build the dragonipc Python package against libdragonipc.

The C extension dragonipc._dragonipc is compiled against the library that
pkg-config finds.  By default that is the installed ``dragonipc`` module;
set DRAGONIPC_PKGCONFIG to another module name (the build tree's
``dragonipc-uninstalled``, with PKG_CONFIG_PATH pointing at the build
directory) to build against an uninstalled copy.  Without pkg-config or
the library the build stops with a message saying what to install.

Without pkg-config (as on Windows), or to choose an installation, set
DRAGONIPC_PREFIX to the directory libdragonipc was installed into: the
header is taken from PREFIX/include, the library from PREFIX/lib (or lib64,
or Debian's lib/<multiarch>), and on Windows the DLL from PREFIX/bin.
DRAGONIPC_PREFIX wins over pkg-config.  When neither finds the library the
build stops and says what it looked for.

On Windows the DLL (libdragonipc-N.dll) is copied beside the extension,
where the package finds it at run time (see dragonipc/__init__.py).
MinGW links with PREFIX/lib/libdragonipc.dll.a; MSVC needs an import
library of its own, dragonipc.lib: when PREFIX/lib has none, it is made at
build time from the module-definition file the MinGW build installs there
(PREFIX/lib/dragonipc.def), with MSVC's lib.exe.

The extension finds the library at run time without LD_LIBRARY_PATH: when
pkg-config names a library directory that the dynamic loader does not
search by itself (a prefix such as $HOME/x or /opt/dragonipc), that
directory is recorded in the extension as its run path.  Builds against
an uninstalled module (the build tree's, which the Debian package and
make check use) get none, and DRAGONIPC_RPATH=no turns it off.
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

import setuptools
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.environ.get("DRAGONIPC_PKGCONFIG", "dragonipc")
PREFIX = os.environ.get("DRAGONIPC_PREFIX", "")
WINDOWS = sys.platform == "win32"


def fail(message):
    sys.stderr.write("\nerror: cannot build dragonipc: %s\n\n" % message)
    raise SystemExit(1)


def pkg_config(*args):
    exe = os.environ.get("PKG_CONFIG", "pkg-config")
    if not shutil.which(exe):
        fail("pkg-config was not found (looked for %r), and DRAGONIPC_PREFIX is not "
             "set.  Set DRAGONIPC_PREFIX to the directory libdragonipc was installed "
             "into (it holds include/dragonipc.h), or install pkg-config (Debian: "
             "apt-get install pkg-config) and libdragonipc." % exe)
    proc = subprocess.run([exe, *args, MODULE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode != 0:
        fail("pkg-config cannot find the %r module: %s\n"
             "Install libdragonipc (its headers and dragonipc.pc), or set "
             "PKG_CONFIG_PATH to the directory holding %s.pc."
             % (MODULE, proc.stderr.strip() or "no details", MODULE))
    return shlex.split(proc.stdout)


def prefix_flags(prefix):
    """What Extension() takes for a libdragonipc installed under prefix,
    found without pkg-config; fails saying what is missing."""
    prefix = os.path.abspath(os.path.expanduser(prefix))
    header = os.path.join(prefix, "include", "dragonipc.h")
    if not os.path.isfile(header):
        fail("DRAGONIPC_PREFIX is %s, but there is no %s.  Set it to the directory "
             "libdragonipc was installed into (make install's prefix)." % (prefix, header))
    if WINDOWS:
        names = ["libdragonipc.dll.a", "dragonipc.lib", "dragonipc.def"]
    else:
        names = ["libdragonipc.so", "libdragonipc.dylib", "libdragonipc.a"]
    dirs = [os.path.join(prefix, "lib"), os.path.join(prefix, "lib64")]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs.append(os.path.join(prefix, "lib", multiarch))
    found = [d for d in dirs if any(os.path.isfile(os.path.join(d, n)) for n in names)]
    if not found:
        fail("DRAGONIPC_PREFIX is %s, which has the header but not the library: looked "
             "for %s in %s." % (prefix, " or ".join(names), ", ".join(dirs)))
    return {"include_dirs": [os.path.join(prefix, "include")], "library_dirs": found[:1],
            "libraries": ["dragonipc"], "extra_compile_args": [], "extra_link_args": []}


def windows_dll(library_dirs):
    """Windows: the DLL to copy beside the extension.  make install puts it
    in PREFIX/bin beside PREFIX/lib; a build tree keeps it in .libs with
    the import library."""
    for d in library_dirs:
        for where in (os.path.join(d, os.pardir, "bin"), d):
            dlls = sorted(glob.glob(os.path.join(where, "libdragonipc-*.dll")))
            if dlls:
                return os.path.normpath(dlls[-1])
    fail("no libdragonipc-*.dll found in %s (nor in the bin directory beside each): "
         "the package cannot work without it." % ", ".join(library_dirs))


def library_flags():
    """From DRAGONIPC_PREFIX, else pkg-config, what Extension() takes."""
    if PREFIX:
        flags = prefix_flags(PREFIX)
    else:
        flags = pkg_config_flags()
    flags["runtime_library_dirs"] = run_path(flags["library_dirs"])
    return flags


def pkg_config_flags():
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
    if MODULE.endswith("-uninstalled") and not PREFIX:
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
DLL = windows_dll(flags["library_dirs"]) if WINDOWS and NEEDS_LIBRARY else None


class BuildExt(build_ext):
    """build_ext, and on Windows: the DLL copied beside the extension; for
    MSVC, its C standard option and an import library made from the .def."""

    def build_extension(self, ext):
        if self.compiler.compiler_type == "msvc":
            ext.extra_compile_args = ["/std:c11" if a == "-std=gnu11" else a
                                      for a in ext.extra_compile_args]
            self.msvc_import_library(ext)
        super().build_extension(ext)
        if DLL:
            self.copy_file(DLL, os.path.dirname(self.get_ext_fullpath(ext.name)))

    def msvc_import_library(self, ext):
        if any(os.path.isfile(os.path.join(d, "dragonipc.lib")) for d in ext.library_dirs):
            return
        defs = [os.path.join(d, "dragonipc.def") for d in ext.library_dirs
                if os.path.isfile(os.path.join(d, "dragonipc.def"))]
        if not defs:
            fail("MSVC links with dragonipc.lib, and neither it nor dragonipc.def (to "
                 "make it from) is in %s." % ", ".join(ext.library_dirs))
        if not self.compiler.initialized:
            self.compiler.initialize(self.plat_name)
        machine = {"win-amd64": "X64", "win-arm64": "ARM64"}.get(self.plat_name, "X86")
        os.makedirs(self.build_temp, exist_ok=True)
        lib = os.path.join(self.build_temp, "dragonipc.lib")
        self.compiler.spawn([self.compiler.lib, "/nologo", "/def:" + defs[0],
                             "/machine:" + machine, "/out:" + lib])
        ext.library_dirs.insert(0, self.build_temp)


SOURCES = ["ext/module.c", "ext/pool.c", "ext/channel.c", "ext/message.c",
           "ext/handles.c", "ext/stream.c", "ext/chanset.c"]

# The metadata lives in pyproject.toml; setuptools older than 61 cannot
# read it there, so give them what the build needs here.
legacy = {}
if tuple(int(x) for x in setuptools.__version__.split(".")[:2] if x.isdigit()) < (61, 0):
    legacy = dict(name="dragonipc", version="0.1.0", python_requires=">=3.8",
                  package_dir={"": "src"},
                  packages=["dragonipc", "dragonipc.infrastructure"],
                  package_data={"dragonipc": ["py.typed", "*.pyi"],
                                "dragonipc.infrastructure": ["*.pyi"]})

setup(
    **legacy,
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "dragonipc._dragonipc",
            sources=SOURCES,
            depends=["ext/dipcpy.h"],
            **flags,
        )
    ],
)
