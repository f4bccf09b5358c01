#!/usr/bin/env python3
"""Writes partial_flush.bin: a raw DEFLATE stream (zlib, wbits=-15) of IMAP
commands, each followed by zlib.Z_PARTIAL_FLUSH as mbsync flushes, and
partial_flush.txt: per command, the stream offset where its flush ended
and the command itself. The stream has no final block: the writer stays
open, as on an IMAP connection. Run from this directory:
python3 gen_partial.py"""
import zlib

commands = [b"a1 SELECT INBOX\r\n", b"a2 UID FETCH 1:* (FLAGS)\r\n"]
commands += [b"a%d UID STORE %d +FLAGS (\\Seen)\r\n" % (i, i) for i in range(3, 40)]
commands += [b"b1 APPEND INBOX {300+}\r\n" + b"x" * 298 + b"\r\n", b"b2 IDLE\r\n", b"DONE\r\n"]
commands += [b"c%d NOOP " % i + bytes(range(32, 127)) * (i % 5) + b"\r\n" for i in range(60)]

out, index = b"", []
for level in (1, 6, 9):
    z = zlib.compressobj(level, zlib.DEFLATED, -15)
    stream = b""
    for c in commands:
        stream += z.compress(c) + z.flush(zlib.Z_PARTIAL_FLUSH)
        index.append((level, len(stream), c))
    with open("partial_flush_%d.bin" % level, "wb") as f:
        f.write(stream)
with open("partial_flush.txt", "wb") as f:
    for level, end, c in index:
        f.write(b"%d %d %s\n" % (level, end, c.hex().encode()))
