"""Small shared types, as in Dragon's ``dragon.dtypes``.

Only what the channel handles use: how a blocked send or receive waits.
"""

import enum

from . import _dragonipc
from ._errors import DragonError

__all__ = ["WaitMode", "SPIN_WAIT", "IDLE_WAIT", "ADAPTIVE_WAIT", "DEFAULT_WAIT_MODE",
           "DragonError"]


class WaitMode(enum.IntEnum):
    """How a blocked send, receive or poll waits."""

    #: Spin briefly, then sleep (the default).
    ADAPTIVE_WAIT = _dragonipc.WAIT_ADAPTIVE
    #: Spin (yielding the processor) until done or timed out: lowest latency.
    SPIN_WAIT = _dragonipc.WAIT_SPIN
    #: Sleep at once: least processor time.
    IDLE_WAIT = _dragonipc.WAIT_IDLE


SPIN_WAIT = WaitMode.SPIN_WAIT
IDLE_WAIT = WaitMode.IDLE_WAIT
ADAPTIVE_WAIT = WaitMode.ADAPTIVE_WAIT
#: The wait mode handles use unless told otherwise.
DEFAULT_WAIT_MODE = ADAPTIVE_WAIT
