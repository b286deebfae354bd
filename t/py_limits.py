"""DIPC_ELIMIT in Python: a process out of file descriptors gets, from pool
create and attach, channel attach and stream open, the error each call
always raises, in a subclass that is also a LimitError; once descriptors
are free again the same calls work."""

import errno
import os
import pickle

from taplib import ok, is_, raises, diag, skip_all, done_testing, unique

try:
    import resource
except ImportError:
    skip_all("no resource module: RLIMIT_NOFILE is POSIX")

import dragonipc
from dragonipc import _dragonipc, LimitError
from dragonipc.managed_memory import (MemoryPool, DragonPoolCreateFail, DragonPoolAttachFail,
                                      DragonPoolCreateLimit, DragonPoolAttachLimit)
from dragonipc.channels import Channel, ChannelError, ChannelLimitError
from dragonipc import smipc
from dragonipc.smipc import OperationFailedError, SmipcLimitError, CHAN_R, CHAN_W

# ---- the code itself -------------------------------------------------------------
is_(_dragonipc.ELIMIT, -20, "ELIMIT is -20, as in the header")
is_(_dragonipc.errname(_dragonipc.ELIMIT), "DIPC_ELIMIT", "errname knows it")
is_(_dragonipc.strerror(_dragonipc.ELIMIT), "a process or system limit was reached",
    "strerror describes it")
ok(dragonipc.LimitError is LimitError, "LimitError is dragonipc.LimitError")
for cls, base in [(DragonPoolCreateLimit, DragonPoolCreateFail),
                  (DragonPoolAttachLimit, DragonPoolAttachFail),
                  (ChannelLimitError, ChannelError), (SmipcLimitError, OperationFailedError)]:
    e = pickle.loads(pickle.dumps(cls("could not", _dragonipc.ELIMIT)))
    ok(type(e) is cls and isinstance(e, base) and isinstance(e, LimitError)
       and e.lib_err == _dragonipc.ELIMIT,
       "%s is a %s and a LimitError, and pickles" % (cls.__name__, base.__name__))

# ---- out of descriptors ------------------------------------------------------------
pname, sname = unique("pylim"), unique("pylim-s")
pool = MemoryPool(1 << 20, pname, 0)
ch = Channel(pool, 7)
ser = ch.serialize()
reader = smipc.Channel(sname, CHAN_R, 4096).open()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
highest = 0
for fd in range(1024):
    try:
        os.fstat(fd)
        highest = fd
    except OSError:
        pass
low = highest + 64 if soft == resource.RLIM_INFINITY else min(soft, highest + 64)
resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
dups = []
try:
    while len(dups) < 4096:
        try:
            dups.append(os.dup(1))
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise
            break
    diag("%d descriptors taken: EMFILE" % len(dups))

    def limit(base, limit_cls, fn, *args, what):
        e = raises(base, fn, *args, name="%s: raises %s" % (what, base.__name__))
        ok(type(e) is limit_cls and isinstance(e, LimitError)
           and e.lib_err == _dragonipc.ELIMIT,
           "  ... a %s with DIPC_ELIMIT: %s" % (limit_cls.__name__, e))

    limit(DragonPoolCreateFail, DragonPoolCreateLimit, MemoryPool, 1 << 20, unique("pylim-n"),
          0, what="creating a pool")
    limit(DragonPoolAttachFail, DragonPoolAttachLimit, MemoryPool.attach_name, pname,
          what="attaching a pool by name")
    limit(DragonPoolAttachFail, DragonPoolAttachLimit, MemoryPool.attach, pool.serialize(),
          what="attaching a pool by descriptor")
    limit(ChannelError, ChannelLimitError, Channel.attach, ser,
          what="attaching a channel (and so its pool)")
    limit(OperationFailedError, SmipcLimitError, smipc.Channel(sname, CHAN_W, 4096).open,
          what="opening an existing stream")
    limit(OperationFailedError, SmipcLimitError,
          smipc.Channel(unique("pylim-ns"), CHAN_R, 4096).open, what="opening a new stream")
finally:
    for fd in dups:
        os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

# ---- and with room again -------------------------------------------------------------
try:
    p2 = MemoryPool.attach_name(pname)
    ok(p2.is_attached, "with descriptors free, the pool attaches")
    ch2 = Channel.attach(ser)
    ok(ch2 is not None, "and the channel attaches")
    with smipc.Channel(sname, CHAN_W, 4096) as w:
        w.write(b"after")
        buf = smipc.create_string_buffer(5)
        n = reader.read(buf, 5, True, 5.0)
        is_((n, buf.raw), (5, b"after"), "and the stream opens and carries bytes")
    ch2.detach()
    p2.detach()
finally:
    reader.close()
    ch.destroy()
    pool.destroy()
done_testing()
