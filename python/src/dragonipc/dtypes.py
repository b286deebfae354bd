"""Small shared types, as in Dragon's ``dragon.dtypes``.

Programs written for Dragon import their wait modes, send return modes and
receive notification types from here (``import dragonipc.dtypes as
dtypes``), with the same names and the same numbers as Dragon's:

* ``WaitMode`` -- ``IDLE_WAIT`` (0), ``SPIN_WAIT`` (1), ``ADAPTIVE_WAIT``
  (2); ``DEFAULT_WAIT_MODE`` is ``ADAPTIVE_WAIT``.  Honoured: a handle
  made with a wait mode waits that way (see ``WaitMode``).
* ``ReturnWhen`` -- ``WHEN_IMMEDIATE``, ``WHEN_BUFFERED``,
  ``WHEN_DEPOSITED``, ``WHEN_RECEIVED``: when a send returns.  A send here
  always returns once the message is in the channel, where a receiver can
  take it: that is ``WHEN_DEPOSITED``, and also what ``WHEN_IMMEDIATE``
  and ``WHEN_BUFFERED`` allow (they may return no earlier than that on a
  channel of this machine).  ``WHEN_RECEIVED`` is accepted but a send
  does not wait for a receiver to take the message.
* ``RecvNotifType`` -- ``RECV_SYNC_MANUAL``, ``RECV_SYNC_SIGNAL``: Dragon
  lists them and does not act on them; neither does this package.

Dragon's are small classes with a ``value``; here they are IntEnums, which
have a ``value`` too and compare equal to Dragon's numbers.
"""

import enum

from . import _dragonipc
from ._errors import DragonIPCError, DragonObjectDestroyed, DragonError

__all__ = [
    "WaitMode", "SPIN_WAIT", "IDLE_WAIT", "ADAPTIVE_WAIT", "DEFAULT_WAIT_MODE",
    "ReturnWhen", "WHEN_IMMEDIATE", "WHEN_BUFFERED", "WHEN_DEPOSITED", "WHEN_RECEIVED",
    "RecvNotifType", "RECV_SYNC_SIGNAL", "RECV_SYNC_MANUAL",
    "DragonException", "DragonObjectDestroyed", "DragonError", "get_rc_string", "getlasterrstr",
]


class WaitMode(enum.IntEnum):
    """How a blocked send or receive waits (Dragon's numbers)."""

    #: Sleep at once: least processor time.
    IDLE_WAIT = 0
    #: Spin (yielding the processor) until done or timed out: lowest latency.
    SPIN_WAIT = 1
    #: Spin briefly, then sleep (the default).
    ADAPTIVE_WAIT = 2


SPIN_WAIT = WaitMode.SPIN_WAIT
IDLE_WAIT = WaitMode.IDLE_WAIT
ADAPTIVE_WAIT = WaitMode.ADAPTIVE_WAIT
#: The wait mode handles use unless told otherwise.
DEFAULT_WAIT_MODE = ADAPTIVE_WAIT

# The compiled core numbers the modes otherwise; python/ext/handles.c
# translates, in one place.


class ReturnWhen(enum.IntEnum):
    """When a send returns (see the module documentation)."""

    WHEN_IMMEDIATE = 0
    WHEN_BUFFERED = 1
    WHEN_DEPOSITED = 2
    WHEN_RECEIVED = 3


WHEN_IMMEDIATE = ReturnWhen.WHEN_IMMEDIATE
WHEN_BUFFERED = ReturnWhen.WHEN_BUFFERED
WHEN_DEPOSITED = ReturnWhen.WHEN_DEPOSITED
WHEN_RECEIVED = ReturnWhen.WHEN_RECEIVED


class RecvNotifType(enum.IntEnum):
    """How a receiver is told of a message: accepted, not acted on (as in Dragon)."""

    RECV_SYNC_SIGNAL = 0
    RECV_SYNC_MANUAL = 1


RECV_SYNC_SIGNAL = RecvNotifType.RECV_SYNC_SIGNAL
RECV_SYNC_MANUAL = RecvNotifType.RECV_SYNC_MANUAL

#: Dragon's root exception class: here the root of this package's exceptions.
DragonException = DragonIPCError


def get_rc_string(rc):
    """The name of a library return code (a DIPC_E* code here)."""
    return _dragonipc.errname(rc)


def getlasterrstr():
    """Dragon keeps a per-thread trace of the last error; this library puts
    what failed into each exception instead, so there is none: ''."""
    return ""
