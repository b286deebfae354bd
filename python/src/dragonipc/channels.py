"""Channels: bounded multi-producer multi-consumer message queues in pools.

The interface of Dragon's ``dragon.channels``: code written for it runs
with its import changed to ``dragonipc.channels``::

    from dragonipc.managed_memory import MemoryPool
    from dragonipc.channels import Channel, Message

    pool = MemoryPool(1 << 26, "mypool", 0)
    ch = Channel(pool, 1)
    with ch.sendh() as s, ch.recvh() as r:
        s.send_bytes(b"hello")
        assert r.recv_bytes() == b"hello"

Other processes attach with ``Channel.attach(ch.serialize())``, or get the
channel through pickling (as multiprocessing does).

Timeouts of send and receive calls, as Dragon defines them: left at the
default, the handle's own timeout applies (block forever unless one was
given when the handle was made); ``None`` blocks forever; ``0`` is the same
as ``blocking=False`` (try once); a positive number is seconds (a float);
a negative one raises ``ValueError``.  Every blocking call can be
interrupted by a signal (Ctrl-C raises KeyboardInterrupt promptly).
"""

import enum

from . import _dragonipc
from .dtypes import WaitMode, SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT, DEFAULT_WAIT_MODE
from .managed_memory import MemoryPool, DragonMemoryError
from ._errors import (ChannelError, ChannelValueError, ChannelHandleNotOpenError,
                      ChannelDestroyed, ChannelExistsError, ChannelTimeout,
                      ChannelSendError, ChannelSendTimeout, ChannelFull,
                      ChannelRecvError, ChannelRecvTimeout, ChannelEmpty,
                      MessageAllocationError, ChannelLimitError, LimitError)

__all__ = [
    "Channel", "Message", "ChannelSendH", "ChannelRecvH", "OwnershipOnSend",
    "copy_on_send", "transfer_ownership_on_send", "EventType", "PollResult",
    "WaitMode", "SPIN_WAIT", "IDLE_WAIT", "ADAPTIVE_WAIT", "DEFAULT_WAIT_MODE",
    "ChannelError", "ChannelValueError", "ChannelHandleNotOpenError",
    "ChannelDestroyed", "ChannelExistsError", "ChannelTimeout",
    "ChannelSendError", "ChannelSendTimeout", "ChannelFull",
    "ChannelRecvError", "ChannelRecvTimeout", "ChannelEmpty",
    "MessageAllocationError", "ChannelLimitError",
    "ChannelSet", "ChannelSetError", "ChannelSetTimeout",
    "ChannelBarrierReady", "ChannelBarrierBroken",
]

#: Messages: see the class's own documentation.
Message = _dragonipc.Message
#: Send handles: made unopened by Channel.sendh().
ChannelSendH = _dragonipc.ChannelSendH
#: Receive handles: made unopened by Channel.recvh().
ChannelRecvH = _dragonipc.ChannelRecvH


class OwnershipOnSend(enum.IntEnum):
    """What a send does with the message's memory."""

    #: The payload is copied; the message stays as it was.
    copy_on_send = _dragonipc.COPY_ON_SEND
    #: The allocation itself travels (no copy); the message is left empty.
    transfer_ownership_on_send = _dragonipc.TRANSFER_ON_SEND


copy_on_send = OwnershipOnSend.copy_on_send
transfer_ownership_on_send = OwnershipOnSend.transfer_ownership_on_send


class EventType(enum.IntEnum):
    """Events Channel.poll() waits for."""

    POLLNOTHING = 0
    #: A message can be received.
    POLLIN = 1
    #: A message can be sent.
    POLLOUT = 2
    #: Either of the above.
    POLLINOUT = 3
    #: The channel is empty.
    POLLEMPTY = 4
    #: The channel is full.
    POLLFULL = 5
    #: Not a wait: report the number of messages (in poll_result.value).
    POLLSIZE = 6
    # The channel as a barrier (see ChannelBarrierReady); Dragon's values.
    #: Release the parties counted on the barrier and mend it.
    POLLRESET = 7
    #: Count the caller in on the barrier (Dragon also calls it POLLBARRIER).
    POLLBARRIER_WAIT = 8
    POLLBARRIER = 8
    #: Break the barrier, releasing the counted parties with -1.
    POLLBARRIER_ABORT = 9
    #: Release the counted parties (by the one told it came last).
    POLLBARRIER_RELEASE = 10
    #: Not a wait: is the barrier broken (poll_result.value)?
    POLLBARRIER_ISBROKEN = 11
    #: Not a wait: parties counted in (poll_result.value).
    POLLBARRIER_WAITERS = 12
    #: Not a wait: receivers asleep on the channel (poll_result.value).
    POLLBLOCKED_RECEIVERS = 13


_POLL_MASKS = {
    EventType.POLLIN: _dragonipc.POLL_READABLE,
    EventType.POLLOUT: _dragonipc.POLL_WRITABLE,
    EventType.POLLINOUT: _dragonipc.POLL_READABLE | _dragonipc.POLL_WRITABLE,
    EventType.POLLEMPTY: _dragonipc.POLL_EMPTY,
    EventType.POLLFULL: _dragonipc.POLL_FULL,
}


class PollResult:
    """Where Channel.poll() puts its result when given one.

    ``value`` is the mask of DIPC poll events that held (or the message
    count for POLLSIZE), ``rc`` 0 or the library's timeout code.
    """

    def __init__(self, value=None, rc=None):
        """An empty result, filled in by poll()."""
        self.value = value
        self.rc = rc

    def __repr__(self):
        return "PollResult(%r, %r)" % (self.value, self.rc)


def _positive(what, value):
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ChannelValueError("%s must be an integer greater than zero, not %r" % (what, value))
    return value


class Channel(_dragonipc.Channel):
    """A channel in a memory pool.

    ``Channel(mem_pool, c_uid, block_size=None, capacity=None)`` creates the
    channel with unique id ``c_uid`` (an int >= 0) in ``mem_pool``.
    ``capacity`` is how many messages it holds (default 100); ``block_size``
    how many payload bytes travel inside the channel (default 1024; larger
    payloads travel as pool allocations).  Dragon's ``lock_type``,
    ``fc_type``, ``flags``, ``max_spinners`` and ``max_event_bcasts`` are
    accepted and ignored; ``def_alloc_pool`` sets ``default_alloc_pool``.

    Raises ChannelExistsError if the pool has a channel with that id,
    ChannelValueError for bad attributes, ChannelError otherwise (a full
    pool, say).

    A channel is a context manager: leaving the block destroys it if this
    object created it and detaches it otherwise.  It pickles as its
    descriptor, so multiprocessing can pass it; unpickling attaches.
    """

    def __init__(self, mem_pool, c_uid, block_size=None, capacity=None, lock_type=None,
                 fc_type=None, flags=None, def_alloc_pool=None, max_spinners=None,
                 max_event_bcasts=None):
        """Create the channel (see the class documentation)."""
        if not isinstance(mem_pool, MemoryPool):
            raise TypeError("mem_pool must be a MemoryPool, not %s" % type(mem_pool).__name__)
        if not isinstance(c_uid, int) or isinstance(c_uid, bool) or c_uid < 0:
            raise ChannelValueError("c_uid must be an integer >= 0, not %r" % (c_uid,))
        if c_uid >= 1 << 64:
            raise ChannelValueError("c_uid must fit in 64 bits")
        self._create(mem_pool, c_uid, _positive("capacity", capacity),
                     _positive("block_size", block_size))
        self._default_pool = def_alloc_pool if def_alloc_pool is not None else mem_pool

    @staticmethod
    def create(mem_pool, c_uid, attr=None):
        """Create a channel; attr may give ``capacity`` and ``block_size``
        (as a mapping or as attributes)."""
        opts = {}
        for key in ("capacity", "block_size"):
            if isinstance(attr, dict):
                value = attr.get(key)
            else:
                value = getattr(attr, key, None)
            if value is not None:
                opts[key] = value
        return Channel(mem_pool, c_uid, **opts)

    @classmethod
    def attach(cls, serialized_bytes, mem_pool=None):
        """Attach to the channel a serialized descriptor names.

        ``mem_pool`` becomes ``default_alloc_pool``; the channel's own pool
        is attached from the descriptor when mem_pool is not that pool.
        Raises ChannelError (ChannelValueError for a descriptor that is not
        one, ChannelDestroyed-like errors when the channel is gone).
        """
        ser = bytes(serialized_bytes)
        ch = cls.__new__(cls)
        if mem_pool is not None:
            if not isinstance(mem_pool, MemoryPool):
                raise TypeError("mem_pool must be a MemoryPool")
            try:
                ch._attach(ser, mem_pool)
                ch._default_pool = mem_pool
                return ch
            except ChannelValueError:
                pass    # not the channel's pool: use it only for allocations
        try:
            pool = MemoryPool._for_channel(ser)
        except DragonMemoryError as exc:
            cls_ = ChannelLimitError if isinstance(exc, LimitError) else ChannelError
            raise cls_("could not attach to the channel's pool", exc.lib_err) from exc
        ch._attach(ser, pool)
        ch._default_pool = mem_pool if mem_pool is not None else pool
        return ch

    def destroy(self):
        """Destroy the channel: remove it from its pool and wake every waiter.

        Handles of this or any other process then fail with
        ChannelDestroyed.  Raises ChannelDestroyed if it was already
        destroyed through this object.
        """
        self._destroy()

    def detach(self, serialize=False):
        """Stop using the channel from this object; the channel lives on.

        With serialize=True the descriptor is kept first, so serialize()
        still answers afterwards.  Handles already made keep working until
        they are closed and dropped.
        """
        if serialize:
            self.serialize()
        self._detach()

    def sendh(self, return_mode=None, wait_mode=DEFAULT_WAIT_MODE, timeout=None):
        """A new, unopened send handle (see ChannelSendH)."""
        return ChannelSendH(self, return_mode=return_mode, wait_mode=wait_mode, timeout=timeout)

    def recvh(self, notification_type=None, signal=None, wait_mode=DEFAULT_WAIT_MODE, timeout=None):
        """A new, unopened receive handle (see ChannelRecvH)."""
        return ChannelRecvH(self, notification_type=notification_type, signal=signal,
                            wait_mode=wait_mode, timeout=timeout)

    def poll(self, timeout=None, wait_mode=DEFAULT_WAIT_MODE, event_mask=EventType.POLLIN,
             poll_result=None):
        """Wait until event_mask holds; True if it does, False on timeout.

        timeout: None waits forever, 0 looks once, a positive number is
        seconds.  POLLSIZE does not wait: it stores the message count in
        poll_result.value.  wait_mode is accepted for compatibility (polls
        sleep).  Raises ValueError for an unknown event and ChannelDestroyed
        if the channel is destroyed meanwhile.
        """
        try:
            event = EventType(event_mask)
        except ValueError:
            raise ValueError("event_mask must be an EventType, not %r" % (event_mask,)) from None
        if event in _BARRIER_EVENTS:
            return _barrier_poll(self, event, timeout, poll_result)
        if event == EventType.POLLSIZE:
            count = self.num_msgs
            if poll_result is not None:
                poll_result.value, poll_result.rc = count, 0
            return True
        if event not in _POLL_MASKS:
            raise ValueError("event_mask must be POLLIN, POLLOUT, POLLINOUT, POLLEMPTY, "
                             "POLLFULL or POLLSIZE, not %r" % (event_mask,))
        got = self._poll(_POLL_MASKS[event], timeout)
        if poll_result is not None:
            poll_result.value = got
            poll_result.rc = 0 if got else _dragonipc.ETIMEDOUT
        return bool(got)

    def get_pool(self):
        """The MemoryPool the channel lives in."""
        return self._pool

    @property
    def default_alloc_pool(self):
        """The pool used for allocations made on the channel's behalf."""
        return self._default_pool

    @property
    def is_local(self):
        """Always True: channels live on this machine."""
        return True

    def __enter__(self):
        """Return the channel itself."""
        return self

    def __exit__(self, *exc):
        """Destroy the channel if this object created it, else detach."""
        if self.is_attached:
            if self.is_creator:
                self.destroy()
            else:
                self.detach()

    def __reduce__(self):
        return (_unpickle_channel, (self.serialize(),))

    def __repr__(self):
        if self.is_attached:
            return "<Channel cuid=%d capacity=%d block_size=%d>" % (
                self.cuid, self.capacity, self.block_size)
        return "<Channel %s>" % ("destroyed" if self.is_destroyed else "detached")


def _unpickle_channel(ser):
    return Channel.attach(ser)


# ---- the channel as a barrier, and channel sets (Dragon's names) --------------
#
# A channel of capacity n is a barrier of n parties (the C library's
# dipc_channel_barrier(3)): Channel.poll(event_mask=POLLBARRIER_WAIT) counts
# the caller in and returns True, or raises ChannelBarrierReady for the
# party that came last, which releases the others with POLLBARRIER_RELEASE;
# then every party receives one message from the channel, a 4-byte int in
# the machine's byte order: 0..n-1, or -1 if the barrier broke.

import threading as _threading

from ._errors import DragonIPCError as _DragonIPCError


class ChannelBarrierBroken(ChannelError, _threading.BrokenBarrierError):
    """The channel's barrier is broken (aborted, or a wait on it timed out);
    it must be reset with a POLLRESET poll."""


class ChannelBarrierReady(ChannelError):
    """Raised by a POLLBARRIER_WAIT poll to the party that completes the
    count: it must now release the others with POLLBARRIER_RELEASE."""


class ChannelSetError(_DragonIPCError):
    """A channel set could not be made or polled (as in Dragon, not a
    ChannelError)."""


class ChannelSetTimeout(ChannelSetError, TimeoutError):
    """A ChannelSet poll found nothing ready within its timeout."""


_BARRIER_OPS = {
    EventType.POLLBARRIER_WAIT: _dragonipc.BARRIER_WAIT,
    EventType.POLLBARRIER_RELEASE: _dragonipc.BARRIER_RELEASE,
    EventType.POLLBARRIER_ABORT: _dragonipc.BARRIER_ABORT,
    EventType.POLLRESET: _dragonipc.BARRIER_RESET,
}
_BARRIER_QUERIES = {
    EventType.POLLBARRIER_ISBROKEN: lambda ch: int(_dragonipc._channel_barrier_broken(ch)),
    EventType.POLLBARRIER_WAITERS: _dragonipc._channel_barrier_count,
    EventType.POLLBLOCKED_RECEIVERS: _dragonipc._channel_blocked_receivers,
}
_BARRIER_EVENTS = frozenset(_BARRIER_OPS) | frozenset(_BARRIER_QUERIES)


def _set_result(poll_result, value, rc):
    if poll_result is not None:
        poll_result.value, poll_result.rc = value, rc


def _barrier_poll(ch, event, timeout, poll_result):
    """Channel.poll for the barrier events and queries."""
    if event in _BARRIER_QUERIES:
        _set_result(poll_result, _BARRIER_QUERIES[event](ch), 0)
        return True
    rc = _dragonipc._channel_barrier(ch, _BARRIER_OPS[event], timeout)
    if rc >= 0 and rc != _dragonipc.BARRIER_LAST:
        _set_result(poll_result, int(event), 0)
        return True
    if rc == _dragonipc.BARRIER_LAST:
        _set_result(poll_result, int(event), 0)
        raise ChannelBarrierReady("all parties are here: release them with a "
                                  "POLLBARRIER_RELEASE poll")
    if rc == _dragonipc.EBROKEN:
        _set_result(poll_result, 0, rc)
        raise ChannelBarrierBroken("the barrier is broken; reset it with a POLLRESET poll", rc)
    if rc == _dragonipc.ETIMEDOUT and event == EventType.POLLBARRIER_WAIT:
        # As Dragon does: a wait that times out breaks the barrier and
        # releases the parties counted in.
        _dragonipc._channel_barrier(ch, _dragonipc.BARRIER_ABORT, 0)
        _set_result(poll_result, 0, rc)
        raise ChannelBarrierBroken("the barrier wait timed out; the barrier is now broken", rc)
    # Try once and not possible now (Dragon's "try again"), or the lock of
    # the barrier was not had in time.
    _set_result(poll_result, 0, rc)
    return False


def _barrier_count(self):
    """Parties counted in on the channel's barrier and not yet released."""
    return _dragonipc._channel_barrier_count(self)


def _broken_barrier(self):
    """True while the channel's barrier is broken."""
    return _dragonipc._channel_barrier_broken(self)


def _blocked_receivers(self):
    """How many receivers (and pollers for messages) are asleep on the channel."""
    return _dragonipc._channel_blocked_receivers(self)


Channel.barrier_count = property(_barrier_count)
Channel.broken_barrier = property(_broken_barrier)
Channel.blocked_receivers = property(_blocked_receivers)

_SET_MASKS = {
    EventType.POLLIN: _dragonipc.POLL_READABLE,
    EventType.POLLOUT: _dragonipc.POLL_WRITABLE,
    EventType.POLLINOUT: _dragonipc.POLL_READABLE | _dragonipc.POLL_WRITABLE,
    EventType.POLLEMPTY: _dragonipc.POLL_EMPTY,
    EventType.POLLFULL: _dragonipc.POLL_FULL,
}


def _revent(mask):
    if mask & _dragonipc.POLL_DESTROYED:
        return EventType.POLLNOTHING
    both = _dragonipc.POLL_READABLE | _dragonipc.POLL_WRITABLE
    if mask & both == both:
        return EventType.POLLINOUT
    for event, bit in ((EventType.POLLIN, _dragonipc.POLL_READABLE),
                       (EventType.POLLOUT, _dragonipc.POLL_WRITABLE),
                       (EventType.POLLEMPTY, _dragonipc.POLL_EMPTY),
                       (EventType.POLLFULL, _dragonipc.POLL_FULL)):
        if mask & bit:
            return event
    return EventType.POLLNOTHING


class ChannelSet(_dragonipc.ChannelSetCore):
    """Wait on many channels at once (Dragon's ``ChannelSet``).

    ``ChannelSet(mem_pool, channel_list, lock_type=None,
    num_allowed_spin_waiters=None, event_mask=EventType.POLLIN,
    capture_all_events=True)`` watches every channel of channel_list (they
    may live in different pools) for event_mask: POLLIN, POLLOUT,
    POLLINOUT, POLLEMPTY or POLLFULL.  The set's bell, the word its polls
    sleep on, is allocated in mem_pool.  poll() sleeps once for all of them
    and returns ``(channel, revent)`` for a channel where the event holds,
    taking the channels in turn so that a busy one does not hide the
    others.  A channel destroyed meanwhile is returned with POLLNOTHING.

    Differences from Dragon: readiness is a state, reported by every poll
    while it holds; a sender never waits for a poller to take its event,
    whatever capture_all_events says (which, like lock_type and
    num_allowed_spin_waiters, is accepted and checked but changes
    nothing).  A channel takes at most eight sets at a time.  A set
    belongs to the process that made it and does not pickle.  The set
    holds its channels: they stay usable through it until it is destroyed
    (by destroy() or when collected), and destroying a channel meanwhile
    works as usual.
    """

    def __init__(self, mem_pool, channel_list, lock_type=None, num_allowed_spin_waiters=None,
                 event_mask=EventType.POLLIN, capture_all_events=True):
        """Make the set (see the class documentation)."""
        if not isinstance(mem_pool, MemoryPool):
            raise TypeError("mem_pool must be a MemoryPool, not %s" % type(mem_pool).__name__)
        if num_allowed_spin_waiters is not None and (
                not isinstance(num_allowed_spin_waiters, int) or
                isinstance(num_allowed_spin_waiters, bool) or num_allowed_spin_waiters <= 0):
            raise ChannelSetError("num_allowed_spin_waiters must be an integer greater than zero")
        try:
            events = _SET_MASKS[EventType(event_mask)]
        except (ValueError, KeyError):
            raise ChannelSetError("event_mask must be POLLIN, POLLOUT, POLLINOUT, POLLEMPTY "
                                  "or POLLFULL, not %r" % (event_mask,)) from None
        channels = list(channel_list)
        for c in channels:
            if not isinstance(c, Channel):
                raise ChannelSetError("channel_list holds %s, not a Channel" % type(c).__name__)
        try:
            super().__init__(mem_pool, channels, events)
        except ChannelError as exc:
            raise ChannelSetError("could not create the channel set: %s" % exc.msg,
                                  exc.lib_err) from exc
        self.channel_list = channels
        self.event_mask = EventType(event_mask)

    def poll(self, timeout=None, wait_mode=IDLE_WAIT):
        """Wait until the event holds on a channel of the set.

        Returns ``(channel, revent)``.  timeout: None waits forever, 0
        looks once, a positive number is seconds; ChannelSetTimeout when
        nothing held in time.  wait_mode is accepted for compatibility
        (the poll sleeps).
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise ValueError("poll timeout must be a float or int")
            if timeout < 0:
                raise ValueError("Cannot provide timeout < 0 to poll operation")
        try:
            got = self._poll(1, timeout)
        except ChannelError as exc:
            raise ChannelSetError("could not poll the channel set: %s" % exc.msg,
                                  exc.lib_err) from exc
        if not got:
            raise ChannelSetTimeout("timeout while polling the channel set", _dragonipc.ETIMEDOUT)
        index, mask = got[0]
        return (self.channel_list[index], _revent(mask))

    def __reduce__(self):
        raise TypeError("a ChannelSet belongs to the process that made it and does not pickle")

    def __repr__(self):
        return "<ChannelSet of %d channels, %s%s>" % (
            len(self.channel_list), self.event_mask.name,
            ", destroyed" if self.is_destroyed else "")
