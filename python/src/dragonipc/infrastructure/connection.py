"""Connections over channels: the interface of Dragon's
``dragon.infrastructure.connection``.

Code written for Dragon runs with its import changed to
``dragonipc.infrastructure.connection``::

    import dragonipc.infrastructure.connection as dconn

    writer = dconn.Connection(outbound_initializer=ch)
    reader = dconn.Connection(inbound_initializer=ch)
    writer.send({"any": "picklable object"})
    obj = reader.recv()

A Connection carries pickled objects (send/recv) and byte strings
(send_bytes/recv_bytes/recv_bytes_into) one way or both ways over
channels, as multiprocessing's Connection does over a pipe.  The
messages are Dragon's: an object is its pickle (protocol 5), bytes are an
8-byte header (0x40 and the length in 7 little-endian bytes) and the
payload, and close() sends the one-byte end mark 0x20, so the channel file
adapters of dragonipc.channels read what a Connection wrote and the other
way round.

Rules this module follows (python/README.md has the table of Dragon's
names):

* One send is one channel message.  Payloads larger than the channel's
  block travel as a pool allocation, so a reader never sees part of an
  object, and a sender killed in the middle of a send leaves the whole
  message or nothing.  (Streams that a Peer2PeerWritingChannelFile wrote
  in several messages are read too.)
* Every wait can be bounded: sends wait at most ``timeout`` seconds for
  room (300 by default, as Dragon's writer), the receiving calls take a
  ``timeout`` keyword (None, the default, waits as Dragon does: until a
  message comes), poll() takes Dragon's timeout.  A
  wait that expires raises ConnectionTimeout (a ConnectionError and a
  TimeoutError); one that expires in the middle of a message of several
  parts leaves the connection unusable (ConnectionError from then on),
  since the rest of that message can no longer be told apart.
* A peer that closed its end makes recv(), recv_bytes() and
  recv_bytes_into() raise EOFError, and poll() return True, as in Dragon.
  A channel has no notion of who will write to it later, so a writer
  that dies without closing looks like one that has not written yet:
  pass a timeout to learn of it.
* Errors are Dragon's: EOFError at the end, OSError for a direction the
  connection does not have, ConnectionError for everything else (its
  cause chained), ValueError/TypeError for bad arguments.
"""

import atexit
import enum
import multiprocessing
import numbers
import os
import pickle
import threading
import time

from .. import channels as dch
from .. import managed_memory as dmm
from ..channels import Channel, ChannelError, ChannelRecvTimeout, ChannelEmpty

__all__ = [
    "Connection", "ConnectionOptions", "PipeOptions", "Pipe", "CUID",
    "Address", "Listener", "Client",
    "ConnectionTimeout", "BufferTooShort", "GlobalServicesNotProvided",
]

# How long close() waits for room to send the end mark.
_EOT_TIMEOUT = 10.0
# Dragon's writer gives up on a send after this many seconds.
_SEND_TIMEOUT = 300
_HDR_LEN = 8


class ConnectionTimeout(ConnectionError, TimeoutError):
    """A send or receive did not complete within its timeout."""


class BufferTooShort(multiprocessing.BufferTooShort, ConnectionError):
    """recv_bytes_into(): the message does not fit the buffer.  As with
    multiprocessing, ``args[0]`` is the whole message (a bytearray); it is
    also a ConnectionError, which is what Dragon raises in this case."""


class GlobalServicesNotProvided(ConnectionError, NotImplementedError):
    """The call needs Dragon's runtime (its global services, which create
    and name channels): this library has none."""


def _no_global_services(what):
    return GlobalServicesNotProvided(
        "%s needs Dragon's global services to create or look up channels by name, which "
        "dragonipc does not provide: pass Channel objects or channel descriptors "
        "(Pipe() without channels makes its own)" % what)


class ConnectionOptions:
    """Options of a Connection, with Dragon's fields.

    creation_policy: how the channels came about (a CreationPolicy);
    EXTERNALLY_MANAGED and PRE_CREATED are the ones this library serves
    (the other two need Dragon's global services).  min_block_size,
    large_block_size and huge_block_size: the sizes Dragon's writer cuts
    a message into; checked as Dragon checks them (ValueError unless they
    grow in that order), and of no effect here, where a send is one
    message.  default_pool: a MemoryPool Pipe() makes its channels in.
    """

    class CreationPolicy(enum.Enum):
        EXTERNALLY_MANAGED = enum.auto()
        PRE_CREATED = enum.auto()
        RECEIVER_CREATES = enum.auto()
        SENDER_CREATES = enum.auto()

    def __init__(self, *, creation_policy=CreationPolicy.EXTERNALLY_MANAGED,
                 min_block_size=None, large_block_size=None, huge_block_size=None,
                 default_pool=None):
        if not isinstance(creation_policy, ConnectionOptions.CreationPolicy):
            raise TypeError("creation_policy must be a ConnectionOptions.CreationPolicy, not %r"
                            % (creation_policy,))
        sizes = []
        for what, value, dflt in (("min_block_size", min_block_size, 1 << 10),
                                  ("large_block_size", large_block_size, 1 << 17),
                                  ("huge_block_size", huge_block_size, 1 << 21)):
            if value is None:
                sizes.append(dflt)
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError("%s must be an int or None, not %r" % (what, value))
            if value <= 0:
                raise ValueError("%s must be positive, not %d" % (what, value))
            sizes.append(int(value))
        if sizes[1] <= sizes[0]:
            raise ValueError("large_block_size must be larger than min_block_size")
        if sizes[2] <= sizes[1]:
            raise ValueError("huge_block_size must be larger than large_block_size")
        if default_pool is not None and not isinstance(default_pool, dmm.MemoryPool):
            raise TypeError("default_pool must be a MemoryPool or None, not %r" % (default_pool,))
        self.creation_policy = creation_policy
        self.min_block_size = min_block_size
        self.large_block_size = large_block_size
        self.huge_block_size = huge_block_size
        self.default_pool = default_pool


class PipeOptions:
    """Options of Pipe(), with Dragon's fields: creation_policy (EARLY,
    the default, makes the channels at once; EXTERNAL means channels are
    passed in; RECEIVER_CREATES and SENDER_CREATES need Dragon's global
    services) and conn_options, the ConnectionOptions of both ends."""

    class CreationPolicy(enum.Enum):
        EXTERNAL = enum.auto()
        EARLY = enum.auto()
        RECEIVER_CREATES = enum.auto()
        SENDER_CREATES = enum.auto()

    def __init__(self, *, creation_policy=CreationPolicy.EARLY, conn_options=None):
        if not isinstance(creation_policy, PipeOptions.CreationPolicy):
            raise TypeError("creation_policy must be a PipeOptions.CreationPolicy, not %r"
                            % (creation_policy,))
        if conn_options is None:
            conn_options = ConnectionOptions()
        elif not isinstance(conn_options, ConnectionOptions):
            raise TypeError("conn_options must be a ConnectionOptions or None")
        self.creation_policy = creation_policy
        self.conn_options = conn_options
        cp = ConnectionOptions.CreationPolicy
        conn_options.creation_policy = {
            PipeOptions.CreationPolicy.EARLY: cp.PRE_CREATED,
            PipeOptions.CreationPolicy.SENDER_CREATES: cp.SENDER_CREATES,
            PipeOptions.CreationPolicy.RECEIVER_CREATES: cp.RECEIVER_CREATES,
            PipeOptions.CreationPolicy.EXTERNAL: cp.EXTERNALLY_MANAGED,
        }[creation_policy]


class CUID(int):
    """What Connection.fileno() returns: an int (not an operating-system
    descriptor) that carries the connection as ``.conn``, so that a
    waiter can poll it."""

    def thread_wait(self, timeout, done_ev, ready):
        """As Connection.thread_wait, for the connection behind this number."""
        self.conn.thread_wait(timeout, done_ev, ready)


def _check_timeout(timeout, what):
    """None, or a number of seconds >= 0 (ValueError, TypeError otherwise)."""
    if timeout is None:
        return None
    if not isinstance(timeout, numbers.Real) or isinstance(timeout, bool):
        raise TypeError("%s timeout must be None or a number of seconds, not %r" % (what, timeout))
    if timeout != timeout or timeout < 0:
        raise ValueError("%s timeout must be None or >= 0, not %r" % (what, timeout))
    return float(timeout)


def _wait_mode(policy):
    if policy is None:
        return dch.DEFAULT_WAIT_MODE
    return policy.wait_mode


class _Inbound:
    """One transmission read from a receive handle: its messages as one
    stream of bytes, for pickle.Unpickler and the raw readers."""

    def __init__(self, conn, handle, timeout):
        self._conn = conn
        self._h = handle
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._cur = memoryview(b"")
        self._pos = 0
        self._parts = 0
        self.record = None

    def _more(self):
        while True:
            left = None
            if self._deadline is not None:
                left = max(0.0, self._deadline - time.monotonic())
            try:
                data = self._h.recv_bytes(timeout=left)
            except (ChannelRecvTimeout, ChannelEmpty):
                if self._parts:
                    self._conn._lost = True
                    raise ConnectionTimeout(
                        "the rest of a message did not come within the timeout; the "
                        "connection cannot be used any more") from None
                raise ConnectionTimeout("no message came within the timeout") from None
            self._parts += 1
            if len(data):
                self._cur, self._pos = memoryview(data), 0
                return

    def header(self):
        """(kind, raw length or None) of the transmission's start."""
        if self._pos >= len(self._cur):
            self._more()
        # A header is never split across messages by our writers or Dragon's.
        return dch._parse_header(self._cur[self._pos:])

    def skip(self, n):
        if n <= len(self._cur) - self._pos:
            self._pos += n
        else:
            self.readinto(bytearray(n))

    def readinto(self, buf):
        view = memoryview(buf).cast("B")
        got = 0
        while got < len(view):
            if self._pos >= len(self._cur):
                self._more()
            n = min(len(view) - got, len(self._cur) - self._pos)
            view[got:got + n] = self._cur[self._pos:self._pos + n]
            got += n
            self._pos += n
        if self.record is not None:
            self.record += view
        return got

    def read(self, n=-1):
        if n is None or n < 0:
            raise ValueError("a transmission has no end to read to")
        out = bytearray(n)
        self.readinto(out)
        return bytes(out)

    def readline(self):
        out = bytearray()
        while True:
            if self._pos >= len(self._cur):
                self._more()
            rest = self._cur[self._pos:]
            nl = bytes(rest).find(b"\n")
            take = len(rest) if nl < 0 else nl + 1
            out += rest[:take]
            self._pos += take
            if nl >= 0:
                break
        if self.record is not None:
            self.record += out
        return bytes(out)


class Connection:
    """A connection over one inbound and/or one outbound channel.

    ``Connection(*, inbound_initializer=None, outbound_initializer=None,
    options=None, policy=None)``: each initializer is a Channel (used as
    it is, never detached or destroyed here) or, with
    ``ConnectionOptions(creation_policy=PRE_CREATED)``, a channel
    descriptor (bytes), attached at first use and detached by close().
    At least one is required (ConnectionError).  A str (a channel name
    for Dragon's global services) raises GlobalServicesNotProvided.
    policy: None, or an object with a ``wait_mode`` (Dragon's Policy),
    passed to the channel handles.

    Connections pickle (multiprocessing passes them to spawned or forked
    processes); the other process attaches the channels and detaches them
    when its copy is closed.
    """

    class State(enum.Enum):
        CLOSED = enum.auto()
        ATTACHED = enum.auto()
        READY = enum.auto()
        UNBACKED = enum.auto()
        UNATTACHED = enum.auto()

    def __init__(self, *, inbound_initializer=None, outbound_initializer=None, options=None,
                 policy=None):
        self.at_eof = False
        self.ghost = False
        if inbound_initializer is None and outbound_initializer is None:
            raise ConnectionError("at least one initializer is required")
        if options is None:
            options = ConnectionOptions()
        elif not isinstance(options, ConnectionOptions):
            raise TypeError("options must be a ConnectionOptions or None, not %r" % (options,))
        if policy is not None and not isinstance(getattr(policy, "wait_mode", None),
                                                 dch.WaitMode):
            raise ValueError("policy must be None or a policy object with a wait_mode "
                             "(a dragonipc.dtypes.WaitMode)")
        self.options = options
        self.policy = policy
        self.inbound_chan = None
        self.outbound_chan = None
        self.inbound_initializer = None
        self.outbound_initializer = None
        self._own = set()
        cp = options.creation_policy
        descriptors = False
        for side, init in (("inbound", inbound_initializer), ("outbound", outbound_initializer)):
            if init is None:
                continue
            if isinstance(init, str):
                raise _no_global_services("a Connection made from a channel name")
            if isinstance(init, Channel):
                if cp not in (cp.EXTERNALLY_MANAGED, cp.PRE_CREATED):
                    raise ConnectionError("init with Channels and %s lifecycle not supported"
                                          % cp.name)
                setattr(self, side + "_chan", init)
            elif isinstance(init, (bytes, bytearray, memoryview)):
                if cp != cp.PRE_CREATED:
                    raise ConnectionError("init with descriptors and %s lifecycle not supported "
                                          "(descriptors need PRE_CREATED)" % cp.name)
                setattr(self, side + "_initializer", bytes(init))
                descriptors = True
            else:
                raise TypeError("%s_initializer must be a Channel, a channel descriptor (bytes) "
                                "or None, not %s" % (side, type(init).__name__))
        self.state = self.State.UNATTACHED if descriptors else self.State.ATTACHED
        self._setup_private()

    def _setup_private(self):
        self._sendh = None
        self._recvh = None
        self._lost = False
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()

    # ---- pickling --------------------------------------------------------------

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in ("_sendh", "_recvh", "_send_lock", "_recv_lock", "_own"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._setup_private()
        # The channels were attached by unpickling: this copy's to detach.
        self._own = {side for side in ("inbound", "outbound")
                     if getattr(self, side + "_chan") is not None}

    # ---- opening and the handles ----------------------------------------------

    def open(self):
        """Attach the channels if needed; a closed connection raises ConnectionError."""
        if self.state == self.State.CLOSED:
            raise ConnectionError("reopening closed Connection not allowed")
        if self.state == self.State.UNATTACHED:
            for side in ("outbound", "inbound"):
                init = getattr(self, side + "_initializer")
                if init is not None:
                    setattr(self, side + "_chan", Channel.attach(init))
                    setattr(self, side + "_initializer", None)
                    self._own.add(side)
        self.state = self.State.READY

    def _check_inbound(self):
        if self.inbound_chan is None and self.inbound_initializer is None:
            raise OSError("No receiving on a %s that is not enabled for reading"
                          % type(self).__name__)
        if self.at_eof:
            raise EOFError()
        if self.state != self.State.READY:
            self.open()
        if self._lost:
            raise ConnectionError("a receive stopped in the middle of a message: the connection "
                                  "cannot be used any more")

    def _check_outbound(self):
        if self.outbound_chan is None and self.outbound_initializer is None:
            raise OSError("No sending on a %s that is not enabled for writing"
                          % type(self).__name__)
        if self.state != self.State.READY:
            self.open()

    def _send_handle(self):
        if self._sendh is None:
            h = self.outbound_chan.sendh(wait_mode=_wait_mode(self.policy))
            h.open()
            self._sendh = h
        return self._sendh

    def _recv_handle(self):
        if self._recvh is None:
            h = self.inbound_chan.recvh(wait_mode=_wait_mode(self.policy))
            h.open()
            self._recvh = h
        return self._recvh

    def _put(self, data, timeout, what):
        with self._send_lock:
            try:
                self._send_handle().send_bytes(data, timeout=timeout)
            except (dch.ChannelSendTimeout, dch.ChannelFull) as e:
                raise ConnectionTimeout("Could not complete %s operation: no room within the "
                                        "timeout (%s)" % (what, e)) from e
            except Exception as e:
                raise ConnectionError("Could not complete %s operation: %s" % (what, e)) from e

    # ---- sending -----------------------------------------------------------------

    def send(self, obj, *, timeout=_SEND_TIMEOUT):
        """Send a picklable object as one message; waits at most timeout
        seconds (None: forever) for room.  ConnectionError on failure (a
        ConnectionTimeout when the time ran out)."""
        self._check_outbound()
        timeout = _check_timeout(timeout, "send")
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception as e:
            raise ConnectionError("Could not complete send operation: %s" % e) from e
        self._put(data, timeout, "send")

    def send_bytes(self, buffer, offset=0, size=None, *, timeout=_SEND_TIMEOUT):
        """Send size bytes of a bytes-like object from offset (as multiprocessing)."""
        self._check_outbound()
        timeout = _check_timeout(timeout, "send_bytes")
        m = memoryview(buffer)
        if m.itemsize > 1 or m.ndim != 1 or not m.contiguous:
            m = memoryview(m.tobytes())
        n = len(m)
        for what, value in (("offset", offset), ("size", size)):
            if value is not None and (not isinstance(value, numbers.Integral)
                                      or isinstance(value, bool)):
                raise TypeError("%s must be an int, not %r" % (what, value))
        if offset < 0:
            raise ValueError("offset is negative")
        if n < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = n - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > n:
            raise ValueError("buffer length < offset + size")
        data = bytearray(_HDR_LEN + size)
        data[:_HDR_LEN] = dch._raw_header(size)
        data[_HDR_LEN:] = m[offset:offset + size]
        self._put(data, timeout, "send bytes")

    # ---- receiving ---------------------------------------------------------------

    def _begin(self, timeout, what):
        """The open transmission and its (kind, length); EOFError at the end mark."""
        stream = _Inbound(self, self._recv_handle(), timeout)
        kind, length = stream.header()
        if kind == dch.EOT:
            self.at_eof = True
            raise EOFError()
        return stream, kind, length

    def _receive(self, what, body, timeout):
        self._check_inbound()
        timeout = _check_timeout(timeout, what)
        with self._recv_lock:
            try:
                stream, kind, length = self._begin(timeout, what)
            except (EOFError, ConnectionError):
                raise
            except Exception as e:
                raise ConnectionError("Could not complete %s operation: %s" % (what, e)) from e
            # Only the end mark is an EOFError: one from unpickling is not.
            try:
                return body(stream, kind, length)
            except ConnectionError:
                raise
            except Exception as e:
                raise ConnectionError("Could not complete %s operation: %s" % (what, e)) from e

    def recv(self, *, timeout=None):
        """The next object.  EOFError once the peer closed; timeout (an
        extension; None waits as Dragon does) raises ConnectionTimeout."""
        def body(stream, kind, length):
            if kind == dch.RAW_BYTES:
                stream.skip(_HDR_LEN)
                return pickle.loads(stream.read(length))
            return pickle.Unpickler(stream).load()
        return self._receive("receive", body, timeout)

    def recv_bytes(self, maxlength=None, *, timeout=None):
        """The next message's bytes (a bytearray, as Dragon).  From send()
        it is the object's pickle.  A message longer than maxlength closes
        the connection and raises ConnectionError (an OSError)."""
        if maxlength is not None:
            if not isinstance(maxlength, numbers.Integral) or isinstance(maxlength, bool):
                raise TypeError("maxlength must be an int or None, not %r" % (maxlength,))
            if maxlength < 0:
                raise ValueError("negative maxlength")

        def body(stream, kind, length):
            if kind == dch.PICKLE_PROT_5:
                stream.record = bytearray()
                pickle.Unpickler(stream).load()
                buf = stream.record
                length = len(buf)
            if maxlength is not None and length > maxlength:
                self.close()
                raise ConnectionError("recv_bytes maxlength=%d but the message has %d bytes"
                                      % (maxlength, length))
            if kind == dch.RAW_BYTES:
                stream.skip(_HDR_LEN)
                buf = bytearray(length)
                stream.readinto(buf)
            return buf
        return self._receive("receive bytes", body, timeout)

    def recv_bytes_into(self, buffer, offset=0, *, timeout=None):
        """Receive a send_bytes() message into a writable buffer at byte
        offset; returns its length.  BufferTooShort (also a
        ConnectionError) if it does not fit; ConnectionError if the sender
        used send()."""
        m = memoryview(buffer)
        if m.readonly:
            raise TypeError("recv_bytes_into needs a writable buffer")
        if not m.contiguous:
            raise ValueError("recv_bytes_into needs a contiguous buffer")
        if not isinstance(offset, numbers.Integral) or isinstance(offset, bool):
            raise TypeError("offset must be an int, not %r" % (offset,))
        target = m.cast("B")
        if offset < 0:
            raise ValueError("negative offset")
        if offset > len(target):
            raise ValueError("offset too large")

        def body(stream, kind, length):
            if kind == dch.PICKLE_PROT_5:
                pickle.Unpickler(stream).load()
                raise ConnectionError("recv_bytes_into called on a Connection whose sender "
                                      "called send")
            stream.skip(_HDR_LEN)
            if offset + length > len(target):
                whole = bytearray(length)
                stream.readinto(whole)
                raise BufferTooShort(whole)
            stream.readinto(target[offset:offset + length])
            return length
        return self._receive("recv_bytes_into", body, timeout)

    def poll(self, timeout=0.0, event_mask=dch.POLLIN):
        """True if a message (or the end) is waiting, after at most timeout
        seconds (None: no bound; a negative number counts as 0)."""
        if self.at_eof:
            return True
        self._check_inbound()
        if isinstance(timeout, numbers.Real) and not isinstance(timeout, bool) and timeout < 0:
            timeout = 0
        return self.inbound_chan.poll(timeout=timeout, wait_mode=_wait_mode(self.policy),
                                      event_mask=event_mask)

    def thread_wait(self, timeout, done_ev, ready):
        """Poll until a message is waiting (then append self to ready and
        set done_ev), done_ev is set by someone else, or timeout seconds
        (None: no bound) passed; done_ev is set on return."""
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while not done_ev.is_set():
            step = 0.01 if end is None else max(0.0, min(0.01, end - time.monotonic()))
            if self.poll(step):
                if not done_ev.is_set():
                    ready.append(self)
                break
            if end is not None and time.monotonic() >= end:
                break
        done_ev.set()

    # ---- closing -------------------------------------------------------------------

    def _release(self):
        for attr in ("_sendh", "_recvh"):
            h = getattr(self, attr)
            setattr(self, attr, None)
            if h is not None:
                try:
                    h.close()
                except Exception:
                    pass
        for side in sorted(self._own):
            ch = getattr(self, side + "_chan")
            try:
                if ch is not None and ch.is_attached:
                    ch.detach()
            except Exception:
                pass
        self._own = set()

    def close(self):
        """Send the end mark (if this end was used and writes, and is not a
        ghost), release the handles, detach channels this object attached.
        Closing again does nothing."""
        if self.state == self.State.CLOSED:
            return
        if self.state == self.State.READY and self.outbound_chan is not None and not self.ghost:
            try:
                with self._send_lock:
                    self._send_handle().send_bytes(bytes([dch._HDR_EOT]), timeout=_EOT_TIMEOUT)
            except ChannelError:
                pass        # no reader left, or the channel is gone
        self._release()
        self.state = self.State.CLOSED

    def ghost_close(self):
        """Close without sending the end mark, leaving the channel to
        someone else (the reader gets no EOFError from this end)."""
        self._release()
        self.state = self.State.CLOSED

    # ---- attributes ----------------------------------------------------------------

    @property
    def inbound_channel(self):
        return self.inbound_chan

    @property
    def outbound_channel(self):
        return self.outbound_chan

    @property
    def closed(self):
        """True once closed."""
        return self.state == self.State.CLOSED

    @property
    def readable(self):
        """True if the connection receives."""
        return self.inbound_initializer is not None or self.inbound_chan is not None

    @property
    def writable(self):
        """True if the connection sends."""
        return self.outbound_initializer is not None or self.outbound_chan is not None

    def fileno(self):
        """Not an operating-system descriptor: a CUID, -2 when open and -1
        otherwise (as Dragon), with the connection as ``.conn``."""
        n = CUID(-2 if self.state == self.State.READY else -1)
        n.conn = self
        return n

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __repr__(self):
        return "<Connection %s%s%s>" % (self.state.name.lower(),
                                        " in" if self.readable else "",
                                        " out" if self.writable else "")


# ---- Pipe ---------------------------------------------------------------------

# Pipe() without channels makes them in a pool of this process's own,
# destroyed (with its channels) when the process exits.
_PIPE_POOL_SIZE = 64 << 20
_pipe_pool = None
_pipe_pool_pid = None
_pipe_lock = threading.Lock()


def _destroy_pipe_pool():
    global _pipe_pool
    pool, _pipe_pool = _pipe_pool, None
    if pool is not None and _pipe_pool_pid == os.getpid():
        try:
            pool.destroy()
        except Exception:
            pass


def _pool_for_pipes():
    global _pipe_pool, _pipe_pool_pid
    with _pipe_lock:
        if _pipe_pool is None or _pipe_pool_pid != os.getpid() or not _pipe_pool.is_attached:
            token = os.urandom(6).hex()
            _pipe_pool = dmm.MemoryPool(_PIPE_POOL_SIZE, "dipc-pipe-%d-%s" % (os.getpid(), token),
                                        int.from_bytes(os.urandom(7), "little"))
            if _pipe_pool_pid is None:
                atexit.register(_destroy_pipe_pool)
                # a multiprocessing child skips atexit
                from multiprocessing import util
                util.Finalize(None, _destroy_pipe_pool, exitpriority=1)
            _pipe_pool_pid = os.getpid()
        return _pipe_pool


def _as_channel(init):
    if isinstance(init, Channel):
        return init
    if isinstance(init, (bytes, bytearray, memoryview)):
        return Channel.attach(bytes(init))
    raise TypeError("channels must hold Channel objects or channel descriptors, not %s"
                    % type(init).__name__)


def Pipe(duplex=True, *, channels=None, options=None):
    """Two connected Connections (first, second).

    channels None: new channels are made (EARLY, the default policy) in
    options.conn_options.default_pool, or else in a pool of this process
    (64 MiB: give a default_pool for larger objects), and destroyed when
    this process exits.  Duplex: each end sends and
    receives; otherwise first receives and second sends.
    channels a Channel (or a descriptor): first receives from it, second
    sends into it.  channels a pair: first receives from the first and
    sends into the second, second the other way round.  Channels passed in
    are never destroyed here.
    """
    if options is None:
        options = PipeOptions()
    elif not isinstance(options, PipeOptions):
        raise TypeError("options must be a PipeOptions or None, not %r" % (options,))
    conn_opts = options.conn_options
    if channels is not None:
        options.creation_policy = PipeOptions.CreationPolicy.EXTERNAL
        conn_opts.creation_policy = ConnectionOptions.CreationPolicy.EXTERNALLY_MANAGED
        if isinstance(channels, (Channel, bytes, bytearray, memoryview)):
            ch = _as_channel(channels)
            return (Connection(inbound_initializer=ch, options=conn_opts),
                    Connection(outbound_initializer=ch, options=conn_opts))
        try:
            pair = list(channels)
        except TypeError:
            raise TypeError("channels must be None, a Channel or a pair of Channels") from None
        if len(pair) != 2:
            raise ValueError("unexpected channels/initializer: %r" % (channels,))
        a, b = _as_channel(pair[0]), _as_channel(pair[1])
        if a is b:
            raise ValueError("the two channels of a Pipe must be distinct")
        return (Connection(inbound_initializer=a, outbound_initializer=b, options=conn_opts),
                Connection(inbound_initializer=b, outbound_initializer=a, options=conn_opts))
    if options.creation_policy == PipeOptions.CreationPolicy.EXTERNAL:
        raise ValueError("PipeOptions EXTERNAL needs channels")
    if options.creation_policy != PipeOptions.CreationPolicy.EARLY:
        raise _no_global_services("Pipe() with %s" % options.creation_policy.name)
    conn_opts.creation_policy = ConnectionOptions.CreationPolicy.PRE_CREATED
    pool = conn_opts.default_pool or _pool_for_pipes()
    first = Channel.make_process_local(pool=pool)
    if duplex:
        second = Channel.make_process_local(pool=pool)
        return (Connection(inbound_initializer=first, outbound_initializer=second,
                           options=conn_opts),
                Connection(inbound_initializer=second, outbound_initializer=first,
                           options=conn_opts))
    return (Connection(inbound_initializer=first, options=conn_opts),
            Connection(outbound_initializer=first, options=conn_opts))


# ---- Dragon's placeholders --------------------------------------------------------

class Address:
    """Dragon's address of a server; it names by process id (puid) here."""

    def __init__(self, user_name=""):
        self.user_name = user_name
        self.salt = os.getpid()

    def __str__(self):
        return self.user_name

    @property
    def cname(self):
        return "%s.%s" % (self.user_name, self.salt)


class Listener:
    """A placeholder in Dragon (it does nothing); not provided here."""

    def __init__(self, address="", family="", backlog=1, authkey=None):
        raise _no_global_services("Listener")


def Client(address="", family="", authkey=None):
    """A placeholder in Dragon (it returns None); not provided here."""
    raise _no_global_services("Client")
