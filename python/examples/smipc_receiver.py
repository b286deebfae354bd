"""smipc's blocking receiver example, on dragonipc: only the import differs.

It reads 64 bytes from the channel in one blocking read, whether the
sender (smipc_sender.py, another process) started before or after it.
The channel id may be given as argument.
"""
from dragonipc.smipc import *
import sys


cid = sys.argv[1].encode() if len(sys.argv) > 1 else b'test-chan'
chanSz = 20
dataSz = 64
init_library()
buf = create_string_buffer(dataSz)
with open_channel(cid, CHAN_R, chanSz) as c:
    c.print_status()
    n = c.read(buf, dataSz, True)
    print('read', n)
    c.print_status()
print(bytes(buf))
clean_library()
