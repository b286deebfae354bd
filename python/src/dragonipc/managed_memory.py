"""Memory pools: named shared-memory regions with an allocator.

The interface of Dragon's ``dragon.managed_memory``: code written for it
runs with its import changed to ``dragonipc.managed_memory``.  Where this
module differs, python/README.md says how ("Dragon's managed-memory API,
name by name").

Lifetime
--------
* ``MemoryPool(size, name, uid)`` creates the pool; ``MemoryPool.attach()``
  (or unpickling) attaches to an existing one.
* ``detach()`` ends this object's use of the pool.  ``destroy()`` also
  removes the pool's name, so no one else can attach; processes already
  attached keep their mapping until they detach.  Either may be called by
  the creator or by an attached process.
* As in Dragon, whose process keeps one handle per pool, an object that
  was detached works again once the same pool is attached anew in this
  process (by descriptor, by pickle, or through a channel of it).
* Garbage collection (``__del__``) only ever detaches, in the creator as
  in attached processes: a pool is unlinked by an explicit ``destroy()``
  and by nothing else, so a pool handed to another process never vanishes
  because its sender dropped a reference.  A pool never destroyed stays in
  the system (on Linux under /dev/shm) until ``destroy()`` or
  ``unlink(name)``.
* While channels, messages, allocations or memoryviews made from the pool
  are alive, its mapping stays in this process even after ``detach()`` or
  ``destroy()``, so no view can ever point into unmapped memory.

Names
-----
Any name Dragon takes is taken: 1 to 255 bytes of UTF-8 without '/' or
NUL.  A name the library can hold as it is (1 to 63 bytes of
``[A-Za-z0-9._-]``, not starting with '.') names the segment itself; any
other is stored under a segment name made from it: its characters outside
that set turned to '_', cut to 46 characters, then '-' and 16 hex digits
of a BLAKE2b hash of the whole name.  Every process computes the same
segment name from the same name, so ``attach_name`` finds the pool by its
Dragon name.

Sizes
-----
``MemoryPool(size, ...)`` makes a pool whose allocations can take ``size``
bytes, plus the 64-byte header each allocation costs for up to 38 of them
(``POOL_HEADROOM``), and no more: a program that sized its pool for
Dragon runs out of room where it did under Dragon, so that waits and
"pool full" errors happen where it expects them.

A pool of at most 1 MiB is shaped as Dragon shapes every pool: its size
is rounded up to a power of two, and each allocation takes a block of the
next power of two of its size (MemoryAlloc.size is still the size asked
for).  That costs nothing, since such a pool is 1 MiB underneath anyway:
the rest is kept for channels (dipc_pool_create(3), DIPC_POOL_KEEP_SIZE
and DIPC_POOL_POW2), so any pool can hold a channel with the default
attributes.  A larger pool holds exactly what was asked (plus the
headroom) and allocations take their own size: rounding it up to a power
of two would reserve up to twice the memory, every page of a pool being
reserved when it is made.  In every MemoryPool, allocations take the
lowest free block that fits and frees return at once (DIPC_POOL_FIRST_FIT),
so that allocations that add up to the pool's size fit it in any order,
as in Dragon's pools.  Sizes below 4096 bytes (``SMALLEST_POOL``,
Dragon's least block size) are refused, as Dragon refuses them.

Descriptors
-----------
Descriptors keep Dragon's layout where Dragon's programs rely on it: a
pool's begins with its uid and the id of its host (then the library's
descriptor, its first word moved after the host's); an allocation's
begins with the length of its pool's descriptor followed by that
descriptor.  A descriptor whose host is another machine attaches to a
"remote" object, as in Dragon, that can be passed on (serialized,
pickled, cloned) but whose memory cannot be used here.
"""

import enum
import hashlib
import re
import struct
import weakref

from . import _dragonipc
from ._errors import (DragonMemoryError, DragonPoolError, DragonPoolValueError,
                      DragonPoolCreateFail, DragonPoolAttachFail, DragonPoolDetachFail,
                      DragonPoolAllocationNotAvailable, DragonPoolCreateLimit,
                      DragonPoolAttachLimit, DragonMemoryTypeError, DragonMemoryValueError,
                      DragonPoolCreateValueError, DragonPoolOverflowError,
                      DragonPoolAllocValueError, DragonPoolAllocTimeout)

__all__ = [
    "MemoryPool", "MemoryAlloc", "MemoryAllocations", "MemoryPoolAttr", "PoolType", "AllocType",
    "default_pool", "set_default_pool", "unlink", "POOL_MIN_SIZE", "NAME_MAX",
    "SMALLEST_POOL", "POOL_HEADROOM", "DRAGON_MEMORY_DEFAULT_TIMEOUT",
    "DragonMemoryError", "DragonPoolError", "DragonPoolValueError",
    "DragonPoolCreateFail", "DragonPoolAttachFail", "DragonPoolDetachFail",
    "DragonPoolAllocationNotAvailable", "DragonPoolCreateLimit", "DragonPoolAttachLimit",
    "DragonMemoryTypeError", "DragonMemoryValueError", "DragonPoolCreateValueError",
    "DragonPoolOverflowError", "DragonPoolAllocValueError", "DragonPoolAllocTimeout",
]

#: The library rounds pools smaller than this up to it (see Sizes).
POOL_MIN_SIZE = _dragonipc.POOL_MIN_SIZE
#: The longest segment name, in bytes (longer pool names are mapped).
NAME_MAX = _dragonipc.NAME_MAX
#: The smallest size MemoryPool accepts (Dragon's least block size).
SMALLEST_POOL = 4096
#: Bytes a MemoryPool adds to the size asked for: the headers of 38
#: allocations (an allocation costs its size rounded up to 64, plus 64).
POOL_HEADROOM = 38 * 64
#: Dragon's default timeout for memory operations, in seconds.
DRAGON_MEMORY_DEFAULT_TIMEOUT = 300
#: The longest pool name, in bytes of UTF-8.
_NAME_LIMIT = 255
_U64 = (1 << 64) - 1

_NAME_RE = re.compile(r"[A-Za-z0-9._-]+\Z")
# The library's pool descriptor starts with this magic (lib/pool.c).
_C_POOL_MAGIC = b"IPCP"
# The shared-memory object of a pool, as the operating system names it
# ("/" + lib/internal.h's DIPC_SEG_POOL + the segment name).
_SEGMENT_PREFIX = "/dipc.p."


class PoolType(enum.Enum):
    """Where a pool's memory lives.  Pools here are shared memory (SHM)."""

    SHM = 0
    FILE = 1
    PRIVATE = 2


class AllocType(enum.Enum):
    """The kind of an allocation, as MemoryAllocations reports it.

    DATA is an allocation of a process (MemoryPool.alloc, messages),
    CHANNEL the memory of a channel itself.  CHANNEL_BUFFER and BOOTSTRAP
    exist for Dragon's programs; no allocation here is of those kinds.
    """

    DATA = 0
    CHANNEL = 1
    CHANNEL_BUFFER = 2
    BOOTSTRAP = 3


_KIND_TO_TYPE = {_dragonipc.BLOCK_DATA: AllocType.DATA, _dragonipc.BLOCK_CHANNEL: AllocType.CHANNEL}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _segment_name(name, exc=DragonPoolCreateValueError):
    """The library's segment name for a pool name (see Names)."""
    if not isinstance(name, str):
        raise TypeError("pool name must be a str, not %s" % type(name).__name__)
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError as e:
        raise exc("pool name %r is not valid UTF-8: %s" % (name, e)) from None
    if not raw:
        raise exc("pool name must not be empty", _dragonipc.EINVAL)
    if len(raw) > _NAME_LIMIT:
        raise exc("pool name of %d bytes is longer than %d" % (len(raw), _NAME_LIMIT),
                  _dragonipc.ENAMETOOLONG)
    for bad in ("/", "\0"):
        if bad in name:
            raise exc("pool name %r must not hold %r" % (name, bad), _dragonipc.EINVAL)
    if len(raw) <= NAME_MAX and not name.startswith(".") and _NAME_RE.match(name):
        return name
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if clean.startswith("."):
        clean = "_" + clean[1:]
    digest = hashlib.blake2b(raw, digest_size=8).hexdigest()
    return clean[:NAME_MAX - 17] + "-" + digest


def _as_bytes(data, what):
    """bytes of a bytes-like descriptor; TypeError for anything else."""
    if isinstance(data, (str, _dragonipc.Alloc)):
        raise TypeError("%s must be a bytes-like descriptor, not %s" % (what, type(data).__name__))
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError("%s must be a bytes-like descriptor, not %s"
                        % (what, type(data).__name__)) from None


def _pool_ser_from_c(muid, cdesc):
    """Dragon's layout: uid, host, then the rest of the library's descriptor."""
    return struct.pack("<Q", muid) + cdesc[8:16] + cdesc[0:8] + cdesc[16:]


def _split_pool_ser(ser):
    """(uid or None, library descriptor) of a pool descriptor of either kind."""
    if ser[16:20] == _C_POOL_MAGIC:
        return struct.unpack_from("<Q", ser)[0], ser[16:24] + ser[8:16] + ser[24:]
    if ser[0:4] == _C_POOL_MAGIC:
        return None, ser
    if len(ser) < 24:
        return None, ser    # too short for either: the library refuses it
    return struct.unpack_from("<Q", ser)[0], ser[16:24] + ser[8:16] + ser[24:]


def _c_desc_segment(cdesc):
    """The segment name in a library pool descriptor: its length byte at 24,
    the name after it (lib/pool.c, pool_serialize_into)."""
    bad = DragonPoolError("Error retrieving data from serialized pool data: not a pool "
                          "descriptor", _dragonipc.EINVAL)
    if len(cdesc) < 26 or cdesc[0:4] != _C_POOL_MAGIC:
        raise bad
    n = cdesc[24]
    name = cdesc[25:25 + n]
    if n == 0 or len(name) != n:
        raise bad
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError:
        raise bad from None
    if not _NAME_RE.match(text):
        raise bad
    return text


def _foreign(what):
    return DragonPoolError("%s: the pool is on another host" % what, _dragonipc.EFOREIGN)


# Pools this process attached, by library descriptor, so that channels and
# allocations attached from descriptors share one mapping of their pool.
_attached = weakref.WeakValueDictionary()
# Objects detached from a pool, by library descriptor, to use again when
# the pool is attached anew in this process.
_detached = {}
# Every pool created or attached here, newest last, for default_pool().
_recent = []
_default = None


def _remember(pool):
    _recent.append(weakref.ref(pool))
    del _recent[:-64]


class MemoryPoolAttr:
    """Dragon's pool attributes object; only pre_alloc_blocks is kept.

    Raises RuntimeError, as Dragon does, for a pre_alloc_blocks that is not
    a list of ints."""

    def __init__(self, pre_alloc_blocks=None):
        if pre_alloc_blocks is not None and (
                not isinstance(pre_alloc_blocks, list)
                or not all(_is_int(b) for b in pre_alloc_blocks)):
            raise RuntimeError("MemoryAttr Error: pre_alloc_blocks must be a list of ints")
        self.pre_alloc_blocks = pre_alloc_blocks


class MemoryAllocations:
    """The allocations of a pool at one moment (MemoryPool.get_allocations)."""

    def __init__(self, entries):
        self._entries = list(entries)

    @property
    def num_allocs(self):
        """Number of allocations listed."""
        return len(self._entries)

    def _check(self, idx):
        if not _is_int(idx):
            raise TypeError("index must be an int, not %s" % type(idx).__name__)
        if idx < 0 or idx >= len(self._entries):
            raise RuntimeError("Index out of bounds")

    def alloc_type(self, idx):
        """The AllocType of entry idx (RuntimeError if out of range)."""
        self._check(idx)
        return self._entries[idx][1]

    def alloc_id(self, idx):
        """The id of entry idx (RuntimeError if out of range)."""
        self._check(idx)
        return self._entries[idx][0]

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return "<MemoryAllocations %d>" % len(self._entries)


class MemoryPool(_dragonipc.Pool):
    """A named shared-memory pool with an allocator.

    ``MemoryPool(size, name, uid, pre_alloc_blocks=None)`` creates the pool
    ``name`` whose allocations can take ``size`` bytes (see the module's
    Sizes).  ``uid`` is Dragon's pool id (0 to 2**64 - 1), kept with the
    pool: every process attached reads it as ``muid``.  Keyword arguments:
    ``max_allocations`` bounds the allocations in use at once (channels
    included); ``min_block_size`` and ``pre_alloc_blocks`` are checked and
    otherwise unused (this allocator hands out 64-byte units and needs no
    pre-allocation); ``mode`` is the permission bits (0o600).

    Raises TypeError for a size, name or uid of the wrong type,
    OverflowError (a DragonPoolOverflowError) for a size or uid below 0 or
    past 64 bits, and DragonPoolCreateFail for anything else: a bad name or
    size (DragonPoolCreateValueError, also a ValueError), a taken name.
    """

    def __init__(self, size, fname, uid, pre_alloc_blocks=None, *, min_block_size=None,
                 max_allocations=None, mode=0o600, **dragon_options):
        """Create the pool (see the class documentation)."""
        if not _is_int(size):
            raise TypeError("Pool size must be int, got type %s" % type(size).__name__)
        if not _is_int(uid):
            raise TypeError("Pool uid must be int, got type %s" % type(uid).__name__)
        if size < 0 or size > _U64:
            raise DragonPoolOverflowError("pool size %d is outside 0 .. 2**64 - 1" % size)
        if uid < 0 or uid > _U64:
            raise DragonPoolOverflowError("pool uid %d is outside 0 .. 2**64 - 1" % uid)
        if size < SMALLEST_POOL:
            raise DragonPoolCreateValueError(
                "pool size %d is below the smallest pool, %d bytes" % (size, SMALLEST_POOL),
                _dragonipc.EINVAL)
        if pre_alloc_blocks is not None and (
                not isinstance(pre_alloc_blocks, list)
                or not all(_is_int(b) for b in pre_alloc_blocks)):
            raise DragonPoolCreateValueError("pre_alloc_blocks must be a list of ints")
        if min_block_size is not None and not _is_int(min_block_size):
            raise DragonPoolCreateValueError("min_block_size must be an int")
        limit = 0
        if max_allocations is not None:
            if not _is_int(max_allocations):
                raise DragonPoolCreateValueError("max_allocations must be an int")
            if max_allocations < 1 or max_allocations > 0xffffffff:
                raise DragonPoolCreateValueError(
                    "max_allocations must be from 1 to 2**32 - 1, not %d" % max_allocations)
            limit = max_allocations
        segment = _segment_name(fname)
        flags = _dragonipc.POOL_KEEP_SIZE | _dragonipc.POOL_FIRST_FIT
        if size <= POOL_MIN_SIZE:
            # Shaped as Dragon shapes it, at no cost: the segment is 1 MiB.
            size = 1 << (size - 1).bit_length()
            flags |= _dragonipc.POOL_POW2
        self._create(segment, size + POOL_HEADROOM, mode, uid=uid, flags=flags,
                     max_allocs=limit)
        self._muid = uid
        self._name = fname
        self._segment = segment
        self._remote = None
        self._cser = self._cdesc_now()
        self._used = True
        _attached[self._cser] = self
        _remember(self)

    # ---- descriptors and attaching --------------------------------------------------

    def _cdesc_now(self):
        return _dragonipc.Pool.serialize(self)

    @classmethod
    def attach(cls, pool_ser, *, existing_memory_pool=None):
        """Attach to the pool a serialized descriptor names.

        Raises TypeError for something that is not bytes-like, ValueError
        for an empty descriptor and DragonPoolAttachFail if the pool is gone
        or the descriptor is not one.  A descriptor of a pool on another
        host gives a remote object (``is_local`` False): it can be
        serialized, pickled and detached, and every other use raises
        DragonPoolError.  The attached object never destroys the pool by
        itself.
        """
        ser = _as_bytes(pool_ser, "pool_ser")
        if existing_memory_pool is not None:
            if not isinstance(existing_memory_pool, MemoryPool):
                raise TypeError("Unsupported %s != MemoryPool" % type(existing_memory_pool))
            pool = existing_memory_pool
        else:
            pool = cls.__new__(cls)
        if len(ser) == 0:
            raise DragonPoolValueError("Zero length serialized pool descriptor cannot be attached.")
        muid, cdesc = _split_pool_ser(ser)
        try:
            if getattr(pool, "_used", False):
                pool._reattach(cdesc)
            else:
                pool._attach(cdesc)
        except DragonPoolAttachFail as e:
            if e.lib_err != _dragonipc.EFOREIGN or muid is None:
                raise
            pool._become_remote(ser, muid)
            return pool
        pool._attached_now(cdesc, None)
        return pool

    def _become_remote(self, ser, muid):
        self._remote = bytes(ser)
        self._muid = muid
        self._name = None
        self._segment = None
        self._cser = None
        self._used = True
        self._remote_attached = True

    def _attached_now(self, cdesc, name):
        """Bookkeeping after a successful attach of cdesc."""
        cser = self._cdesc_now()
        self._muid = self._get_attr()[2]
        self._name = name
        self._segment = _c_desc_segment(cser)
        self._remote = None
        self._cser = cser
        self._used = True
        _attached[cser] = self
        _remember(self)
        # Objects of this process detached from the same pool work again.
        for other in list(_detached.pop(cser, ())):
            if other is not self and not other.is_attached and not other.is_destroyed:
                try:
                    other._reattach(cser)
                except DragonMemoryError:
                    pass

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
        segment = _segment_name(name, DragonPoolValueError)
        pool._attach_name(segment, _dragonipc.SHARED if shared else 0)
        pool._attached_now(None, name)
        return pool

    @classmethod
    def attach_default(cls):
        """The default pool (default_pool()); DragonPoolAttachFail if none."""
        try:
            return default_pool()
        except DragonPoolError as e:
            raise DragonPoolAttachFail(str(e.msg)) from None

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

    @classmethod
    def make_process_local(cls, name, size, min_block_size=None, pre_allocs=None, timeout=None):
        """Create a pool for this process (Dragon's process-local pool).

        There is no runtime here to destroy it when the process ends:
        destroy() it, as any pool."""
        return cls(size, name, 0, pre_allocs, min_block_size=min_block_size)

    def register(self, timeout=None):
        """Accepted for Dragon compatibility; there is no runtime to tell."""

    def deregister(self, timeout=None):
        """Accepted for Dragon compatibility; there is no runtime to tell."""

    @classmethod
    def _set_debug_flag(cls, flag):
        """Accepted for Dragon compatibility; no effect."""

    @classmethod
    def serialized_uid_fname(cls, pool_ser):
        """(uid, file name) of a pool descriptor, without attaching.

        The file name is the name of the pool's shared-memory object, e.g.
        ``/dipc.p.mypool`` (Dragon's are ``/_dragon_<name>_manifest``).
        Raises DragonPoolError for bytes that are not a pool descriptor."""
        ser = _as_bytes(pool_ser, "pool_ser")
        muid, cdesc = _split_pool_ser(ser)
        fname = _SEGMENT_PREFIX + _c_desc_segment(cdesc)
        if muid is None:
            muid = _uid_of_c_desc(cdesc)
        return (muid, fname)

    def __reduce__(self):
        # Pickling sends the descriptor; unpickling attaches.
        return (_unpickle_pool, (self.serialize(),))

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

    def serialize(self):
        """A descriptor other processes can attach with MemoryPool.attach().

        As in Dragon, once serialize() was called (or detach(serialize=True)),
        it still gives the descriptor after a detach.  DragonPoolError for
        an object never attached, or destroyed."""
        if self._remote_ser() is not None:
            return self._remote_ser()
        cser = getattr(self, "_cser", None)
        if self.is_attached or cser is None or self.is_destroyed or not self._ser_kept:
            cser = self._cdesc_now()    # raises unless attached
        self._ser_kept = True
        return _pool_ser_from_c(self.muid, cser)

    _ser_kept = False

    def _remote_ser(self):
        return getattr(self, "_remote", None)

    def detach(self, serialize=False):
        """Stop using the pool from this object; the pool lives on.

        With serialize=True the descriptor is kept first, so serialize()
        works afterwards.  Detaching twice is harmless.  The object works
        again if this process attaches the same pool anew."""
        if self._remote_ser() is not None:
            self._remote_attached = False
            return
        if self.is_attached:
            if serialize:
                self._ser_kept = True
            _detached.setdefault(self._cser, weakref.WeakSet()).add(self)
        super().detach()

    def destroy(self):
        """Remove the pool's name so nobody can attach any more, and detach.
        Processes already attached keep their mapping until they detach.
        DragonPoolError if the object is not attached (or is remote)."""
        if self._remote_ser() is not None:
            raise _foreign("Could not destroy pool")
        super().destroy()

    def _local(self, what):
        if self._remote_ser() is not None:
            raise _foreign(what)

    # ---- allocations ------------------------------------------------------------------

    def _check_alloc_type(self, alloc_type):
        if alloc_type is not None and type(alloc_type) is not AllocType:
            raise DragonMemoryError(_dragonipc.EINVAL,
                                    "alloc_type must be None or of type AllocType.")

    def _check_size(self, size):
        if not _is_int(size):
            raise TypeError("Allocation size must be int, got type %s" % type(size).__name__)
        if size < 1:
            raise DragonPoolAllocValueError("Size cannot be less than 1 for memory allocations")
        if size > _U64:
            raise DragonPoolAllocationNotAvailable(
                "An allocation of size=%d is not available." % size, _dragonipc.ENOSPC)

    def alloc(self, size, alloc_type=None):
        """A new allocation of size bytes (a MemoryAlloc); tries once.

        Raises TypeError for a size that is not an int, RuntimeError (a
        DragonPoolAllocValueError) for one below 1, and
        DragonPoolAllocationNotAvailable when the pool has no room."""
        self._local("Could not perform allocation")
        self._check_size(size)
        self._check_alloc_type(alloc_type)
        return self._alloc(MemoryAlloc, size, 0)

    def alloc_blocking(self, size, timeout=None, alloc_type=None):
        """A new allocation, waiting up to timeout seconds (None: for ever)
        for room.  A wait that expires raises TimeoutError (a
        DragonPoolAllocTimeout); timeout 0 tries once and raises
        DragonPoolAllocationNotAvailable, as alloc() does.  A negative
        timeout, or one that is not a number, raises ValueError."""
        self._local("Could not perform allocation")
        if timeout is not None:
            if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
                raise ValueError("the timeout must be a float or int")
            if timeout < 0:
                raise ValueError("Cannot provide timeout < 0 to alloc_blocking operation")
        self._check_size(size)
        self._check_alloc_type(alloc_type)
        return self._alloc(MemoryAlloc, size, timeout)

    def _lookup(self, alloc_id):
        if not _is_int(alloc_id):
            raise TypeError("an allocation id must be an int, not %s" % type(alloc_id).__name__)
        if alloc_id < 0 or alloc_id > _U64:
            raise OverflowError("an allocation id is from 0 to 2**64 - 1, not %d" % alloc_id)
        return self._from_id(MemoryAlloc, alloc_id)

    def alloc_from_id(self, id):
        """The allocation with that id (MemoryAlloc.id), in use in this pool.
        DragonPoolError if there is none (never given, or freed since)."""
        self._local("Could not get memory allocation from id.")
        mem = self._lookup(id)
        if mem is None:
            raise DragonPoolError("Could not get memory allocation from id %d." % id,
                                  _dragonipc.ENOENT)
        return mem

    def get_alloc_by_id(self, alloc_type, alloc_id):
        """Dragon's older form of alloc_from_id (alloc_type is checked)."""
        self._local("Could not retrieve memory descriptor of provided ID and Type")
        if not isinstance(alloc_type, AllocType):
            raise DragonMemoryError(_dragonipc.EINVAL, "alloc_type must be an AllocType")
        return self.alloc_from_id(alloc_id)

    def allocation_exists(self, *args):
        """allocation_exists(id) or, as in older Dragon,
        allocation_exists(alloc_type, id): True if an allocation in use has
        that id."""
        self._local("Error checking allocation existence")
        if len(args) == 1:
            alloc_id = args[0]
        elif len(args) == 2:
            if not isinstance(args[0], AllocType):
                raise DragonMemoryError(_dragonipc.EINVAL, "alloc_type must be an AllocType")
            alloc_id = args[1]
        else:
            raise TypeError("allocation_exists(id) or allocation_exists(alloc_type, id)")
        mem = self._lookup(alloc_id)
        if mem is None:
            return False
        if len(args) == 2 and self._type_of(mem) is not args[0]:
            mem._detach()
            return False
        mem._detach()
        return True

    def _type_of(self, mem):
        want = mem._id()
        for i, _size, kind in self._blocks():
            if i == want:
                return _KIND_TO_TYPE.get(kind)
        return None

    def get_allocations(self, alloc_type=None):
        """The allocations in use, in address order, as MemoryAllocations
        (channels included, as AllocType.CHANNEL), or only those of
        alloc_type."""
        self._local("Could not retrieve allocation list from pool")
        self._check_alloc_type(alloc_type)
        entries = []
        for alloc_id, _size, kind in self._blocks():
            t = _KIND_TO_TYPE.get(kind)
            if t is not None and (alloc_type is None or t is alloc_type):
                entries.append((alloc_id, t))
        return MemoryAllocations(entries)

    @property
    def free_blocks(self):
        """{block size: number of free runs of at least that size and less
        than twice it}, for every power of two from 64 to the pool's size."""
        self._local("Could not retrieve the pool's free blocks.")
        total = self.size
        sizes = []
        b = 64
        while b <= max(total, 64):
            sizes.append(b)
            b <<= 1
        counts = dict.fromkeys(sizes, 0)
        for _i, size, kind in self._blocks():
            if kind == _dragonipc.BLOCK_FREE and size >= 64:
                cls = 1 << (size.bit_length() - 1)
                if cls in counts:
                    counts[cls] += 1
                else:
                    counts[sizes[-1]] += 1
        return counts

    @property
    def num_block_sizes(self):
        """The number of keys of free_blocks."""
        return len(self.free_blocks)

    # ---- properties ---------------------------------------------------------------

    @property
    def muid(self):
        """The pool's uid, as its creator gave it."""
        return getattr(self, "_muid", 0)

    @muid.setter
    def muid(self, value):
        self._muid = value

    @property
    def name(self):
        """The pool's name (None for a pool attached by descriptor)."""
        return getattr(self, "_name", None)

    @property
    def is_attached(self):
        """True while this object may be used (not detached or destroyed)."""
        if self._remote_ser() is not None:
            return getattr(self, "_remote_attached", False)
        return _dragonipc.Pool.is_attached.__get__(self)

    def _stat(self, i, what):
        self._local(what)
        return self._stats()[i]

    @property
    def size(self):
        """Bytes the pool holds for allocations (headers included)."""
        return self._stat(0, "Could not retrieve the pool's total size.")

    @property
    def free_space(self):
        """Bytes free now."""
        return self._stat(1, "Could not retrieve the pool's free space.")

    @property
    def largest_free(self):
        """The largest allocation that would succeed now."""
        return self._stat(2, "Could not retrieve the pool's free space.")

    @property
    def num_allocs(self):
        """Allocations in use, channels included."""
        return self._stat(3, "Could not retrieve the pool's allocations.")

    @property
    def current_allocations(self):
        """Allocations in use, channels included (as num_allocs)."""
        return self._stat(3, "Could not retrieve the pool's attributes.")

    @property
    def num_channels(self):
        """Channels in the pool."""
        return self._stat(4, "Could not retrieve the pool's channels.")

    @property
    def max_allocations(self):
        """The bound on allocations in use given at creation (0: none)."""
        self._local("Could not retrieve the pool's attributes.")
        return self._get_attr()[3]

    @property
    def utilization(self):
        """Percentage of the pool in use."""
        self._local("Could not retrieve the pool's percent utilized space.")
        total, free = self._stats()[:2]
        return 100.0 * (total - free) / total if total else 0.0

    @property
    def is_local(self):
        """True unless the object was attached from another host's descriptor."""
        return self._remote_ser() is None

    @property
    def rt_uid(self):
        """Dragon's runtime id; there is no runtime here: always 0."""
        return 0

    def alloc_message(self, nbytes, timeout=0):
        """A channels.Message of nbytes from this pool (see Message.create_alloc)."""
        from .channels import Message
        return Message.create_alloc(self, nbytes, timeout=timeout)

    def __repr__(self):
        if self._remote_ser() is not None:
            state = "remote"
        else:
            state = "attached" if self.is_attached else (
                "destroyed" if self.is_destroyed else "detached")
        return "<MemoryPool %s muid=%s %s>" % (self.name or "(by descriptor)", self.muid, state)


def _unpickle_pool(ser, muid=None):
    pool = MemoryPool.attach(ser)
    if muid is not None and not pool.is_local:
        pool.muid = muid
    return pool


def _uid_of_c_desc(cdesc):
    """The uid of the pool a library descriptor names (attached for a moment);
    0 if it cannot be attached."""
    probe = MemoryPool.__new__(MemoryPool)
    try:
        probe._attach(cdesc)
    except DragonMemoryError:
        return 0
    try:
        return probe._get_attr()[2]
    finally:
        _dragonipc.Pool.detach(probe)


def _pool_uid_fname_of_c_desc(cdesc):
    """(uid, file name) of the pool a library pool descriptor names: for
    Channel.serialized_pool_uid_fname."""
    return (_uid_of_c_desc(cdesc), _SEGMENT_PREFIX + _c_desc_segment(cdesc))


def _pool_for(pool_ser):
    """The pool of a pool descriptor, attached once per process (or remote)."""
    muid, cdesc = _split_pool_ser(pool_ser)
    pool = _attached.get(cdesc)
    if pool is not None and pool.is_attached:
        return pool
    return MemoryPool.attach(pool_ser)


class MemoryAlloc(_dragonipc.Alloc):
    """An allocation in a pool (Dragon's MemoryAlloc).

    Made by MemoryPool.alloc, alloc_blocking and alloc_from_id,
    MemoryAlloc.attach and clone, or by unpickling.  The object is a handle:
    collecting it never frees the memory; free() does, for everybody, at
    once (as in Dragon).  get_memview() gives a writable memoryview of the
    bytes without a copy; a view keeps the pool mapped, so it never faults,
    but after free() its bytes are the next user's, and writing through it
    is the program's bug, as in Dragon.
    """

    # ---- descriptors --------------------------------------------------------------

    @classmethod
    def attach(cls, ser_bytes):
        """Attach to a serialized allocation (from serialize(), any process).

        The pool is attached too when this process has not attached it.
        Raises TypeError for something that is not bytes-like (a
        DragonMemoryTypeError, also a TypeError, for bytes that are not an
        allocation's descriptor or name memory that was freed).  A
        descriptor of another host's memory gives a remote object: it can
        be serialized, pickled and cloned; its memory cannot be used here.
        """
        ser = _as_bytes(ser_bytes, "ser_bytes")
        parts = _split_mem_ser(ser)
        pool = _pool_for(parts[0])
        if not pool.is_local:
            return _remote_alloc(cls, ser, parts[1])
        return pool._mem_attach(cls, parts[3])._narrow(parts[2], parts[1])

    def _narrow(self, offset, size):
        if offset == 0 and size == self._size:
            return self
        try:
            return self._clone(offset, size)
        except DragonMemoryError as e:
            raise DragonMemoryTypeError("the descriptor names a range outside its allocation",
                                        e.lib_err) from None
        finally:
            self._detach()

    def serialize(self):
        """A descriptor other processes can attach with MemoryAlloc.attach()."""
        if self._remote is not None:
            return self._remote
        if not self._attached:
            raise DragonMemoryValueError("Could not serialize memory: not attached")
        pool_ser = self._pool().serialize()
        return (struct.pack("<Q", len(pool_ser)) + pool_ser
                + struct.pack("<QQ", self._size, 0) + self._cdesc())

    def __reduce__(self):
        return (_attach_alloc, (self.serialize(),))

    # ---- use ----------------------------------------------------------------------

    def get_memview(self):
        """A writable memoryview of the allocation's bytes, without a copy.
        DragonMemoryError once detached or freed, or for a remote one."""
        if self._remote is not None:
            raise DragonMemoryError(_dragonipc.EFOREIGN,
                                    "Could not get memory pointer: the memory is on another host")
        return self._memview()

    def free(self):
        """Return the allocation to its pool, for everybody, at once.
        DragonMemoryError if it was freed or detached already, or is
        remote."""
        if self._remote is not None:
            raise DragonMemoryError(_dragonipc.EFOREIGN,
                                    "could not free allocation: the memory is on another host")
        self._free()

    def detach(self):
        """Let go of this handle; the allocation lives on."""
        if self._remote is not None:
            self._remote_attached = False
            return
        self._detach()

    def clone(self, offset=0, length=None):
        """A MemoryAlloc of [offset, offset + length) of this one (length
        None: to the end).  TypeError for non-ints, RuntimeError for
        negative ones, DragonPoolError for a range past the end."""
        if not _is_int(offset):
            raise TypeError("Allocation offset must be int, got type %s" % type(offset).__name__)
        if offset < 0:
            raise DragonPoolAllocValueError("Offset cannot be less than 0 for memory allocations")
        if length is not None:
            if not _is_int(length):
                raise TypeError("Allocation custom length must be int, got type %s"
                                % type(length).__name__)
            if length < 0:
                raise DragonPoolAllocValueError(
                    "Length cannot be less than 0 for memory allocations")
        if self._remote is not None:
            size = self._remote_size
            if offset > size or (length is not None and length > size - offset):
                raise DragonPoolError("Could not clone allocation: the range is past its end",
                                      _dragonipc.EINVAL)
            if length is None:
                length = size - offset
            return _remote_clone(self, offset, length)
        return self._clone(offset, length)

    def copy(self, pool, timeout=None):
        """A new allocation in pool (waiting up to timeout seconds for room)
        holding a copy of these bytes."""
        if not isinstance(pool, MemoryPool):
            raise TypeError("pool must be a MemoryPool")
        try:
            dst = pool.alloc_blocking(self.size, timeout)
        except DragonPoolError as e:
            raise DragonMemoryError(e.lib_err, "Could not copy memory: %s" % e.msg) from None
        src = self.get_memview()
        view = dst.get_memview()
        view[:] = src
        view.release()
        src.release()
        return dst

    def clear(self, start=0, stop=None):
        """Set bytes [start, stop) to zero (stop None or past the end: to the end)."""
        if self._remote is not None:
            raise DragonMemoryError(_dragonipc.EFOREIGN, "could not clear memory allocation.")
        if not self._attached:
            raise DragonMemoryValueError("could not clear memory allocation: not attached")
        self._clear(start, _U64 if stop is None else stop)

    # ---- properties and comparison ------------------------------------------------------

    @property
    def _remote(self):
        return self.__dict__.get("_remote_ser")

    @property
    def size(self):
        """Bytes in this allocation (or in this clone's range)."""
        if self._remote is not None:
            return self._remote_size
        return self._size

    @property
    def id(self):
        """The allocation's id: the same in every process and for every
        clone of it; MemoryPool.alloc_from_id finds it by this id."""
        if self._remote is not None:
            raise DragonMemoryError(_dragonipc.EFOREIGN,
                                    "Could not retrieve the id: the memory is on another host")
        return self._id()

    @property
    def pool(self):
        """The MemoryPool the allocation lives in."""
        if self._remote is not None:
            return self._remote_pool
        return self._pool()

    def _key(self):
        if self._remote is not None:
            return self._remote
        return self._cdesc()

    def __eq__(self, other):
        if not isinstance(other, MemoryAlloc):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self._key())

    def is_the_same_as(self, other):
        """True if other is a handle on the same allocation (any range of it)."""
        if not isinstance(other, MemoryAlloc):
            raise DragonMemoryError(_dragonipc.EINVAL,
                                    "Cannot compare MemoryAlloc with value of different type.")
        if self._remote is not None or other._remote is not None:
            return self._key() == other._key()
        return (self._pool().serialize()[8:] == other._pool().serialize()[8:]
                and self._id() == other._id())

    def __repr__(self):
        if self._remote is not None:
            return "<MemoryAlloc remote, %d bytes>" % self._remote_size
        if not self._attached:
            return "<MemoryAlloc not attached>"
        return "<MemoryAlloc %d bytes>" % self._size


def _split_mem_ser(ser):
    """(pool descriptor, size, offset, library memory descriptor) of an
    allocation's descriptor; DragonMemoryTypeError if it is not one."""
    bad = DragonMemoryTypeError("Could not attach to memory: not a memory descriptor",
                                _dragonipc.EINVAL)
    if len(ser) < 8:
        raise bad
    n = struct.unpack_from("<Q", ser)[0]
    if n < 24 or n > len(ser) - 8 - 16 - 8:
        raise bad
    pool_ser = ser[8:8 + n]
    size, offset = struct.unpack_from("<QQ", ser, 8 + n)
    cmem = ser[8 + n + 16:]
    if _split_pool_ser(pool_ser)[0] is None:
        raise bad
    return pool_ser, size, offset, cmem


def _remote_alloc(cls, ser, size):
    mem = cls.__new__(cls)
    mem.__dict__["_remote_ser"] = bytes(ser)
    mem._remote_size = size
    mem._remote_attached = True
    mem._remote_pool = _pool_for(_split_mem_ser(ser)[0])
    return mem


def _remote_clone(mem, offset, length):
    pool_ser, _size, base, cmem = _split_mem_ser(mem._remote)
    ser = (struct.pack("<Q", len(pool_ser)) + pool_ser
           + struct.pack("<QQ", length, base + offset) + cmem)
    return _remote_alloc(type(mem), ser, length)


def _attach_alloc(ser):
    return MemoryAlloc.attach(ser)


def default_pool():
    """The pool Message.create_alloc(nbytes) allocates from.

    The pool given to set_default_pool(), if it is still attached; else
    the pool this process most recently created or attached that is still
    attached.  DragonPoolError if there is none.
    """
    if _default is not None:
        pool = _default()
        if pool is not None and pool.is_attached and pool.is_local:
            return pool
    for ref in reversed(_recent):
        pool = ref()
        if pool is not None and pool.is_attached and pool.is_local:
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
