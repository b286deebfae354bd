"""The examples of Dragon's channels page (the seed), run on dragonipc.

Its two slips are fixed: the first snippet's create_alloc without a pool
uses the default pool, and the last line's f-string is terminated.
"""

import contextlib
import io
import re

from taplib import ok, is_, diag, done_testing, unique

from dragonipc.managed_memory import MemoryPool, default_pool
from dragonipc.channels import Channel, ChannelRecvH, ChannelSendH, Message

POOL = unique("example_pool")


def example():
    """The page's example, with only the pool's name made unique."""
    # Create a pool
    mpool = MemoryPool(32678, POOL, 0, None)
    # Create a channel
    ch = Channel(mpool, 1)

    # Open a send handle
    sendh = ch.sendh()
    sendh.open()

    # Open a receive handle
    recvh = ch.recvh()
    recvh.open()

    # Explicitly allocate a message and populate its payload
    msg = Message.create_alloc(mpool, 512)
    msg_view = msg.bytes_memview()
    msg_view[0:5] = b"Hello"

    # Send the message
    sendh.send(msg)

    # Receive a message
    recv_msg = recvh.recv()
    recv_msgview = recv_msg.bytes_memview()

    # Prints "Hello -- Hello"
    print(f"{msg_view[0:5]} -- {recv_msgview[0:5]}")
    return mpool, ch, sendh, recvh, msg, recv_msg, msg_view, recv_msgview


out = io.StringIO()
with contextlib.redirect_stdout(out):
    mpool, ch, send_h, recv_h, msg, recv_msg, msg_view, recv_view = example()
# The page's comment says it prints "Hello -- Hello", but what an f-string
# makes of a memoryview (in Dragon as here) is its repr: check that, and
# the bytes separately.
ok(re.fullmatch(r"<memory at 0x[0-9a-fA-F]+> -- <memory at 0x[0-9a-fA-F]+>\n", out.getvalue()),
   "the example's print shows two memoryviews")
is_(bytes(msg_view[0:5]), b"Hello", "the sent message's view holds Hello")
is_(bytes(recv_view[0:5]), b"Hello", "the received view holds the payload")
is_(recv_msg.size, 512, "the received message has the sent size")
is_(ch.num_msgs, 0, "the channel is empty again")
ok(mpool.size >= 1 << 20, "a 32678-byte pool is rounded up to 1 MiB")

# ---- the first snippet: explicitly managed messages -------------------------
ok(default_pool() is mpool, "the default pool is the one just created")
s_msg = Message.create_alloc(512)
r_msg = Message.create_alloc(512)
s_msg.bytes_memview()[0:3] = b"abc"

# Send to a specific destination
send_h.send(s_msg, r_msg)
ok(r_msg.is_empty, "the destination's allocation travelled (it is empty now)")
# Pull the payload out of the Channel queue (this is essentially a free operation)
recv_h.recv(r_msg)
ok(not r_msg.is_empty, "receiving into the destination gives it the payload")
is_(r_msg.tobytes()[:3], b"abc", "the destination holds the payload")

# Optionally, no destination can be specified on send
send_h.send(s_msg)
# But we can then receive the message into a specific payload
s_msg.bytes_memview()[0:3] = b"xyz"
recv_h.recv(r_msg)
is_(r_msg.tobytes()[:3], b"abc", "a copying send took the payload as it was when sent")
is_(s_msg.tobytes()[:3], b"xyz", "and left the sent message the sender's")

# ---- the send_bytes snippet -------------------------------------------------
x = bytearray(512)
x[0:5] = b"Hello"
# Length determines how big of a message will be allocated and managed by the API
send_h.send_bytes(x, 512)
y = recv_h.recv_bytes()
is_(y, bytes(x), "send_bytes / recv_bytes carry the 512 bytes")

for m in (msg, recv_msg, s_msg, r_msg):
    m.destroy()
send_h.close()
recv_h.close()
ch.destroy()
mpool.destroy()
ok(not mpool.is_attached, "the pool is destroyed")
diag("example output: " + out.getvalue().strip())
done_testing()
