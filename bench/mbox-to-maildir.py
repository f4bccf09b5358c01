#!/usr/bin/env python3
"""Split an mboxrd stream (bench/gen-corpus.py's output) into a Maildir++ tree.

    bench/gen-corpus.py -n 200000 | bench/mbox-to-maildir.py DIR

Deterministic like its input: message i goes to INBOX, or every 5th to one of
four folders (.Sent .Archive.2023 .Lists.Dev .Projekte.Entw&APw-rfe); flags
cycle through unread, seen, seen+answered, flagged, seen+forwarded and a
keyword ($Label1 or work, declared in dovecot-keywords); the file's mtime is
the separator line's date. Streams: one message in memory at a time.
"""
import os
import sys
import time
import calendar

FOLDERS = ["", ".Sent", ".Archive.2023", ".Lists.Dev", ".Projekte.Entw&APw-rfe"]
INFOS = ["", "S", "RS", "FS", "PS", "Sa", "Sb", "", "S", "S"]


def main():
    root = sys.argv[1]
    for f in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, f, sub), exist_ok=True)
        with open(os.path.join(root, f, "dovecot-keywords"), "w") as kw:
            kw.write("0 $Label1\n1 work\n")
    src = sys.stdin.buffer
    i = 0
    cur = None
    date = 0

    def flush():
        nonlocal i
        if cur is None:
            return
        folder = FOLDERS[0] if i % 5 else FOLDERS[1 + (i // 5) % 4]
        info = INFOS[i % len(INFOS)]
        path = os.path.join(root, folder, "cur", "%d.M%dP1.bench:2,%s" % (date, i, info))
        body = cur[:-1] if cur and cur[-1] == b"\n" else cur  # the separator's blank line
        with open(path, "wb") as out:
            out.write(b"".join(body))
        os.utime(path, (date, date))
        i += 1

    for line in src:
        if line.startswith(b"From "):
            flush()
            cur = []
            try:
                date = calendar.timegm(time.strptime(" ".join(line.decode().split()[2:7]), "%a %b %d %H:%M:%S %Y"))
            except ValueError:
                date = 0
            continue
        if cur is None:
            continue
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            line = line[1:]
        cur.append(line)
    flush()
    print("%d messages" % i, file=sys.stderr)


main()
