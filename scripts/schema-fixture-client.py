#!/usr/bin/env python3
"""Fills an old Mailroom with mail and writes what its IMAP server shows.

Used by make-schema-fixtures.sh: the server is the binary of an earlier
release, so everything here must work with the oldest one (plain SMTP,
IMAP4rev1 without extensions). A step the old version refuses (a keyword,
submission to another domain before the queue existed) is skipped, not an
error: the manifest records what the old server actually holds, and that
is what the upgrade test compares with today's server.

The first versions had no IMAP (version 2: SMTP and POP3) or no protocol
at all (version 1): what a version does not listen on is skipped, and its
manifest lists the messages as POP3 shows them, or only the accounts.

usage: schema-fixture-client.py fill SMTP_PORT SUBMISSION_PORT IMAP_PORT
       schema-fixture-client.py manifest IMAP_PORT POP3_PORT OUT_FILE
       schema-fixture-client.py count-migrations < schema.go
       schema-fixture-client.py sqlite-version DB_FILE
"""
import hashlib
import imaplib
import poplib
import re
import smtplib
import sys
import time

HOST = "127.0.0.1"
USERS = {"alice@example.org": "alice-secret-1", "bob@example.org": "bob-secret-22"}


def message(n, to, subject, body, sender=None):
    sender = sender or f"sender{n}@example.com"
    return (
        f"From: Sender {n} <{sender}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, {n:02d} Jan 2024 10:00:00 +0000\r\n"
        f"Message-ID: <fixture-{n}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


def fill(smtp_port, sub_port, imap_port):
    if not is_open(smtp_port):
        print("no SMTP listener: no mail", file=sys.stderr)
        return
    with smtplib.SMTP(HOST, smtp_port, timeout=60) as s:
        s.ehlo("client.example.com")
        for n, rcpt, subj in [
            (1, "alice@example.org", "First message"),
            (2, "alice@example.org", "Zweite Nachricht, grüße"),
            (3, "info@example.org", "Through the alias"),
            (4, "alice@example.org", "To be expunged"),
            (5, "bob@example.org", "For bob"),
        ]:
            body = f"Body of message {n}.\r\nLine two: ünïcödé.\r\n" + ("filler line\r\n" * n * 20)
            s.sendmail(f"sender{n}@example.com", [rcpt], message(n, rcpt, subj, body))
    # Mail for another domain waits in the queue (the DNS server in the
    # configuration answers nothing). Versions without a queue refuse it.
    try:
        if not is_open(sub_port):
            raise OSError("no submission listener")
        with smtplib.SMTP(HOST, sub_port, timeout=60) as s:
            s.ehlo("client.example.com")
            s.login("alice@example.org", USERS["alice@example.org"])
            s.sendmail("alice@example.org", ["friend@example.net"],
                       message(6, "friend@example.net", "Queued", "This one waits in the queue.",
                               sender="alice@example.org"))
    except (smtplib.SMTPException, OSError) as e:
        print(f"queued message skipped: {e}", file=sys.stderr)

    if not is_open(imap_port):
        print("no IMAP listener: no folders or flags", file=sys.stderr)
        return
    # Let a background indexer index the delivered mail (the server is
    # idle now); what comes next stays waiting for the index.
    time.sleep(5)
    m = imaplib.IMAP4(HOST, imap_port)
    m.login("alice@example.org", USERS["alice@example.org"])
    typ, data = m.create("Archive")  # newer versions make it with the account
    if typ != "OK" and b"ALREADYEXISTS" not in data[0]:
        raise RuntimeError(f"CREATE Archive: {typ} {data}")
    check(m.append("Archive", r"(\Seen \Answered)", imaplib.Time2Internaldate(1700000000),
                   message(7, "alice@example.org", "Appended", "Appended to Archive.")))
    check(m.select("INBOX"))
    check(m.store("1", "+FLAGS", r"(\Seen \Flagged)"))
    try:
        check(m.store("2", "+FLAGS", "($Important)"))
    except (imaplib.IMAP4.error, RuntimeError) as e:
        print(f"keyword skipped: {e}", file=sys.stderr)
    check(m.store("4", "+FLAGS", r"(\Deleted)"))
    check(m.expunge())
    m.logout()


def check(res):
    typ, data = res
    if typ != "OK":
        raise RuntimeError(f"{typ} {data}")
    return data


def manifest(imap_port, pop3_port, out):
    lines = []
    for user, password in USERS.items():
        lines.append(f"account {user} {password}")
        if not is_open(imap_port):
            if is_open(pop3_port):
                lines += pop3_manifest(pop3_port, user, password)
            continue
        m = imaplib.IMAP4(HOST, imap_port)
        m.login(user, password)
        condstore = "CONDSTORE" in m.capabilities
        if condstore and "ENABLE" in m.capabilities:
            check(m._simple_command("ENABLE", "CONDSTORE"))
        names = []
        for item in check(m.list()):
            # (\HasNoChildren) "/" INBOX  or  ... "/" "Name with space"
            mm = re.match(rb'\((?P<attrs>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.*)$', item)
            if mm and b"\\Noselect" not in mm.group("attrs"):
                names.append(mm.group("name").decode().strip('"'))
        for name in sorted(names):
            typ, _ = m.select(f'"{name}"', readonly=True)
            if typ != "OK":
                continue
            uidvalidity = m.response("UIDVALIDITY")[1][0].decode()
            uidnext = m.response("UIDNEXT")[1][0].decode()
            line = f"mailbox {user} {name} uidvalidity={uidvalidity} uidnext={uidnext}"
            hms = m.response("HIGHESTMODSEQ")[1]
            if condstore and hms and hms[0]:
                line += f" highestmodseq={hms[0].decode()}"
            lines.append(line)
            items = "(UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)" if condstore else "(UID FLAGS RFC822.SIZE INTERNALDATE)"
            data = check(m.uid("FETCH", "1:*", items))
            for item in data:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                uid = re.search(r"UID (\d+)", text).group(1)
                size = re.search(r"RFC822\.SIZE (\d+)", text).group(1)
                idate = re.search(r'INTERNALDATE "([^"]+)"', text).group(1)
                flags = re.search(r"FLAGS \(([^)]*)\)", text).group(1).split()
                flags = sorted(f for f in flags if f != "\\Recent")
                body = check(m.uid("FETCH", uid, "(BODY.PEEK[])"))
                raw = next(x[1] for x in body if isinstance(x, tuple))
                digest = hashlib.sha256(raw).hexdigest()
                line = (f"message {user} {name} uid={uid} size={size} sha256={digest} "
                        f"internaldate={idate.replace(' ', '_')} flags={','.join(flags)}")
                if condstore:
                    line += " modseq=" + re.search(r"MODSEQ \((\d+)\)", text).group(1)
                lines.append(line)
        m.logout()
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def count_migrations(src):
    """The number of entries of schema.go's `var migrations = []string{…}`:
    the commas at the literal's top level, outside strings and comments
    (entries are raw strings, some concatenated with constants)."""
    start = "var migrations = []string{"
    i = src.find(start)
    if i < 0:
        return 0
    i += len(start)
    depth, n, pending = 0, 0, False
    while i < len(src):
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            continue
        if c == "`":
            i = src.find("`", i + 1) + 1
            pending = True
            continue
        if c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            pending = True
            continue
        if c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return n + (1 if pending else 0)
            depth -= 1
        elif c == "," and depth == 0:
            n += 1
            pending = False
        elif not c.isspace():
            pending = True
        i += 1
    return n


def pop3_manifest(port, user, password):
    """The maildrop as POP3 shows it: each message's UIDL, size and the
    SHA-256 of its bytes (dot-unstuffed, CRLF line ends)."""
    p = poplib.POP3(HOST, port, timeout=60)
    p.user(user)
    p.pass_(password)
    lines = []
    _, listing, _ = p.uidl()
    for item in listing:
        num, uidl = item.decode().split()
        _, msg, _ = p.retr(int(num))
        raw = b"".join(line + b"\r\n" for line in msg)
        lines.append(f"pop3 {user} INBOX uidl={uidl} size={len(raw)} sha256={hashlib.sha256(raw).hexdigest()}")
    p.quit()
    return lines


def is_open(port):
    import socket
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    if sys.argv[1] == "fill":
        fill(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "manifest":
        manifest(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "count-migrations":
        print(count_migrations(sys.stdin.read()))
    elif sys.argv[1] == "sqlite-version":
        import sqlite3
        print(sqlite3.connect(sys.argv[2]).execute("PRAGMA user_version").fetchone()[0])
    else:
        raise SystemExit(__doc__)
