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

Every public name of Dragon's module is here; where one of Dragon's options
has no meaning on this library (a lock type for a ring that takes no lock,
gateways to other nodes) it is accepted, checked as Dragon checks it, and
documented as having no effect.  python/README.md has the table, name by
name.

Lifecycle rule (as Dragon's): a process knows a channel by its
descriptor.  A Channel object that was detached comes back to life when
this process attaches the same channel again (``Channel.attach`` of its
descriptor), so that ``ch.detach(serialize=True); Channel.attach(ser);
ch.destroy()`` works as it does in Dragon.  A destroyed object stays
destroyed.
"""

import atexit
import enum
import os
import pickle
import weakref

from . import _dragonipc
from . import dtypes
from .dtypes import (WaitMode, SPIN_WAIT, IDLE_WAIT, ADAPTIVE_WAIT, DEFAULT_WAIT_MODE,
                     ReturnWhen, RecvNotifType, WHEN_BUFFERED, RECV_SYNC_MANUAL)
from .managed_memory import MemoryPool, DragonMemoryError
from ._errors import (ChannelError, ChannelValueError, ChannelHandleNotOpenError,
                      ChannelDestroyed, ChannelExistsError, ChannelTimeout,
                      ChannelSendError, ChannelSendTimeout, ChannelFull,
                      ChannelRecvError, ChannelRecvTimeout, ChannelEmpty,
                      MessageAllocationError, ChannelLimitError, LimitError,
                      ChannelOverflowError, ChannelRemoteOperationNotSupported)

__all__ = [
    "Channel", "Message", "ChannelSendH", "ChannelRecvH", "OwnershipOnSend",
    "copy_on_send", "transfer_ownership_on_send", "EventType", "PollResult",
    "WaitMode", "SPIN_WAIT", "IDLE_WAIT", "ADAPTIVE_WAIT", "DEFAULT_WAIT_MODE",
    "ChannelError", "ChannelValueError", "ChannelHandleNotOpenError",
    "ChannelDestroyed", "ChannelExistsError", "ChannelTimeout",
    "ChannelSendError", "ChannelSendTimeout", "ChannelFull",
    "ChannelRecvError", "ChannelRecvTimeout", "ChannelEmpty",
    "MessageAllocationError", "ChannelLimitError",
    # Dragon's other public names
    "LockType", "FIFO", "LITE", "GREEDY",
    "FlowControl", "NO_FLOW_CONTROL", "RESOURCES_FLOW_CONTROL", "MEMORY_FLOW_CONTROL",
    "MSGS_FLOW_CONTROL",
    "ChannelFlags", "NO_FLAGS", "MASQUERADE_AS_REMOTE",
    "POLLNOTHING", "POLLIN", "POLLOUT", "POLLINOUT", "POLLEMPTY", "POLLFULL", "POLLSIZE",
    "POLLBLOCKED_RECEIVERS", "SEMAPHORE_P", "SEMAPHORE_V", "SEMAPHORE_VZ", "SEMAPHORE_PEEK",
    "POLLRESET", "POLLBARRIER", "POLLBARRIER_WAIT", "POLLBARRIER_ABORT", "POLLBARRIER_RELEASE",
    "POLLBARRIER_ISBROKEN", "POLLBARRIER_WAITERS",
    "ChannelAdapterMsgTypes", "EOT", "PICKLE_PROT_5", "RAW_BYTES",
    "ChannelOverflowError", "ChannelRemoteOperationNotSupported",
    "Peer2PeerWritingChannelFile", "Peer2PeerReadingChannelFile",
    "Many2ManyWritingChannelFile", "Many2ManyReadingChannelFile",
    "GatewayMessage", "register_gateways_from_env", "discard_gateways",
    "BUF_READ", "BUF_WRITE", "MINIMUM_BLOCK_SIZE", "HandlePickleError",
    "ChannelSet", "ChannelSetError", "ChannelSetTimeout",
    "ChannelBarrierReady", "ChannelBarrierBroken",
]

#: Messages: see the class's own documentation.
Message = _dragonipc.Message
#: Send handles: made unopened by Channel.sendh().
ChannelSendH = _dragonipc.ChannelSendH
#: Receive handles: made unopened by Channel.recvh().
ChannelRecvH = _dragonipc.ChannelRecvH

#: Raised by pickling or copying a handle (a TypeError and a NotImplementedError).
HandlePickleError = _dragonipc.HandlePickleError

#: Dragon's names for the buffer flags of its memoryviews.
BUF_READ = 0x100
BUF_WRITE = 0x200

#: The smallest block_size a Channel takes, as in Dragon (its
#: DRAGON_CHANNEL_MINIMUM_BYTES_PER_BLOCK); smaller ones raise ChannelValueError.
MINIMUM_BLOCK_SIZE = 256


class OwnershipOnSend(enum.IntEnum):
    """What a send does with the message's memory."""

    #: The payload is copied; the message stays as it was.
    copy_on_send = _dragonipc.COPY_ON_SEND
    #: The allocation itself travels (no copy); the message is left empty.
    transfer_ownership_on_send = _dragonipc.TRANSFER_ON_SEND


copy_on_send = OwnershipOnSend.copy_on_send
transfer_ownership_on_send = OwnershipOnSend.transfer_ownership_on_send


class LockType(enum.IntEnum):
    """Dragon's choice of lock inside a channel (fair FIFO, lighter FIFO,
    greedy).  Accepted and reported back by ``Channel.lock_type``; it has no
    effect here: sends and receives take no lock at all (each slot of the
    ring is claimed by an atomic compare-and-swap), so there is no lock
    whose fairness could be chosen.  Order among competing senders is the
    order in which their compare-and-swap succeeds."""

    FIFO = 0
    LITE = 1
    GREEDY = 2


FIFO = LockType.FIFO
LITE = LockType.LITE
GREEDY = LockType.GREEDY


class FlowControl(enum.IntEnum):
    """Dragon's flow-control kinds.  Dragon documents them as not
    implemented; here too they are accepted, reported back by
    ``Channel.fc_type``, and change nothing: a channel's capacity is its
    only flow control."""

    NO_FLOW_CONTROL = 0
    RESOURCES_FLOW_CONTROL = 1
    MEMORY_FLOW_CONTROL = 2
    MSGS_FLOW_CONTROL = 3


NO_FLOW_CONTROL = FlowControl.NO_FLOW_CONTROL
RESOURCES_FLOW_CONTROL = FlowControl.RESOURCES_FLOW_CONTROL
MEMORY_FLOW_CONTROL = FlowControl.MEMORY_FLOW_CONTROL
MSGS_FLOW_CONTROL = FlowControl.MSGS_FLOW_CONTROL


class ChannelFlags(enum.IntEnum):
    """Dragon's channel flags.  MASQUERADE_AS_REMOTE is a test aid there
    that sends a local channel's operations through its gateways to
    another node; there are no other nodes nor gateways here, so the flag
    is accepted and changes nothing."""

    NO_FLAGS = 0
    MASQUERADE_AS_REMOTE = 1


NO_FLAGS = ChannelFlags.NO_FLAGS
MASQUERADE_AS_REMOTE = ChannelFlags.MASQUERADE_AS_REMOTE


class EventType(enum.IntEnum):
    """Events and operations of Channel.poll(), with Dragon's numbers."""

    #: Not an event: poll() refuses it (ValueError), as Dragon does.
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
    #: Not a wait: report how many receivers are blocked on the channel.
    POLLBLOCKED_RECEIVERS = 13
    #: Semaphore channels: take one (wait up to the timeout for one).
    SEMAPHORE_P = 14
    #: Semaphore channels: give one back.
    SEMAPHORE_V = 15
    #: Semaphore channels: wait until the value is zero.
    SEMAPHORE_VZ = 16
    #: Semaphore channels: the value now, in poll_result.value.
    SEMAPHORE_PEEK = 17


POLLNOTHING = EventType.POLLNOTHING
POLLIN = EventType.POLLIN
POLLOUT = EventType.POLLOUT
POLLINOUT = EventType.POLLINOUT
POLLEMPTY = EventType.POLLEMPTY
POLLFULL = EventType.POLLFULL
POLLSIZE = EventType.POLLSIZE
POLLBLOCKED_RECEIVERS = EventType.POLLBLOCKED_RECEIVERS
POLLRESET = EventType.POLLRESET
POLLBARRIER = EventType.POLLBARRIER
POLLBARRIER_WAIT = EventType.POLLBARRIER_WAIT
POLLBARRIER_ABORT = EventType.POLLBARRIER_ABORT
POLLBARRIER_RELEASE = EventType.POLLBARRIER_RELEASE
POLLBARRIER_ISBROKEN = EventType.POLLBARRIER_ISBROKEN
POLLBARRIER_WAITERS = EventType.POLLBARRIER_WAITERS
SEMAPHORE_P = EventType.SEMAPHORE_P
SEMAPHORE_V = EventType.SEMAPHORE_V
SEMAPHORE_VZ = EventType.SEMAPHORE_VZ
SEMAPHORE_PEEK = EventType.SEMAPHORE_PEEK

_POLL_MASKS = {
    EventType.POLLIN: _dragonipc.POLL_READABLE,
    EventType.POLLOUT: _dragonipc.POLL_WRITABLE,
    EventType.POLLINOUT: _dragonipc.POLL_READABLE | _dragonipc.POLL_WRITABLE,
    EventType.POLLEMPTY: _dragonipc.POLL_EMPTY,
    EventType.POLLFULL: _dragonipc.POLL_FULL,
}


class PollResult:
    """Where Channel.poll() puts its result when given one.

    ``value`` is the mask of DIPC poll events that held (or the count for
    POLLSIZE and SEMAPHORE_PEEK), ``rc`` 0 or the library's timeout code.
    """

    def __init__(self, value=None, rc=None):
        """An empty result, filled in by poll()."""
        self.value = value
        self.rc = rc

    def __str__(self):
        return "PollResult(%s,%s)" % (self.value, self.rc)

    def __repr__(self):
        return "PollResult(%r, %r)" % (self.value, self.rc)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(what, value):
    if value is None:
        return 0
    if not _is_int(value) or value <= 0:
        raise ChannelValueError("%s must be an integer greater than zero, not %r" % (what, value))
    return value


def _check_uid(c_uid):
    # Dragon's c_uid is a C uint64: a str is a TypeError, a negative or
    # too large number an OverflowError.
    if not isinstance(c_uid, int):
        raise TypeError("c_uid must be an int, not %s" % type(c_uid).__name__)
    if c_uid < 0 or c_uid >= 1 << 64:
        raise ChannelOverflowError("c_uid must be from 0 to 2**64-1, not %r" % (c_uid,))
    return int(c_uid)


def _check_timeout(timeout, what="poll"):
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise ValueError("%s timeout must be a float or int, not %r" % (what, timeout))
    if timeout < 0:
        raise ValueError("cannot provide timeout < 0 to %s" % what)
    return timeout


def _check_wait_mode(wait_mode):
    try:
        return WaitMode(wait_mode)
    except (ValueError, TypeError):
        raise ChannelValueError("wait_mode must be SPIN_WAIT, IDLE_WAIT or ADAPTIVE_WAIT, "
                                "not %r" % (wait_mode,)) from None


# Detached Channel objects of this process, by descriptor: attaching the
# same descriptor again brings them back (see the module documentation).
_detached = {}
# Process-local channels, destroyed when the process exits.
_process_local = []


def _remember_detached(ch, ser):
    if len(_detached) >= 256:
        # Forget channels whose detached objects are all gone.
        for key in [k for k, objs in _detached.items() if not objs]:
            del _detached[key]
    _detached.setdefault(ser, weakref.WeakSet()).add(ch)


def _revive(ser, pool):
    objs = _detached.pop(ser, None)
    for obj in list(objs or ()):
        try:
            obj._reattach(ser, pool)
            obj._default_pool = getattr(obj, "_default_pool", None) or pool
        except ChannelError:
            pass


class Channel(_dragonipc.Channel):
    """A channel in a memory pool.

    ``Channel(mem_pool, c_uid, block_size=None, capacity=None,
    lock_type=None, fc_type=None, flags=None, def_alloc_pool=None,
    max_spinners=None, max_event_bcasts=None, semaphore=False,
    bounded_semaphore=False, initial_sem_value=0)`` creates the channel
    with unique id ``c_uid`` in ``mem_pool``.

    * ``c_uid``: an int from 0 to 2**64-1; a str raises TypeError, a
      negative or too large one OverflowError (a ChannelOverflowError).
    * ``capacity``: how many messages it holds (default 100).
    * ``block_size``: payload bytes that travel inside the channel (default
      1024, at least 256 as in Dragon); larger payloads travel as pool
      allocations.
    * ``lock_type`` (a LockType), ``fc_type`` (a FlowControl), ``flags``
      (ChannelFlags or int), ``max_spinners`` and ``max_event_bcasts``
      (ints >= 0) are checked as Dragon checks them (ChannelError if
      wrong) and have no effect here: see LockType, FlowControl and
      ChannelFlags; waiters here spin only briefly whatever their number,
      and channel sets need no registration slots.
    * ``def_alloc_pool`` sets ``default_alloc_pool``.
    * ``semaphore`` / ``bounded_semaphore`` make the channel a counting
      semaphore worked with poll(SEMAPHORE_P / V / VZ / PEEK), starting at
      ``initial_sem_value``; a bounded one refuses to go above its initial
      value (ChannelValueError), an unbounded one holds at most
      max(initial_sem_value, 1024).

    Raises ChannelExistsError if the pool has a channel with that id,
    ChannelValueError for bad attributes, ChannelError otherwise (a full
    pool, say).

    A channel is a context manager: leaving the block destroys it if this
    object created it and detaches it otherwise.  It pickles as its
    descriptor (and that of its default_alloc_pool), so multiprocessing can
    pass it; unpickling attaches.
    """

    def __init__(self, mem_pool, c_uid, block_size=None, capacity=None, lock_type=None,
                 fc_type=None, flags=None, def_alloc_pool=None, max_spinners=None,
                 max_event_bcasts=None, semaphore=False, bounded_semaphore=False,
                 initial_sem_value=0):
        """Create the channel (see the class documentation)."""
        if not isinstance(mem_pool, MemoryPool):
            raise TypeError("mem_pool must be a MemoryPool, not %s" % type(mem_pool).__name__)
        c_uid = _check_uid(c_uid)
        if semaphore and bounded_semaphore:
            raise ChannelValueError("only one of semaphore and bounded_semaphore may be True")
        block_size = _positive("block_size", block_size)
        if block_size and block_size < MINIMUM_BLOCK_SIZE:
            raise ChannelValueError("block_size must be at least %d bytes (Dragon's minimum), "
                                    "not %d" % (MINIMUM_BLOCK_SIZE, block_size))
        capacity = _positive("capacity", capacity)
        if lock_type is not None and not isinstance(lock_type, LockType):
            raise ChannelValueError("lock_type must be a value of type LockType")
        if fc_type is not None and not isinstance(fc_type, FlowControl):
            raise ChannelValueError("fc_type must be a value of type FlowControl")
        if flags is not None and not isinstance(flags, int):
            raise ChannelValueError("flags must be a value of type int or ChannelFlags")
        for what, value in (("max_spinners", max_spinners), ("max_event_bcasts", max_event_bcasts)):
            if value is not None and (not _is_int(value) or value < 0):
                raise ChannelValueError("%s must be an integer, greater than or equal to zero"
                                        % what)
        if def_alloc_pool is not None and not isinstance(def_alloc_pool, MemoryPool):
            raise TypeError("def_alloc_pool must be a MemoryPool")
        sem = bool(semaphore or bounded_semaphore)
        if sem:
            if not _is_int(initial_sem_value) or initial_sem_value < 0:
                raise ChannelValueError("initial_sem_value must be an integer >= 0")
            if bounded_semaphore:
                if initial_sem_value < 1:
                    raise ChannelValueError("a bounded semaphore needs initial_sem_value >= 1")
                capacity = initial_sem_value
            else:
                capacity = max(initial_sem_value, 1024)
            block_size = 64     # tokens carry no payload
        self._create(mem_pool, c_uid, capacity, block_size)
        self._default_pool = def_alloc_pool if def_alloc_pool is not None else mem_pool
        self._lock_type = lock_type if lock_type is not None else LockType.LITE
        self._fc_type = fc_type if fc_type is not None else FlowControl.NO_FLOW_CONTROL
        self._flags = int(flags) if flags is not None else 0
        if sem and initial_sem_value:
            with self.sendh() as s:
                for _ in range(initial_sem_value):
                    s.send_bytes(b"", timeout=0)

    # ---- descriptors -------------------------------------------------------

    @classmethod
    def serialized_uid(cls, ch_ser):
        """The c_uid a serialized descriptor names (the channel must exist:
        the descriptor is read by attaching for a moment)."""
        return cls._describe(bytes(ch_ser))[0]

    @classmethod
    def serialized_uid_type(cls, ch_ser):
        """(c_uid, 1): the id and Dragon's allocation type of a channel."""
        return (cls.serialized_uid(ch_ser), 1)

    @classmethod
    def serialized_pool_uid_fname(cls, ch_ser):
        """(pool uid, segment name) of the pool a channel descriptor names.

        The uid is the ``muid`` the pool was made with when this process
        knows the pool, else 0 (the library keeps no pool uid); the name
        is the pool's shared-memory segment (``/dipc.p.<pool name>``).
        """
        pool_ser = cls._describe(bytes(ch_ser))[1]
        own = getattr(MemoryPool, "serialized_uid_fname", None)
        if own is not None:
            try:
                return own(pool_ser)
            except DragonMemoryError as exc:
                raise ChannelError("could not read the channel's pool descriptor",
                                   exc.lib_err) from exc
        try:
            pool = MemoryPool._for_channel(bytes(ch_ser))
        except DragonMemoryError as exc:
            raise ChannelError("could not attach to the channel's pool", exc.lib_err) from exc
        muid, name = getattr(pool, "muid", 0), getattr(pool, "name", None)
        from . import managed_memory
        for ref in reversed(managed_memory._recent):
            known = ref()
            if known is not None and known.is_attached and known.serialize() == pool_ser:
                muid = known.muid or muid
                name = known.name or name
        return (muid, "/dipc.p.%s" % name if name else None)

    # ---- life cycle --------------------------------------------------------

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
        Detached Channel objects of this process for the same channel
        become usable again.  Raises ChannelError (ChannelValueError for a
        descriptor that is not one, ChannelDestroyed-like errors when the
        channel is gone).
        """
        ser = bytes(serialized_bytes)
        ch = cls.__new__(cls)
        if mem_pool is not None:
            if not isinstance(mem_pool, MemoryPool):
                raise TypeError("mem_pool must be a MemoryPool")
            try:
                ch._attach(ser, mem_pool)
                ch._default_pool = mem_pool
                _revive(ser, mem_pool)
                return ch
            except ChannelValueError:
                pass    # not the channel's pool: use it only for allocations
        if _is_remote(ser):
            return cls._attach_remote(ch, ser, mem_pool)
        try:
            pool = MemoryPool._for_channel(ser)
        except DragonMemoryError as exc:
            cls_ = ChannelLimitError if isinstance(exc, LimitError) else ChannelError
            raise cls_("could not attach to the channel's pool", exc.lib_err) from exc
        ch._attach(ser, pool)
        ch._default_pool = mem_pool if mem_pool is not None else pool
        _revive(ser, pool)
        return ch

    @staticmethod
    def _attach_remote(ch, ser, mem_pool):
        # Another host's channel: through the local dipc-bridge, which the
        # library finds by the user's gateway pool (see dipc-bridge(8)).
        try:
            ch._attach(ser, None)
        except ChannelError as exc:
            if exc.lib_err == _dragonipc.EFOREIGN:
                raise ChannelError("the channel lives on another host, and no dipc-bridge "
                                   "runs here for this user to reach it (see dipc-bridge(8))",
                                   exc.lib_err) from exc
            raise
        ch._remote = True
        ch._default_pool = mem_pool
        return ch

    @classmethod
    def make_process_local(cls, pool=None, block_size=None, capacity=None, timeout=None):
        """A channel for this process, destroyed when the process exits.

        It lives in ``pool`` (default: ``managed_memory.default_pool()``)
        under a fresh random c_uid, and may be handed to other processes
        like any channel.  ``timeout`` is checked as Dragon checks it; the
        channel is made at once (there is no runtime service to wait for).
        """
        _check_timeout(timeout, "make_process_local")
        if pool is None:
            from .managed_memory import default_pool
            pool = default_pool()
        for _ in range(64):
            cuid = int.from_bytes(os.urandom(8), "little") >> 1
            try:
                ch = cls(pool, cuid, block_size=block_size, capacity=capacity)
            except ChannelExistsError:
                continue
            _keep_process_local(ch)
            return ch
        raise ChannelError("could not find a free channel id")

    def destroy_process_local(self, timeout=None):
        """Destroy a channel made by make_process_local()."""
        _check_timeout(timeout, "destroy_process_local")
        for entry in list(_process_local):
            if entry[1] is self:
                _process_local.remove(entry)
        self.destroy()

    def destroy(self):
        """Destroy the channel: remove it from its pool and wake every waiter.

        Handles of this or any other process then fail with
        ChannelDestroyed.  Raises ChannelDestroyed if it was already
        destroyed through this object.
        """
        sem = getattr(self, "_sem", None)
        if sem is not None:
            self._sem = None
            for h in sem:
                h.close()
        self._destroy()

    def detach(self, serialize=False):
        """Stop using the channel from this object; the channel lives on.

        The descriptor is kept, so serialize() still answers afterwards
        (serialize=True is Dragon's way of asking for that), and attaching
        the same channel again in this process makes this object usable
        again.  Handles already made keep working until they are closed
        and dropped.
        """
        if not self.is_attached:
            return
        ser = self.serialize()
        sem = getattr(self, "_sem", None)
        if sem is not None:
            self._sem = None
            for h in sem:
                h.close()
        self._detach()
        _remember_detached(self, ser)

    # ---- handles and polling -----------------------------------------------

    def sendh(self, return_mode=WHEN_BUFFERED, wait_mode=DEFAULT_WAIT_MODE, timeout=None):
        """A new, unopened send handle (see ChannelSendH)."""
        return ChannelSendH(self, return_mode=return_mode, wait_mode=wait_mode, timeout=timeout)

    def recvh(self, notification_type=RECV_SYNC_MANUAL, signal=None, wait_mode=DEFAULT_WAIT_MODE,
              timeout=None):
        """A new, unopened receive handle (see ChannelRecvH)."""
        return ChannelRecvH(self, notification_type=notification_type, signal=signal,
                            wait_mode=wait_mode, timeout=timeout)

    def poll(self, timeout=None, wait_mode=DEFAULT_WAIT_MODE, event_mask=EventType.POLLIN,
             poll_result=None):
        """Wait until event_mask holds: True if it does, False on timeout.

        timeout: None waits forever, 0 looks once, a positive number is
        seconds (anything else raises ValueError).  event_mask is an
        EventType (POLLIN | POLLOUT is POLLINOUT); 0 or less raises
        ValueError, an unknown one ChannelValueError.  POLLSIZE and
        SEMAPHORE_PEEK do not wait: they store the count in
        poll_result.value.  With a poll_result, value and rc are filled in
        (rc is the library's timeout code when False is returned).
        wait_mode is checked and accepted: a poll here always sleeps until
        the channel changes.  Raises ChannelDestroyed if the channel is
        destroyed meanwhile.
        """
        timeout = _check_timeout(timeout)
        _check_wait_mode(wait_mode)
        if not isinstance(event_mask, int) or event_mask <= 0:
            raise ValueError("event_mask must be a bitwise combination of POLLIN and POLLOUT or, "
                             "individually, one of the other constants, not %r" % (event_mask,))
        try:
            event = EventType(event_mask)
        except ValueError:
            raise ChannelValueError("event_mask %r is not one this library provides"
                                    % (event_mask,)) from None
        if event in _BARRIER_EVENTS:
            return _barrier_poll(self, event, timeout, poll_result)
        if poll_result is not None:
            poll_result.value, poll_result.rc = 0, _dragonipc.ETIMEDOUT
        value, held = 0, True
        if event == EventType.POLLSIZE or event == EventType.SEMAPHORE_PEEK:
            value = self.num_msgs
        elif event == EventType.POLLBLOCKED_RECEIVERS:
            count = getattr(type(self), "blocked_receivers", None)
            if count is None:
                raise ChannelError("POLLBLOCKED_RECEIVERS needs the blocked-receiver count, "
                                   "which this build does not provide")
            value = self.blocked_receivers
        elif event == EventType.SEMAPHORE_P:
            held = self._sem_p(timeout)
        elif event == EventType.SEMAPHORE_V:
            self._sem_v()
        elif event == EventType.SEMAPHORE_VZ:
            held = bool(self._poll(_dragonipc.POLL_EMPTY, timeout))
        elif event in _POLL_MASKS:
            value = self._poll(_POLL_MASKS[event], timeout)
            held = bool(value)
        else:
            raise ChannelValueError("event_mask %s is not one this library provides" % event.name)
        if not held:
            return False
        if poll_result is not None:
            poll_result.value, poll_result.rc = int(value), 0
        return True

    # Semaphore channels hold one empty message per unit of value.
    def _sem_handles(self):
        sem = getattr(self, "_sem", None)
        if sem is None:
            s, r = self.sendh(), self.recvh()
            s.open()
            r.open()
            sem = self._sem = (s, r)
        return sem

    def _sem_p(self, timeout):
        try:
            self._sem_handles()[1].recv_bytes(timeout=timeout)
        except (ChannelEmpty, ChannelRecvTimeout):
            return False
        return True

    def _sem_v(self):
        try:
            self._sem_handles()[0].send_bytes(b"", timeout=0)
        except ChannelFull:
            raise ChannelValueError("the semaphore is at its bound (%d)" % self.capacity) from None

    # ---- attributes ------------------------------------------------------------

    def get_pool(self):
        """The MemoryPool the channel lives in (None for another host's channel)."""
        return self._pool

    @property
    def default_alloc_pool(self):
        """The pool used for allocations made on the channel's behalf."""
        return self._default_pool

    @property
    def is_local(self):
        """False for a channel of another host, attached through dipc-bridge."""
        return not getattr(self, "_remote", False)

    @property
    def lock_type(self):
        """The LockType given at creation (LITE, Dragon's default, otherwise
        and for attached channels); see LockType for what it does here."""
        return getattr(self, "_lock_type", LockType.LITE)

    @property
    def fc_type(self):
        """The FlowControl given at creation (NO_FLOW_CONTROL otherwise)."""
        return getattr(self, "_fc_type", FlowControl.NO_FLOW_CONTROL)

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
        pool = getattr(self, "_default_pool", None)
        pool_ser = None
        if pool is not None and pool is not self._pool and pool.is_attached:
            pool_ser = pool.serialize()
        return (_unpickle_channel, (self.serialize(), pool_ser))

    def __repr__(self):
        if self.is_attached:
            return "<Channel cuid=%d capacity=%d block_size=%d>" % (
                self.cuid, self.capacity, self.block_size)
        return "<Channel %s>" % ("destroyed" if self.is_destroyed else "detached")


def _is_remote(ser):
    """Does a channel descriptor name another host's channel?  The library
    attaches such a channel through dipc-bridge, and then gives the local
    gateway pool as the channel's pool, whose host differs from the one
    the descriptor names (bytes 40-48: its pool's host)."""
    if len(ser) < 48:
        return False
    try:
        pool_ser = MemoryPool._channel_pool_desc(ser)
    except ChannelError as exc:
        if exc.lib_err == _dragonipc.EFOREIGN:
            return True     # another host, and no bridge: said by _attach_remote
        return False        # the attach below reports it
    return pool_ser[8:16] != ser[40:48]


def _unpickle_channel(ser, pool_ser=None):
    pool = MemoryPool.attach(pool_ser) if pool_ser is not None else None
    return Channel.attach(ser, pool)


def _keep_process_local(ch):
    # Destroyed when this process exits: at interpreter exit (atexit) and
    # at the end of a multiprocessing child (which skips atexit).  Each
    # entry carries its process id, so that a forked child, which inherits
    # the list and the hooks, never destroys its parent's channels.
    global _hooked_pid
    pid = os.getpid()
    if _hooked_pid != pid:
        _hooked_pid = pid
        atexit.register(_destroy_process_local)
        from multiprocessing import util
        util.Finalize(None, _destroy_process_local, exitpriority=10)
    _process_local.append((pid, ch))


_hooked_pid = None


def _destroy_process_local():
    pid = os.getpid()
    for entry in list(_process_local):
        _process_local.remove(entry)
        if entry[0] != pid:
            continue
        try:
            if entry[1].is_attached:
                entry[1].destroy()
        except Exception:
            pass


# ---- gateways (other nodes) ---------------------------------------------------

def register_gateways_from_env():
    """Dragon reads its transport gateways from the environment here.  All
    channels are on this machine, so there is nothing to register."""


def discard_gateways():
    """The counterpart of register_gateways_from_env(): nothing to do."""


class GatewayMessage:
    """Dragon's transport agents read these from gateway channels to carry
    operations to other nodes.  This library has no gateways and no other
    nodes, so none is ever made: from_message() raises ChannelError."""

    @staticmethod
    def from_message(msg):
        """Always raises ChannelError (there are no gateway messages here)."""
        raise ChannelError("there are no gateway channels: every channel is on this machine")

    @staticmethod
    def silence_transport_timeouts():
        """Nothing to silence."""


# ---- file-like adapters --------------------------------------------------------

class ChannelAdapterMsgTypes(enum.IntEnum):
    """What check_header() found at the start of a message."""

    EOT = 0
    PICKLE_PROT_5 = 1
    RAW_BYTES = 2


EOT = ChannelAdapterMsgTypes.EOT
PICKLE_PROT_5 = ChannelAdapterMsgTypes.PICKLE_PROT_5
RAW_BYTES = ChannelAdapterMsgTypes.RAW_BYTES

# The in-band header of the adapters, byte for byte Dragon's: one byte of
# kind, then (raw bytes) the length in 7 little-endian bytes.
_HDR_EOT = 0x20
_HDR_RAW = 0x40
_HDR_PICKLE5 = (0x80, 0x05)
_HDR_LEN = 8
_MAX_RAW = (1 << 56) - 1


def _parse_header(data):
    if len(data) >= 1 and data[0] == _HDR_EOT:
        return EOT, None
    if len(data) >= 2 and (data[0], data[1]) == _HDR_PICKLE5:
        return PICKLE_PROT_5, None
    if len(data) >= _HDR_LEN and data[0] == _HDR_RAW:
        length = int.from_bytes(bytes(data[1:_HDR_LEN]), "little")
        if length == 0xFFFFFFFFFFFFFF:
            length = len(data) - _HDR_LEN
        return RAW_BYTES, length
    raise ConnectionError("unexpected header: %r" % (bytes(data[:_HDR_LEN]),))


def _raw_header(msglen):
    if msglen < 0 or msglen > _MAX_RAW:
        raise ConnectionError("xfer size exceeds plausible limits of %d bytes" % _MAX_RAW)
    return bytes([_HDR_RAW]) + msglen.to_bytes(7, "little")


def _as_bytes(buf):
    if isinstance(buf, pickle.PickleBuffer):
        buf = buf.raw()
    return memoryview(buf).cast("B")


def _check_buffer_pool(pool):
    """A writing adapter's buffer_pool, checked as Dragon checks it: None,
    or a MemoryPool this process has attached (ValueError for another
    object, ChannelError for a pool not attached, e.g. empty_pool())."""
    if pool is None:
        return
    if not isinstance(pool, MemoryPool):
        raise ValueError("Optional buffer pool must be an instance of MemoryPool")
    if not pool.is_attached:
        raise ChannelError("Could not get Pool descriptor from provided buffer Pool: "
                           "the pool is not attached")


class _ChannelFile:
    """What the four channel files share: a with block opens and closes
    the file, and collecting it closes its send or receive handle."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        h = getattr(self, "_sendh", None) or getattr(self, "_recvh", None)
        try:
            h.close()
        except Exception:
            pass


class Peer2PeerWritingChannelFile(_ChannelFile):
    """A file to write into a channel: what is written between open() and
    close() travels as messages of up to a block (1 KiB, 128 KiB or 2 MiB,
    chosen by how much is pending), read back in order by a
    Peer2PeerReadingChannelFile.  pickle.dump() can write to it.

    options may set "small_blk_size", "large_blk_size", "huge_blk_size"
    and "buffer_pool" (accepted; messages are sent as copies here).
    timeout bounds each send (seconds, None: forever).
    """

    def __init__(self, channel, *, options=None, timeout=300, wait_mode=DEFAULT_WAIT_MODE,
                 return_mode=WHEN_BUFFERED):
        self._timeout = _check_timeout(timeout, "send")
        opts = {"small_blk_size": 1 << 10, "large_blk_size": 1 << 17, "huge_blk_size": 1 << 21,
                "buffer_pool": None}
        if isinstance(options, dict):
            opts.update(options)
        if opts["large_blk_size"] <= opts["small_blk_size"]:
            raise ValueError("Large block size is smaller than or equal to small block size")
        if opts["huge_blk_size"] <= opts["large_blk_size"]:
            raise ValueError("Huge block size is smaller than or equal to large block size")
        _check_buffer_pool(opts["buffer_pool"])
        self._options = opts
        self._sendh = channel.sendh(return_mode=return_mode, wait_mode=wait_mode)
        self._sendh.open()
        self._buf = bytearray()
        self._opened = False

    def open(self):
        """Begin writing."""
        self._buf = bytearray()
        self._opened = True

    def _limit(self):
        o = self._options
        n = len(self._buf)
        if n <= o["small_blk_size"]:
            return o["small_blk_size"]
        return o["large_blk_size"] if n <= o["large_blk_size"] else o["huge_blk_size"]

    def _send(self, data):
        self._sendh.send_bytes(bytes(data), timeout=self._timeout)

    def write(self, buf):
        """Write a bytes-like object (or pickle.PickleBuffer)."""
        if not self._opened:
            raise ChannelError("Adapter not opened for writing")
        data = _as_bytes(buf)
        self._buf += data
        while len(self._buf) >= self._options["huge_blk_size"]:
            n = self._options["huge_blk_size"]
            self._send(self._buf[:n])
            del self._buf[:n]
        return len(data)

    def write_raw_header(self, msglen):
        """Write Dragon's header for msglen raw bytes that follow."""
        self.write(_raw_header(msglen))

    def write_eot(self):
        """Write the end-of-transmission mark."""
        self.write(bytes([_HDR_EOT]))

    def flush(self):
        """Send what is pending."""
        if not self._opened:
            raise ChannelError("Adapter not opened for writing")
        while self._buf:
            n = min(len(self._buf), self._limit())
            self._send(self._buf[:n])
            del self._buf[:n]

    def close(self):
        """Flush and stop writing (the send handle stays for the next open())."""
        if not self._opened:
            return
        try:
            self.flush()
        finally:
            self._opened = False


class Peer2PeerReadingChannelFile(_ChannelFile):
    """A file to read from a channel what a Peer2PeerWritingChannelFile
    wrote: the messages' payloads in order, as one stream of bytes.
    pickle.load() can read from it.  Not for several threads at once."""

    def __init__(self, channel, *, options=None, wait_mode=DEFAULT_WAIT_MODE):
        self._options = options
        self._recvh = channel.recvh(wait_mode=wait_mode)
        self._recvh.open()
        self._cur = b""
        self._cursor = 0
        self._side_buf = None
        self._opened = False
        self._timeout = None

    def open(self):
        """Begin reading."""
        self._opened = True

    def set_side_buf(self, buf):
        """Also append whatever is read to the bytearray buf."""
        if not isinstance(buf, bytearray):
            raise TypeError("the side buffer must be a bytearray")
        self._side_buf = buf

    def _next(self):
        self._cur = self._recvh.recv_bytes(timeout=self._timeout)
        self._cursor = 0

    def check_header(self):
        """What the next message starts with: (EOT, None),
        (PICKLE_PROT_5, None) or (RAW_BYTES, length).  ConnectionError
        for anything else."""
        if not self._opened:
            raise ChannelError("Adapter not opened for reading")
        while self._cursor >= len(self._cur):
            self._next()
        return _parse_header(memoryview(self._cur)[self._cursor:])

    def advance_raw_header(self, msglen):
        """Skip the raw header check_header() found."""
        self._cursor += _HDR_LEN

    def readinto(self, buf, accumulate_sb=True):
        """Fill buf completely (waiting for messages as needed); returns its length."""
        if not self._opened:
            raise ChannelError("Adapter not opened for reading")
        view = memoryview(buf).cast("B")
        got = 0
        while got < len(view):
            if self._cursor >= len(self._cur):
                self._next()
                continue
            n = min(len(view) - got, len(self._cur) - self._cursor)
            view[got:got + n] = self._cur[self._cursor:self._cursor + n]
            got += n
            self._cursor += n
        if self._side_buf is not None and accumulate_sb:
            self._side_buf.extend(view)
        return len(view)

    def read(self, size=-1):
        """Exactly size bytes (a bytearray); size must be positive."""
        if size is None or size <= 0:
            raise ValueError("invalid size for this adapter")
        out = bytearray(size)
        self.readinto(out, accumulate_sb=False)
        if self._side_buf is not None:
            self._side_buf.extend(out)
        return out

    def readline(self):
        """Not provided (as in Dragon)."""
        raise NotImplementedError("should not happen")

    def close(self):
        """Stop reading; the rest of the current message is dropped."""
        if not self._opened:
            return
        self._opened = False
        self._cur = b""
        self._cursor = 0


class Many2ManyWritingChannelFile(_ChannelFile):
    """A file to write into a channel shared by many writers and readers:
    everything written between open() and close() travels as one message,
    so the writes of different writers never interleave."""

    def __init__(self, channel, buffer_pool=None, wait_mode=DEFAULT_WAIT_MODE,
                 return_mode=WHEN_BUFFERED):
        _check_buffer_pool(buffer_pool)
        self._sendh = channel.sendh(return_mode=return_mode, wait_mode=wait_mode)
        self._sendh.open()
        self._buf = bytearray()
        self._opened = False
        self._blocking, self._timeout = True, None

    def set_adapter_timeout(self, blocking=True, timeout=None):
        """How the message is sent at close(): as ChannelSendH.send_bytes."""
        self._blocking, self._timeout = blocking, _check_timeout(timeout, "send")

    def open(self):
        """Begin a message."""
        self._buf = bytearray()
        self._opened = True

    def write(self, buf):
        """Add a bytes-like object (or pickle.PickleBuffer) to the message."""
        if not self._opened:
            raise ChannelError("Many2ManyWriting adapter not opened for writing")
        data = _as_bytes(buf)
        self._buf += data
        return len(data)

    def close(self):
        """Send the message (if anything was written) and end it."""
        if not self._opened:
            return
        try:
            if self._buf:
                self._sendh.send_bytes(bytes(self._buf), blocking=self._blocking,
                                       timeout=self._timeout)
        finally:
            self._buf = bytearray()
            self._opened = False


class Many2ManyReadingChannelFile(_ChannelFile):
    """The reading side of Many2ManyWritingChannelFile: each open() ...
    close() reads from one message; what is left of it at close() is
    dropped."""

    def __init__(self, channel, wait_mode=DEFAULT_WAIT_MODE):
        self._recvh = channel.recvh(wait_mode=wait_mode)
        self._recvh.open()
        self._cur = None
        self._cursor = 0
        self._opened = False
        self._blocking, self._timeout = True, ChannelRecvH.USE_CHANNEL_RECVH_DEFAULT

    def set_adapter_timeout(self, blocking=True, timeout=None):
        """How the message is received: as ChannelRecvH.recv_bytes."""
        if timeout != ChannelRecvH.USE_CHANNEL_RECVH_DEFAULT:
            timeout = _check_timeout(timeout, "receive")
        self._blocking, self._timeout = blocking, timeout

    def open(self):
        """Begin reading a message."""
        self._opened = True
        self._cur = None
        self._cursor = 0

    def _get(self):
        if self._cur is None:
            self._cur = self._recvh.recv_bytes(blocking=self._blocking, timeout=self._timeout)
            self._cursor = 0

    def readinto(self, buf):
        """Copy the next bytes of the message into buf; returns len(buf) as
        Dragon's does (fewer bytes are copied at the end of the message)."""
        if not self._opened:
            raise ChannelError("Many2Many adapter not opened for reading")
        self._get()
        view = memoryview(buf).cast("B")
        n = min(len(view), len(self._cur) - self._cursor)
        view[:n] = self._cur[self._cursor:self._cursor + n]
        self._cursor += n
        return len(view)

    def read(self, size=-1):
        """size bytes of the message (a bytearray); size must be positive."""
        if size is None or size <= 0:
            raise ValueError("invalid size for this adapter")
        out = bytearray(size)
        self.readinto(out)
        return out

    def get_remaining_data(self):
        """(the rest of the message as bytes, its offset in the message);
        Dragon returns a MemoryAlloc of the whole message instead."""
        self._get()
        offset = self._cursor
        self._cursor = len(self._cur)
        return (self._cur[offset:], offset)

    def readline(self):
        """Not provided (as in Dragon)."""
        raise NotImplementedError("should not happen")

    def close(self):
        """End the message."""
        self._opened = False
        self._cur = None


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
