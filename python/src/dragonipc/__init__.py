"""dragonipc: fast, crash-safe inter-process communication through shared memory.

Python bindings for libdragonipc, in three modules shaped after the APIs
they replace, so that existing code runs with only its imports changed:

* ``dragonipc.managed_memory`` -- memory pools (Dragon's ``dragon.managed_memory``)
* ``dragonipc.channels`` -- message channels in pools (Dragon's ``dragon.channels``)
* ``dragonipc.smipc`` -- named single-writer single-reader byte streams
  (the ``smipc`` module)

The compiled core is ``dragonipc._dragonipc``.
"""

from ._errors import DragonIPCError, LimitError
from . import _dragonipc

__all__ = ["DragonIPCError", "LimitError", "__version__", "library_version"]

#: The version of this package.
__version__ = "0.1.0"
#: The version of the libdragonipc the extension runs against.
library_version = _dragonipc.library_version
