#!/bin/bash
# Import of a large generated Maildir into a fresh store: time and memory.
#
#   bench/import-maildir.sh [N] [MAILDIR]      # default 200000, /tmp/bench-maildir-N
#   BACKEND=postgres bench/import-maildir.sh   # the store in a private PostgreSQL cluster
#
# The Maildir is made once (and kept) from bench/gen-corpus.py's realistic
# mail, split by bench/mbox-to-maildir.py into INBOX and four folders with
# flags and keywords. `mailroom import` runs under /usr/bin/time: its own
# summary says how long the import took (the mail delivered, visible to
# every client) and how long the search indexing after it; time's figures
# are the whole command's wall time and peak resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-200000}
SRC=${2:-/tmp/bench-maildir-$N}
WORK=${WORK:-/tmp/bench-import}
if [ ! -d "$SRC/cur" ]; then
  echo "making $SRC ($N messages)…" >&2
  python3 bench/gen-corpus.py -n "$N" | python3 bench/mbox-to-maildir.py "$SRC"
fi
rm -rf "$WORK"
mkdir -p "$WORK"
go build -o "$WORK/mailroom" ./cmd/mailroom
DSN=""
if [ "${BACKEND:-sqlite}" = postgres ]; then
  start_pg "$WORK"
  DSN=$PG_DSN
fi
{
  echo 'hostname = "localhost"'
  echo "data_dir = \"$WORK/data\""
  echo '[tls]'
  echo 'self_signed = true'
  if [ -n "$DSN" ]; then
    printf '[store]\nbackend = "postgres"\ndsn = "%s"\n' "$DSN"
  fi
  echo '[log]'
  echo 'level = "warn"'
} > "$WORK/mailroom.toml"
MR="$WORK/mailroom"
"$MR" domain add example.test --config "$WORK/mailroom.toml" >/dev/null
echo pass | "$MR" user add u1@example.test --password-stdin --config "$WORK/mailroom.toml" >/dev/null
echo "source: $(find "$SRC" -type f -path '*/cur/*' | wc -l) messages, $(du -sh "$SRC" | cut -f1)"
sync
/usr/bin/time -f "command: %e s wall, %M KiB peak RSS, %U s user, %S s system" \
  "$MR" import u1@example.test "$SRC" --config "$WORK/mailroom.toml" 2>&1 | grep -v '^  '
if [ -n "$DSN" ]; then stop_pg "$WORK"; fi
