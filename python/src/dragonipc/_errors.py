"""The exceptions of dragonipc, in one place.

They are re-exported by dragonipc.channels, dragonipc.managed_memory and
dragonipc.smipc under the names Dragon and smipc use, with the same
hierarchy (the full, empty and timeout errors are also TimeoutError, as in
Dragon).  Each carries ``lib_err``, the library's negative DIPC_E* code, or
None when the error was found before the library was called.

Running out of file descriptors or handles (DIPC_ELIMIT) can only happen
where a segment is created or opened: creating or attaching a pool,
attaching a channel (which attaches its pool), opening a stream.  There the
error raised is the one the call always raises (DragonPoolCreateFail,
DragonPoolAttachFail, ChannelError, OperationFailedError), in a subclass
that is also a LimitError, so that code written for Dragon or smipc catches
it as before and new code can tell a shortage, which may pass once files
are closed, from a failure.
"""

__all__ = [
    "DragonIPCError",
    "ChannelError", "ChannelValueError", "ChannelHandleNotOpenError",
    "ChannelDestroyed", "ChannelExistsError", "ChannelTimeout",
    "ChannelSendError", "ChannelSendTimeout", "ChannelFull",
    "ChannelRecvError", "ChannelRecvTimeout", "ChannelEmpty",
    "DragonMemoryError", "DragonPoolError", "DragonPoolValueError",
    "DragonPoolCreateFail", "DragonPoolAttachFail", "DragonPoolDetachFail",
    "DragonPoolAllocationNotAvailable",
    "MessageAllocationError",
    "SmipcError", "ParameterTypeError", "OppositeEndClosedError",
    "OperationFailedError", "SmipcClosedError", "SmipcTimeout",
    "LimitError", "DragonPoolCreateLimit", "DragonPoolAttachLimit",
    "ChannelLimitError", "SmipcLimitError",
    "DragonObjectDestroyed", "ChannelOverflowError", "ChannelRemoteOperationNotSupported",
    "DragonMemoryTypeError", "DragonMemoryValueError", "DragonPoolCreateValueError",
    "DragonPoolOverflowError", "DragonPoolAllocValueError", "DragonPoolAllocTimeout",
    "MessageSizeError", "DragonError",
]

import enum


class DragonIPCError(Exception):
    """Root of every dragonipc exception.

    Accepts ``(msg)``, ``(msg, lib_err)`` or, as Dragon's memory errors
    do, ``(lib_err, msg)``.  ``lib_err`` is a negative DIPC_E* code or None;
    ``lib_err_str`` describes it.
    """

    _default = "dragonipc error"

    def __init__(self, *args):
        super().__init__(*args)
        msg, code = self._default, None
        if len(args) >= 2 and isinstance(args[0], int) and not isinstance(args[1], int):
            code, msg = args[0], args[1]
        elif args:
            msg = args[0]
            if len(args) >= 2:
                code = args[1]
        self.msg = str(msg)
        self.lib_err = code

    @property
    def lib_err_str(self):
        """The library's description of lib_err (None without one)."""
        if self.lib_err is None:
            return None
        from . import _dragonipc
        return _dragonipc.strerror(self.lib_err)

    def __str__(self):
        if self.lib_err is None:
            return self.msg
        from . import _dragonipc
        return "%s: %s (%s)" % (self.msg, _dragonipc.strerror(self.lib_err),
                                _dragonipc.errname(self.lib_err))

    def __repr__(self):
        return "%s(%r, %r)" % (type(self).__name__, self.msg, self.lib_err)


# ---- channels (names and hierarchy of dragon.channels) ---------------------

class ChannelError(DragonIPCError):
    """A channel operation failed."""


class ChannelValueError(ChannelError, ValueError):
    """An argument was not acceptable (a wrong size, a destroyed message, ...)."""


class ChannelHandleNotOpenError(ChannelError):
    """The send or receive handle is not open."""


class DragonObjectDestroyed(DragonIPCError):
    """The object a call used was destroyed (Dragon's
    ``dtypes.DragonObjectDestroyed``); ChannelDestroyed is one."""


class ChannelDestroyed(ChannelError, DragonObjectDestroyed, EOFError):
    """The channel was destroyed."""


class ChannelOverflowError(ChannelValueError, OverflowError):
    """A channel id (or another unsigned 64-bit argument) is negative or
    does not fit in 64 bits.  Dragon raises OverflowError here; this is
    also a ChannelValueError, so a ValueError too."""


class ChannelRemoteOperationNotSupported(ChannelError):
    """Dragon raises this for an attribute of a channel on another node.
    Every channel here is on this machine, so it is never raised; it exists
    so that code catching it imports."""


class ChannelExistsError(ChannelError):
    """The pool already has a channel with this id."""


class ChannelTimeout(ChannelError, TimeoutError):
    """A channel wait expired; base of ChannelSendTimeout and ChannelRecvTimeout."""


class ChannelSendError(ChannelError):
    """A send failed."""


class ChannelSendTimeout(ChannelSendError, ChannelTimeout):
    """A blocking send timed out."""


class ChannelFull(ChannelSendError, TimeoutError):
    """A send that tries once found the channel full."""


class ChannelRecvError(ChannelError):
    """A receive failed."""


class ChannelRecvTimeout(ChannelRecvError, ChannelTimeout):
    """A blocking receive timed out."""


class ChannelEmpty(ChannelRecvError, TimeoutError):
    """A receive that tries once found the channel empty."""


# ---- memory pools (names of dragon.managed_memory) ------------------------

class DragonMemoryError(DragonIPCError):
    """A memory pool or allocation operation failed.

    Its text also names the code Dragon reports for the same failure
    (``Dragon Error Code: DRAGON_...``) where there is one, since programs
    written for Dragon look for it; ``dragon_err`` is that DragonError.
    """

    @property
    def dragon_err(self):
        """The DragonError of lib_err (None without one)."""
        return DragonError.of_lib_err(self.lib_err)

    def __str__(self):
        text = super().__str__()
        code = self.dragon_err
        if code is None:
            return text
        return "%s\nDragon Error Code: DRAGON_%s" % (text, code.name)


class DragonMemoryTypeError(DragonMemoryError, TypeError):
    """Not a memory descriptor (MemoryAlloc.attach of other bytes), as in
    Dragon."""


class DragonMemoryValueError(DragonMemoryError, ValueError):
    """A MemoryAlloc that was detached, freed, or never attached, was used."""


class DragonPoolError(DragonMemoryError):
    """A pool operation failed."""


class DragonPoolValueError(DragonPoolError, ValueError):
    """A pool argument was not acceptable, or the pool object is detached."""


class DragonPoolCreateFail(DragonPoolError):
    """The pool could not be created (the name is taken, no memory, ...)."""


class DragonPoolAttachFail(DragonPoolError):
    """The pool could not be attached (destroyed, corrupt descriptor, ...)."""


class DragonPoolDetachFail(DragonPoolError):
    """The pool could not be detached."""


class DragonPoolAllocationNotAvailable(DragonPoolError):
    """The pool has no room for the allocation (the pool is full)."""


class DragonPoolCreateValueError(DragonPoolCreateFail, DragonPoolValueError, RuntimeError):
    """An argument of MemoryPool(...) was refused: a DragonPoolCreateFail,
    as in Dragon, and also a ValueError (and a RuntimeError, which Dragon
    raises for its attribute arguments)."""


class DragonPoolOverflowError(DragonPoolCreateValueError, OverflowError):
    """A pool size or uid below 0 or past 64 bits: an OverflowError, as in
    Dragon."""


class DragonPoolAllocValueError(DragonPoolValueError, RuntimeError):
    """An allocation size below 1: a RuntimeError, as in Dragon."""


class DragonPoolAllocTimeout(DragonPoolAllocationNotAvailable, TimeoutError):
    """MemoryPool.alloc_blocking found no room before its timeout: a
    TimeoutError, as in Dragon (with timeout 0 the plain
    DragonPoolAllocationNotAvailable is raised instead, as in Dragon)."""


class MessageSizeError(ChannelValueError, OverflowError):
    """Message.create_alloc of a negative size (or one past 64 bits): an
    OverflowError, as in Dragon."""


class MessageAllocationError(ChannelError, DragonPoolAllocationNotAvailable):
    """Message.create_alloc found no room in the pool.

    Both a ChannelError (as Dragon's create_alloc raises) and a
    DragonPoolAllocationNotAvailable.
    """


# ---- byte streams (names of smipc) ----------------------------------------

class SmipcError(DragonIPCError):
    """A stream operation failed."""


class ParameterTypeError(SmipcError, TypeError, ValueError):
    """An argument had the wrong type or value (both a TypeError and a ValueError)."""


class OppositeEndClosedError(SmipcError):
    """The other side of the stream closed (or died)."""

    _default = "Opposite end has been closed."


class OperationFailedError(SmipcError):
    """A stream operation failed for another reason."""


class SmipcClosedError(OperationFailedError):
    """This end of the stream was closed (close() or clean_library() in
    another thread, or in a signal handler) while the call was waiting, or
    was being closed when the call began.

    A write that had already moved some bytes says how many in
    ``written``: they are in the ring, and the reader gets them.
    """

    written = 0


class SmipcTimeout(SmipcError, TimeoutError):
    """A stream wait with a timeout expired (or, with timeout 0, could not
    proceed at once) before the operation was done."""


# ---- limits (DIPC_ELIMIT) --------------------------------------------------

class LimitError(DragonIPCError):
    """A process or system limit was reached (DIPC_ELIMIT): no file
    descriptor or handle was left to open a segment with.  Never raised
    alone: it is mixed into the error the failing call raises anyway."""


class DragonPoolCreateLimit(DragonPoolCreateFail, LimitError):
    """The pool could not be created: out of file descriptors or handles."""


class DragonPoolAttachLimit(DragonPoolAttachFail, LimitError):
    """The pool could not be attached: out of file descriptors or handles."""


class ChannelLimitError(ChannelError, LimitError):
    """The channel's pool could not be attached: out of file descriptors
    or handles."""


class SmipcLimitError(OperationFailedError, LimitError):
    """The stream could not be opened: out of file descriptors or handles."""


class DragonError(enum.IntEnum):
    """Dragon's return codes (``dragon.dtypes.DragonError``), those that
    have a counterpart here.  The values are this package's own numbering,
    SUCCESS being 0 as in Dragon; ``of_lib_err`` gives the code of a
    DIPC_E* error."""

    SUCCESS = 0
    FAILURE = 1
    INVALID_ARGUMENT = 2
    INVALID_OPERATION = 3
    TIMEOUT = 4
    NOT_IMPLEMENTED = 5
    INTERNAL_MALLOC_FAIL = 6
    DYNHEAP_REQUESTED_SIZE_NOT_AVAILABLE = 7
    KEY_NOT_FOUND = 8
    OBJECT_DESTROYED = 9
    MEMORY_OPERATION_ATTEMPT_ON_NONLOCAL_POOL = 10
    CHANNEL_FULL = 11
    CHANNEL_EMPTY = 12
    CHANNEL_RECV_INVALID_BUFFER_SIZE = 13

    @classmethod
    def of_lib_err(cls, code):
        """The DragonError for a DIPC_E* code; None for an unknown one."""
        if code is None:
            return None
        return _LIB_TO_DRAGON.get(code)


# DIPC_E* codes (include/dragonipc.h) and what Dragon calls the same case.
_LIB_TO_DRAGON = {
    0: DragonError.SUCCESS,
    -1: DragonError.INVALID_ARGUMENT,
    -2: DragonError.INTERNAL_MALLOC_FAIL,
    -3: DragonError.DYNHEAP_REQUESTED_SIZE_NOT_AVAILABLE,
    -4: DragonError.CHANNEL_FULL,
    -5: DragonError.CHANNEL_EMPTY,
    -6: DragonError.TIMEOUT,
    -8: DragonError.OBJECT_DESTROYED,
    -13: DragonError.KEY_NOT_FOUND,
    -14: DragonError.TIMEOUT,
    -15: DragonError.CHANNEL_RECV_INVALID_BUFFER_SIZE,
    -17: DragonError.MEMORY_OPERATION_ATTEMPT_ON_NONLOCAL_POOL,
}


def _fix_modules():
    """Show each class under the module users import it from."""
    homes = {
        "dragonipc.dtypes": ("DragonObjectDestroyed", "DragonError"),
        "dragonipc.channels": ("Channel", "MessageAllocationError", "MessageSizeError"),
        "dragonipc.managed_memory": ("Dragon",),
        "dragonipc.smipc": ("Smipc", "ParameterTypeError", "OppositeEndClosedError",
                            "OperationFailedError"),
    }
    for name in __all__:
        cls = globals()[name]
        for module, prefixes in homes.items():
            if name.startswith(prefixes):
                cls.__module__ = module
                break
        else:
            cls.__module__ = "dragonipc"


_fix_modules()
