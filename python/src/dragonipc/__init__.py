"""dragonipc: fast, crash-safe inter-process communication through shared memory.

Python bindings for libdragonipc, in three modules shaped after the APIs
they replace, so that existing code runs with only its imports changed:

* ``dragonipc.managed_memory`` -- memory pools (Dragon's ``dragon.managed_memory``)
* ``dragonipc.channels`` -- message channels in pools (Dragon's ``dragon.channels``)
* ``dragonipc.smipc`` -- named single-writer single-reader byte streams
  (the ``smipc`` module)

The compiled core is ``dragonipc._dragonipc``.  On Windows it needs
libdragonipc's DLL, which is looked for (Python does not search PATH for
it) beside the extension, where the wheel puts it, then in the directories
that the DRAGONIPC_DLL_DIR environment variable names (separated by ";").
"""

import os as _os

from ._errors import DragonIPCError, LimitError

#: Windows: the DLL the extension is linked to (the number is its ABI version).
_DLL = "libdragonipc-0.dll"
_dll_dirs = []      # os.add_dll_directory's handles, kept for the process' life


def _windows_dll_dirs():
    """Where the DLL is looked for: beside the extension, then the
    directories of DRAGONIPC_DLL_DIR, which are added to the DLL search."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    dirs = [here]
    for d in _os.environ.get("DRAGONIPC_DLL_DIR", "").split(_os.pathsep):
        if d and d not in dirs:
            dirs.append(d)
            if _os.path.isdir(d):
                _dll_dirs.append(_os.add_dll_directory(_os.path.abspath(d)))
    return dirs


if _os.name == "nt":
    _looked = _windows_dll_dirs()
    try:
        from . import _dragonipc
    except ImportError as e:
        if "DLL load failed" not in str(e):
            raise
        found = [_os.path.join(d, _DLL) for d in _looked if _os.path.isfile(_os.path.join(d, _DLL))]
        if found:
            why = "%s was found (%s) but could not be loaded: %s" % (_DLL, found[0], e)
        else:
            why = ("%s was not found in %s (beside the extension)%s, nor in Windows' "
                   "system directories.  Reinstall the package, or set DRAGONIPC_DLL_DIR "
                   "to the directory that holds %s"
                   % (_DLL, _looked[0], "".join(", %s (DRAGONIPC_DLL_DIR)" % d
                                                for d in _looked[1:]), _DLL))
        raise ImportError("dragonipc cannot load its extension: " + why, name=e.name,
                          path=e.path) from e
else:
    from . import _dragonipc

__all__ = ["DragonIPCError", "LimitError", "__version__", "library_version"]

#: The version of this package.
__version__ = "0.1.0"
#: The version of the libdragonipc the extension runs against.
library_version = _dragonipc.library_version
