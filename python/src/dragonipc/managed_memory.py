"""Memory pools: named shared-memory regions with an allocator.

The interface of Dragon's ``dragon.managed_memory``: code written for it
runs with its import changed to ``dragonipc.managed_memory``.

Lifetime
--------
* ``MemoryPool(size, name, uid)`` creates the pool; ``MemoryPool.attach()``
  (or unpickling) attaches to an existing one.
* ``detach()`` ends this object's use of the pool.  ``destroy()`` also
  removes the pool's name, so no one else can attach; processes already
  attached keep their mapping until they detach.  Either may be called by
  the creator or by an attached process.
* Garbage collection (``__del__``) only ever detaches, in the creator as
  in attached processes: a pool is unlinked by an explicit ``destroy()``
  and by nothing else, so a pool handed to another process never vanishes
  because its sender dropped a reference.  A pool never destroyed stays in
  the system (on Linux under /dev/shm) until ``destroy()`` or
  ``unlink(name)``.
* While channels, messages or memoryviews made from the pool are alive,
  its mapping stays in this process even after ``detach()`` or
  ``destroy()``, so no view can ever point into unmapped memory.

Names
-----
Pool names are kept as given when they are valid for the C library: 1 to
63 bytes of ``[A-Za-z0-9._-]``, not starting with ``'.'``.  Any other name
raises ``ValueError`` (a ``DragonPoolValueError``) saying why; names are
never rewritten behind the caller's back.

Sizes
-----
Pools smaller than 1 MiB (``POOL_MIN_SIZE``) are rounded up to it by the
library, so that any pool can hold a channel with the default attributes;
``size`` reports the usable size.
"""

import re
import weakref

from . import _dragonipc
from ._errors import (DragonMemoryError, DragonPoolError, DragonPoolValueError,
                      DragonPoolCreateFail, DragonPoolAttachFail, DragonPoolDetachFail,
                      DragonPoolAllocationNotAvailable, DragonPoolCreateLimit,
                      DragonPoolAttachLimit)

__all__ = [
    "MemoryPool", "default_pool", "set_default_pool", "unlink", "POOL_MIN_SIZE",
    "NAME_MAX", "DragonMemoryError", "DragonPoolError", "DragonPoolValueError",
    "DragonPoolCreateFail", "DragonPoolAttachFail", "DragonPoolDetachFail",
    "DragonPoolAllocationNotAvailable", "DragonPoolCreateLimit", "DragonPoolAttachLimit",
]

#: Pools smaller than this many bytes are rounded up to it.
POOL_MIN_SIZE = _dragonipc.POOL_MIN_SIZE
#: The longest pool name, in bytes.
NAME_MAX = _dragonipc.NAME_MAX

_NAME_RE = re.compile(r"[A-Za-z0-9._-]+\Z")


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError("pool name must be a str, not %s" % type(name).__name__)
    if not name:
        raise DragonPoolValueError("pool name must not be empty")
    if len(name.encode("utf-8")) > NAME_MAX:
        raise DragonPoolValueError("pool name %r is longer than %d bytes" % (name, NAME_MAX))
    if name.startswith("."):
        raise DragonPoolValueError("pool name %r must not start with '.'" % name)
    if not _NAME_RE.match(name):
        bad = sorted(set(c for c in name if not re.match(r"[A-Za-z0-9._-]", c)))
        raise DragonPoolValueError(
            "pool name %r has characters pool names cannot hold: %s "
            "(allowed: letters, digits, '.', '_' and '-')" % (name, " ".join(repr(c) for c in bad)))
    return name


# Pools this process attached, by descriptor, so that channels attached
# from descriptors share one mapping of their pool.
_attached = weakref.WeakValueDictionary()
# Every pool created or attached here, newest last, for default_pool().
_recent = []
_default = None


def _remember(pool):
    _recent.append(weakref.ref(pool))
    del _recent[:-64]


class MemoryPool(_dragonipc.Pool):
    """A named shared-memory pool with an allocator.

    ``MemoryPool(size, name, uid, pre_alloc_blocks=None)`` creates the pool
    ``name`` of at least ``size`` bytes (at least 1 MiB).  ``uid`` is
    Dragon's pool id, kept as the ``muid`` attribute; ``pre_alloc_blocks``
    (a list of ints) and the other Dragon keyword arguments are checked and
    otherwise ignored, since this allocator needs no pre-allocation.

    Raises DragonPoolCreateFail if the pool cannot be created (its name is
    taken, for one) and ValueError for a name pool names cannot hold.
    """

    def __init__(self, size, name, uid, pre_alloc_blocks=None, *, mode=0o600, **dragon_options):
        """Create the pool (see the class documentation); mode is its
        permission bits (owner-only by default)."""
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError("pool size must be int, got type %s" % type(size).__name__)
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise TypeError("pool uid must be int, got type %s" % type(uid).__name__)
        if size < 1:
            raise DragonPoolValueError("pool size must be positive, not %d" % size)
        if pre_alloc_blocks is not None and (
                not isinstance(pre_alloc_blocks, list)
                or not all(isinstance(b, int) for b in pre_alloc_blocks)):
            raise DragonPoolValueError("pre_alloc_blocks must be a list of ints")
        _check_name(name)
        self.muid = uid
        self._create(name, size, mode)
        self._name = name
        _remember(self)

    @classmethod
    def attach(cls, pool_ser, *, existing_memory_pool=None):
        """Attach to the pool a serialized descriptor names.

        Raises DragonPoolAttachFail if the pool is gone or the descriptor is
        not one.  The attached object never destroys the pool by itself.
        """
        if existing_memory_pool is not None:
            pool = existing_memory_pool
            if not isinstance(pool, MemoryPool):
                raise TypeError("existing_memory_pool must be a MemoryPool")
        else:
            pool = cls.__new__(cls)
        if len(pool_ser) == 0:
            raise DragonPoolValueError("a zero-length pool descriptor cannot be attached")
        pool._attach(bytes(pool_ser))
        pool.muid = getattr(pool, "muid", 0)
        pool._name = None
        _attached[pool.serialize()] = pool
        _remember(pool)
        return pool

    @classmethod
    def attach_name(cls, name, *, shared=False):
        """Attach to the pool called name (a dragonipc extension).

        Only a pool of this user is attached: one another user owns raises
        DragonPoolAttachFail (EPERM), since whoever took the name first may
        be waiting for our data.  shared=True accepts it where sharing
        between users is meant (a pool created with mode 0o660 for a
        group, say); its permission bits still decide."""
        if not isinstance(shared, bool):
            raise TypeError("shared must be True or False, not %r" % (shared,))
        pool = cls.__new__(cls)
        pool._attach_name(_check_name(name), _dragonipc.SHARED if shared else 0)
        pool.muid = 0
        pool._name = name
        _remember(pool)
        return pool

    @classmethod
    def _for_channel(cls, channel_ser):
        """The pool a channel descriptor lives in, attached once per process."""
        desc = cls._channel_pool_desc(channel_ser)
        pool = _attached.get(desc)
        if pool is None or not pool.is_attached:
            pool = cls.attach(desc)
        return pool

    @classmethod
    def empty_pool(cls):
        """An unattached MemoryPool object (Dragon compatibility)."""
        return cls.__new__(cls)

    def __reduce__(self):
        # Pickling sends the descriptor; unpickling attaches.
        return (_unpickle_pool, (self.serialize(), getattr(self, "muid", 0)))

    def __enter__(self):
        """Return the pool itself."""
        return self

    def __exit__(self, *exc):
        """Destroy the pool if this object created it, else detach."""
        if self.is_attached:
            if self.is_creator:
                self.destroy()
            else:
                self.detach()

    def detach(self, serialize=False):
        """Stop using the pool from this object; the pool lives on.

        ``serialize`` is accepted for Dragon compatibility (serialize() may
        be called before detaching; the descriptor stays valid).  Detaching
        twice is harmless.
        """
        super().detach()

    def alloc_message(self, nbytes, timeout=0):
        """A channels.Message of nbytes from this pool (see Message.create_alloc)."""
        from .channels import Message
        return Message.create_alloc(self, nbytes, timeout=timeout)

    @property
    def name(self):
        """The pool's name (None for a pool attached by descriptor)."""
        return self._name

    @property
    def size(self):
        """Bytes the pool holds for allocations."""
        return self._stats()[0]

    @property
    def free_space(self):
        """Bytes free now."""
        return self._stats()[1]

    @property
    def largest_free(self):
        """The largest allocation that would succeed now."""
        return self._stats()[2]

    @property
    def num_allocs(self):
        """Live allocations, channels included."""
        return self._stats()[3]

    @property
    def num_channels(self):
        """Channels in the pool."""
        return self._stats()[4]

    @property
    def utilization(self):
        """Percentage of the pool in use."""
        total, free = self._stats()[:2]
        return 100.0 * (total - free) / total if total else 0.0

    @property
    def is_local(self):
        """Always True: pools live on this machine."""
        return True

    def __repr__(self):
        state = "attached" if self.is_attached else ("destroyed" if self.is_destroyed else "detached")
        return "<MemoryPool %s muid=%s %s>" % (self._name or "(by descriptor)",
                                               getattr(self, "muid", "?"), state)


def _unpickle_pool(ser, muid):
    pool = MemoryPool.attach(ser)
    pool.muid = muid
    return pool


def default_pool():
    """The pool Message.create_alloc(nbytes) allocates from.

    The pool given to set_default_pool(), if it is still attached; else
    the pool this process most recently created or attached that is still
    attached.  DragonPoolError if there is none.
    """
    if _default is not None:
        pool = _default()
        if pool is not None and pool.is_attached:
            return pool
    for ref in reversed(_recent):
        pool = ref()
        if pool is not None and pool.is_attached:
            return pool
    raise DragonPoolError("there is no default pool: create or attach a MemoryPool first, "
                          "or pass the pool to Message.create_alloc()")


def set_default_pool(pool):
    """Make pool the one Message.create_alloc(nbytes) uses (None: back to the rule)."""
    global _default
    if pool is not None and not isinstance(pool, MemoryPool):
        raise TypeError("pool must be a MemoryPool or None")
    _default = weakref.ref(pool) if pool is not None else None


def unlink(name):
    """Remove the pool called name, left behind by a process that never
    destroyed it.  Processes still attached keep their mapping."""
    pool = MemoryPool.attach_name(name)
    pool.destroy()
