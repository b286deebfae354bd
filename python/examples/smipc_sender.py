"""smipc's blocking sender example, on dragonipc: only the import differs.

It writes 64 random bytes into a 20-byte channel, so the write waits for
the reader and goes through in pieces.  Start smipc_receiver.py before or
after it, in another process.  The channel id may be given as argument.
"""
from dragonipc.smipc import *
import random
import sys


cid = sys.argv[1].encode() if len(sys.argv) > 1 else b'test-chan'
chanSz = 20
dataSz = 64
init_library()
testData = bytes([random.randint(0, 255) for _ in range(dataSz)])
with open_channel(cid, CHAN_W, chanSz) as c:
    c.print_status()
    c.write(testData)
    c.print_status()
print(testData)
clean_library()
