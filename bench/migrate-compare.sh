#!/bin/bash
# Live migration from another IMAP server: `mailroom migrate` vs mbsync
# (Debian's isync, the anchor), both copying the same Dovecot account into
# a running Mailroom, on this machine, in alternating rounds.
#
#   bench/migrate-compare.sh [ROUNDS] [MESSAGES]
#
# The source is the rig's Dovecot (../shared/peers/dovecot, IMAPS on
# 127.0.0.1:10993), account user95: MESSAGES (default 20,000) messages
# written into its Maildir — a sample of 2,000 realistic messages from
# ../shared/peers/make-mbox.py (1 KB .. 200 KB, MIME of every kind;
# SAMPLE=FILE reuses one), each copy given its own Message-ID — spread over
# INBOX (60%), Sent, Archive and Lists/go and Lists/pg, with \Seen,
# \Answered, \Flagged and a keyword on some. Dovecot indexes it once and
# the files are read once before the first round (both tools then find
# them in the page cache).
#
# Each round copies the account into a fresh Mailroom account twice:
#   mailroom   mailroom migrate userN@example.test --from imaps://user95@127.0.0.1:10993
#              (4 connections, the default), straight into the store while
#              serve runs
#   mbsync     Far = Dovecot, Near = Mailroom over IMAPS, Sync Pull,
#              Create Near, CopyArrivalDate yes (keeps internal dates)
# The order alternates per round. Both are timed wall-clock; the peak RSS
# of `mailroom migrate` is reported (GNU time), and each copy's message
# count is checked against the source.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-2}"; N="${2:-20000}"
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
SRC_USER=user95
WORK=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
trap 'kill $MR_PID 2>/dev/null || true; "$PEERS/dovecot/stop.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

source bench/lib.sh
"$PEERS/dovecot/start.sh" >/dev/null
MAILDIR=/tmp/rig-dovecot/mail/$SRC_USER
rm -rf "$MAILDIR" /tmp/rig-dovecot/home/$SRC_USER
SAMPLE="${SAMPLE:-}"
if [ -z "$SAMPLE" ]; then
  SAMPLE="$WORK/sample.mbox"
  python3 "$PEERS/make-mbox.py" -n 2000 -s 7 -o "$SAMPLE" >/dev/null
fi
python3 - "$SAMPLE" "$MAILDIR" "$N" <<'PY'
import mailbox, os, sys, random
sample, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
msgs = [m.as_bytes().replace(b"\n", b"\r\n") for m in mailbox.mbox(sample)]
folders = [""] * 12 + [".Sent"] * 3 + [".Archive"] * 2 + [".Lists.go", ".Lists.pg", ".Lists.go"]
for f in set(folders) | {".Drafts", ".Junk", ".Trash"}:
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, f, d), exist_ok=True)
rnd = random.Random(1)
for i in range(n):
    raw = msgs[i % len(msgs)]
    # Every copy its own Message-ID: no two messages are the same.
    raw = b"X-Bench-Copy: %d\r\n" % i + raw.replace(b"Message-ID: <", b"Message-ID: <c%d." % i, 1)
    flags = "".join(f for f, p in (("F", .05), ("R", .2), ("S", .7)) if rnd.random() < p)
    kw = "a" if rnd.random() < .1 else ""
    folder = folders[rnd.randrange(len(folders))]
    name = "%d.M%dP1.bench,S=%d:2,%s%s" % (1600000000 + i, i, len(raw), flags, kw)
    with open(os.path.join(root, folder, "cur", name), "wb") as fh:
        fh.write(raw)
    os.utime(os.path.join(root, folder, "cur", name), (1600000000 + i * 60,) * 2)
with open(os.path.join(root, "dovecot-keywords"), "w") as fh:
    fh.write("0 $Important\n")
with open(os.path.join(root, "subscriptions"), "w") as fh:
    fh.write("Sent\nArchive\nLists/go\nLists/pg\nDrafts\nJunk\nTrash\n")
PY
chown -R rigmail:rigmail "$MAILDIR"
BYTES=$(du -sb "$MAILDIR" | cut -f1)

start_mailroom "$WORK" "imaps=127.0.0.1:11993"
wait_port 127.0.0.1:11993
openssl s_client -connect 127.0.0.1:11993 </dev/null 2>/dev/null | openssl x509 > "$WORK/mailroom.crt"

# Dovecot indexes the Maildir on its first SELECT; the files go into the
# page cache: neither tool pays for that in a round.
python3 - <<'PY'
import imaplib, ssl
c = imaplib.IMAP4_SSL("127.0.0.1", 10993, ssl_context=ssl._create_unverified_context())
c.login("user95", "pass")
for line in c.list()[1]:
    name = line.decode().split(' "/" ')[-1]
    typ, data = c.select(name, readonly=True)
    if typ == "OK" and int(data[0]) > 0:
        c.fetch("1:*", "(FLAGS RFC822.SIZE)")
c.logout()
PY
cat "$MAILDIR"/cur/* "$MAILDIR"/.*/cur/* > /dev/null

count() { # EMAIL: messages in the account, over all folders
  "$MR" mailbox list "$1" --config "$WORK/mailroom.toml" | awk 'NR > 1 && $2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }'
}
echo pass > "$WORK/pw"
run_mailroom() { # N
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$MR" migrate "user$1@example.test" --from "imaps://$SRC_USER@127.0.0.1:10993" \
    --password-file "$WORK/pw" --insecure-tls --config "$WORK/mailroom.toml" > "$WORK/migrate.out"
  t1=$(date +%s.%N)
  echo "mailroom migrate: $(tail -1 "$WORK/migrate.out"); peak RSS $(( $(cat "$WORK/rss") / 1024 )) MB; $(count "user$1@example.test") messages here" >&2
  echo "$t1 - $t0" | bc
}
run_mbsync() { # N
  local t0 t1
  mkdir -p "$WORK/mbsync$1"
  cat > "$WORK/mbsync$1/rc" <<RC
IMAPAccount far
Host localhost
Port 10993
User $SRC_USER
Pass pass
SSLType IMAPS
CertificateFile /tmp/rig-dovecot/ssl/cert.pem

IMAPStore far
Account far

IMAPAccount near
Host localhost
Port 11993
User user$1@example.test
Pass pass
SSLType IMAPS
CertificateFile $WORK/mailroom.crt

IMAPStore near
Account near

Channel c
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
CopyArrivalDate yes
SyncState $WORK/mbsync$1/
RC
  t0=$(date +%s.%N)
  mbsync -q -c "$WORK/mbsync$1/rc" c >&2
  t1=$(date +%s.%N)
  echo "mbsync: $(count "user$1@example.test") messages here" >&2
  echo "$t1 - $t0" | bc
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $N messages, $((BYTES / 1048576)) MiB in Dovecot's Maildir ($SRC_USER), $ROUNDS alternating rounds"
M=""; S=""
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    M="$M $(run_mailroom "$r")"; S="$S $(run_mbsync $((50 + r)))"
  else
    S="$S $(run_mbsync $((50 + r)))"; M="$M $(run_mailroom "$r")"
  fi
  echo "round $r: mailroom ${M##* } s, mbsync ${S##* } s" >&2
done
python3 - "$M" "$S" "$N" <<'PY'
import sys, statistics as st
m, s, n = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()], int(sys.argv[3])
mm, sm = st.median(m), st.median(s)
print(f"mailroom migrate: median {mm:.1f} s ({n / mm:.0f} msg/s), runs {' '.join(f'{x:.1f}' for x in m)}")
print(f"mbsync:           median {sm:.1f} s ({n / sm:.0f} msg/s), runs {' '.join(f'{x:.1f}' for x in s)}")
print(f"mailroom migrate is {sm / mm:.2f}x as fast as mbsync")
PY
