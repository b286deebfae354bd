"""Byte streams with the interface of the ``smipc`` Python module.

Code written for smipc runs with its import changed to
``dragonipc.smipc`` (``from dragonipc.smipc import *`` also brings
``create_string_buffer``, as ``from smipc import *`` did)::

    from dragonipc.smipc import *

    init_library(LOG_DISABLE)
    with open_channel(b"test-chan", CHAN_W, 20) as c:
        c.write(b"hello")          # waits while the channel is full
    clean_library()

A channel (a named stream) has one writer and one reader, either of which
may open first; ``chanSz`` only matters to the one that creates it.  The
writer may close before the reader has drained the channel: the reader
still gets every byte, then OppositeEndClosedError.  A peer that dies is
seen like one that closed.

What differs from smipc, on purpose (its known defects):

* ``read`` returns the number of bytes actually read: a short read (the
  writer closed, a timeout) is reported, never hidden.
* ``read_async(callback)`` works: it returns a Listener whose ``stop()``
  ends it; ``AsyncReader`` (``channel.async_reader()``) lets asyncio code
  ``await`` data.
* ``write`` and ``read`` take an optional ``timeout`` in seconds, and a
  blocked call can be interrupted (Ctrl-C raises KeyboardInterrupt).
* ``clean_library`` closes whatever channels are still open exactly once;
  using them afterwards raises OperationFailedError.
* ``close`` (or ``clean_library``) while another thread is blocked in
  ``read`` or ``write`` on the channel is safe: the blocked call gives up
  within a fraction of a second and raises SmipcClosedError (an
  OperationFailedError), and ``close`` returns once it has.  Bytes already
  moved stay moved: a read that had received some returns their count, a
  write that had written some says how many in the exception's
  ``written`` (the reader still gets them).
"""

import asyncio
import atexit
import threading
import weakref
from ctypes import create_string_buffer

from . import _dragonipc
from ._errors import (SmipcError, ParameterTypeError, OppositeEndClosedError,
                      OperationFailedError, SmipcClosedError, SmipcTimeout,
                      SmipcLimitError)

__all__ = [
    "init_library", "clean_library", "open_channel", "Channel", "Listener", "AsyncReader",
    "LOG_DISABLE", "LOG_BASIC", "LOG_ALL", "CHAN_R", "CHAN_W",
    "SmipcError", "ParameterTypeError", "OppositeEndClosedError", "OperationFailedError",
    "SmipcClosedError", "SmipcTimeout", "SmipcLimitError", "create_string_buffer", "unlink",
]

#: Log levels for init_library().
LOG_DISABLE = _dragonipc.LOG_DISABLE
LOG_BASIC = _dragonipc.LOG_BASIC
LOG_ALL = _dragonipc.LOG_ALL

#: Channel modes: reader and writer.
CHAN_R = 0
CHAN_W = 1

# Listeners still running, stopped before the interpreter goes away (a
# callback must not run while Python is being torn down).
_listeners = weakref.WeakSet()


def init_library(log_level=LOG_DISABLE):
    """Set the library's log level (LOG_DISABLE, LOG_BASIC or LOG_ALL)
    and prepare it.  Optional: everything works without it."""
    if not isinstance(log_level, int) or isinstance(log_level, bool):
        raise ParameterTypeError("log level must be LOG_DISABLE, LOG_BASIC or LOG_ALL")
    _dragonipc.init(log_level)


def clean_library():
    """Stop listeners and close every channel this process still has open.

    Channels closed this way raise OperationFailedError when used again;
    leaving their ``with`` block afterwards is harmless.
    """
    for listener in list(_listeners):
        listener.stop()
    _dragonipc.cleanup()


def unlink(cid):
    """Remove the name of a channel left behind (by a crashed process, say).
    Returns False if there was none."""
    return _dragonipc.stream_unlink(_cid_name(cid))


def _cid_name(cid):
    if isinstance(cid, bytes):
        try:
            cid = cid.decode("ascii")
        except UnicodeDecodeError:
            raise ParameterTypeError("cid %r must be ASCII" % (cid,)) from None
    elif not isinstance(cid, str):
        raise ParameterTypeError("cid must be str or bytes, not %s" % type(cid).__name__)
    if not cid or len(cid) > _dragonipc.NAME_MAX or cid.startswith(".") or not all(
            c.isascii() and (c.isalnum() or c in "._-") for c in cid):
        raise ParameterTypeError(
            "cid %r cannot name a channel: use 1 to %d of letters, digits, '.', '_', '-', "
            "not starting with '.'" % (cid, _dragonipc.NAME_MAX))
    return cid


class Channel(_dragonipc.Stream):
    """One end of a named byte stream (smipc's Channel).

    ``Channel(cid, mode, chan_sz=128)``: cid is bytes or str, mode CHAN_R
    or CHAN_W, chan_sz the ring size in bytes (used only by the process
    that creates the stream).  The channel opens in ``__enter__`` and
    closes in ``__exit__``; ``open()`` and ``close()`` do the same by hand.
    """

    def __init__(self, cid, mode, chan_sz=128):
        """Check the arguments; nothing is opened yet."""
        self.name = _cid_name(cid)
        self.cid = cid
        if mode not in (CHAN_R, CHAN_W):
            raise ParameterTypeError("mode must be CHAN_R or CHAN_W, not %r" % (mode,))
        if not isinstance(chan_sz, int) or isinstance(chan_sz, bool) or chan_sz <= 0:
            raise ParameterTypeError("chanSz must be a positive int, not %r" % (chan_sz,))
        self.mode = mode
        self.chan_sz = chan_sz
        self._listener = None

    def open(self):
        """Open the channel (what ``with`` does on entry)."""
        self._open(self.name, self.mode, self.chan_sz)
        return self

    def close(self):
        """Stop any listener and close the channel (what ``with`` does on exit).

        A read or write blocked on the channel in another thread gives up
        (SmipcClosedError) and close returns once it has.
        """
        if self._listener is not None:
            self._listener.stop()
        self._close()

    def __enter__(self):
        """Open the channel and return it."""
        return self.open()

    def __exit__(self, exc_type, exc_val, exc_tb):
        """Close the channel."""
        self.close()

    def print_status(self):
        """Print the channel's status line (smipc's format) to stdout::

            Channel(cid): mode=R|W hSharedMem=... listener=enable|disable
            syncBuf={RO=.. WO=.. RC=.. WC=.. hREvt=.. hWEvt=.. bufSz=.. rc=.. wc=.. state=..}
        """
        print(self.status(), flush=True)

    def read_async(self, callback, on_close=None):
        """Call callback(data: bytes) on a library thread as data arrives.

        Returns a Listener; its stop() ends the calls (no call runs after
        stop() returns, unless stop() is called from the callback itself).
        on_close(), if given, is called once the writer has closed and
        everything was delivered.  While listening, read() raises
        OperationFailedError.  Only a reader (CHAN_R) can listen.
        """
        if self._listener is not None and not self._listener.stopped:
            raise OperationFailedError("this channel already has a listener")
        listener = Listener(self, callback, on_close)
        self._listener = listener
        return listener

    def async_reader(self):
        """An AsyncReader: await data from this channel in asyncio code."""
        return AsyncReader(self)

    def __repr__(self):
        return "<smipc.Channel %r %s %s>" % (self.name, "R" if self.mode == CHAN_R else "W",
                                              "open" if self.is_open else "closed")


class Listener:
    """A running read_async listener (smipc's AsyncReaderPromise)."""

    def __init__(self, channel, callback, on_close=None):
        """Start listening on channel (use Channel.read_async)."""
        if not callable(callback):
            raise ParameterTypeError("callback must be callable")
        self.channel = channel
        self.callback = callback
        self.on_close = on_close
        #: The first exception the callback raised (the listener stops then).
        self.exception = None
        self.stopped = False
        self._finished = threading.Event()
        channel._listen(self._dispatch)
        _listeners.add(self)

    def _dispatch(self, data):
        if self.stopped:
            return
        if data is None:
            self._finished.set()
            if self.on_close is not None:
                self.on_close()
            return
        try:
            self.callback(data)
        except BaseException as exc:   # reported, and the listener stops
            self.exception = exc
            self.channel._unlisten()
            self._finished.set()
            raise

    def stop(self):
        """Stop the listener.  Harmless when it already stopped."""
        if self.stopped:
            return
        self.stopped = True
        _listeners.discard(self)
        self.channel._unlisten()
        self._finished.set()

    def wait(self, timeout=None):
        """Wait until the writer has closed and all data was delivered
        (or the listener stopped); True unless the timeout expired."""
        return self._finished.wait(timeout)

    @property
    def finished(self):
        """True once the writer closed and every byte was delivered."""
        return self._finished.is_set()


class AsyncReader:
    """Await a channel's data from asyncio.

    ::

        async with channel.async_reader() as reader:
            data = await reader.read(100)       # 1..100 bytes, b"" at the end
            rest = await reader.readexactly(10)
            async for chunk in reader: ...

    A listener thread moves the data into this object as it arrives and
    wakes the event loop; the loop never blocks.  Data is buffered here
    without limit, so a writer is not held back by a slow coroutine.
    """

    def __init__(self, channel, loop=None):
        """Start listening on channel for the running (or given) event loop."""
        self._loop = loop or asyncio.get_running_loop()
        self._buf = bytearray()
        self._eof = False
        self._event = asyncio.Event()
        self._listener = channel.read_async(self._on_data, self._on_close)

    def _on_data(self, data):
        self._loop.call_soon_threadsafe(self._push, data)

    def _on_close(self):
        self._loop.call_soon_threadsafe(self._push, None)

    def _push(self, data):
        if data is None:
            self._eof = True
        else:
            self._buf += data
        self._event.set()

    async def read(self, n=-1):
        """Up to n bytes (all that is buffered when n < 0), waiting for at
        least one; b"" once the writer closed and everything was read."""
        while not self._buf and not self._eof:
            self._event.clear()
            await self._event.wait()
        if n < 0 or n >= len(self._buf):
            data, self._buf = bytes(self._buf), bytearray()
        else:
            data = bytes(self._buf[:n])
            del self._buf[:n]
        return data

    async def readexactly(self, n):
        """Exactly n bytes; OppositeEndClosedError if the writer closes first
        (its ``partial`` attribute holds what came)."""
        while len(self._buf) < n and not self._eof:
            self._event.clear()
            await self._event.wait()
        if len(self._buf) < n:
            exc = OppositeEndClosedError("the writer closed after %d of %d bytes"
                                         % (len(self._buf), n))
            exc.partial = bytes(self._buf)
            self._buf.clear()
            raise exc
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def __aiter__(self):
        return self

    async def __anext__(self):
        data = await self.read()
        if not data:
            raise StopAsyncIteration
        return data

    def stop(self):
        """Stop listening."""
        self._listener.stop()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.stop()


def open_channel(cid, mode, chanSz=128):
    """A Channel for cid (bytes or str) in mode CHAN_R or CHAN_W, of
    chanSz bytes if this call creates it.  It opens on ``with``."""
    return Channel(cid, mode, chanSz)


@atexit.register
def _stop_listeners():
    for listener in list(_listeners):
        try:
            listener.stop()
        except Exception:
            pass
