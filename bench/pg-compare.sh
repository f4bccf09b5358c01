#!/bin/bash
# Mailroom on SQLite vs Mailroom on PostgreSQL vs Postfix->Dovecot / Dovecot,
# on this machine, in alternating rounds (the order rotates every round).
#
#   bench/pg-compare.sh [ROUNDS] [MESSAGES_PER_SESSION] [IMAPTEST_SECS]
#
# 1. SMTP durable deliveries/s: smtp-compare.sh's load (Postfix's
#    smtp-source, 20 sessions x M messages of 10 KB, to user71..user90),
#    with a new connection per message and with connection reuse. Mailroom
#    answers 250 once the message is durable in the INBOX; Postfix's rate
#    is end-to-end (Dovecot's INBOXes polled until all arrived).
# 2. imaptest stress (imaptest-compare.sh's settings: 10 and 50 clients,
#    LOGIN..LOGOUT every cycle and persistent; SETTINGS overrides, e.g.
#    SETTINGS="10 persistent").
#
# Durability is the same on both Mailroom backends: SQLite runs with
# synchronous=FULL; the PostgreSQL cluster (a private one, initdb'd in a
# temporary directory, a Unix socket only, stopped at the end) has fsync,
# synchronous_commit and full_page_writes on. PostgreSQL, both Mailrooms,
# the peers and the load generators share this machine's cores.
# Needs PostgreSQL (apt-get install postgresql) and the peers
# (../shared/peers/install-deps.sh); imaptest from scripts/build-imaptest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; M="${2:-250}"; SECS="${3:-20}"; S=20; SIZE=10240
SETTINGS="${SETTINGS:-10 login,10 persistent,50 login,50 persistent}"
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
IMAPTEST="${IMAPTEST:-$PWD/bin/imaptest/imaptest}"
[ -x "$IMAPTEST" ] || ./scripts/build-imaptest.sh "$(dirname "$IMAPTEST")" >/dev/null
WORK=$(mktemp -d /tmp/mailroom-pgcmp.XXXXXX)
SQ_PID=""; PGM_PID=""
NXDNS_PID=""
source bench/lib.sh
cleanup() {
  [ -n "$NXDNS_PID" ] && kill "$NXDNS_PID" 2>/dev/null || true
  for p in $SQ_PID $PGM_PID; do kill "$p" 2>/dev/null || true; done
  for p in $SQ_PID $PGM_PID; do wait "$p" 2>/dev/null || true; done
  stop_pg
  "$PEERS/down.sh" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_nxdns 11053
EXTRA="[dns]
servers = [\"127.0.0.1:11053\"]
[auth]
allow_insecure = true
[smtp]
max_connections = 5000
max_connections_per_ip = 5000
[imap]
max_connections_per_ip = 5000"
start_pg "$WORK"
start_mailroom "$WORK/sqlite" "smtp=127.0.0.1:11025 imap=127.0.0.1:11143" "$EXTRA"
SQ_PID=$MR_PID; SQ_MR=$MR
start_mailroom "$WORK/postgres" "smtp=127.0.0.1:12025 imap=127.0.0.1:12143" "$EXTRA" "$PG_DSN"
PGM_PID=$MR_PID; PG_MR=$MR
CLEAN=1 "$PEERS/up.sh" >/dev/null
python3 "$PEERS/make-mbox.py" -o "$WORK/bench.mbox" >/dev/null
for a in 127.0.0.1:11025 127.0.0.1:12025 127.0.0.1:11143 127.0.0.1:12143; do wait_port "$a"; done
sleep 1

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$PG_BIN/postgres" --version)"
echo "# SMTP: $S sessions x $M messages of $SIZE B; imaptest: ${SECS}s per run; $ROUNDS rounds, order rotating"
# smtp_run NAME REUSE: one smtp-load run; prints msgs/s.
smtp_run() {
  local out
  case $1 in
  postfix)
    out=$(REUSE=$2 IMAP_PORT=10143 "$PEERS/smtp-load.sh" 127.0.0.1 10025 "$S" "$M" "$SIZE" 2>&1)
    echo "$out" | sed -n 's/^delivery: .* = \([0-9.]*\) msgs\/s end-to-end/\1/p' ;;
  sqlite|postgres)
    local port=11025; [ "$1" = postgres ] && port=12025
    out=$(REUSE=$2 "$PEERS/smtp-load.sh" 127.0.0.1 "$port" "$S" "$M" "$SIZE" 2>&1)
    echo "$out" | sed -n 's/^smtp-load: .* = \([0-9.]*\) msgs\/s.*/\1/p' ;;
  esac
}
# imaptest_run NAME CLIENTS MODE: prints "cmds/s fetch_ms errors".
imaptest_run() {
  local port user extra=()
  case $1 in
  dovecot) port=10143; user='user%d' ;;
  sqlite) port=11143; user='user%d@example.test' ;;
  postgres) port=12143; user='user%d@example.test' ;;
  esac
  [ "$3" = persistent ] && extra=(logout=0)
  "$IMAPTEST" host=127.0.0.1 port="$port" user="$user" users=1-50 pass=pass clients="$2" secs="$SECS" \
    mbox="$WORK/bench.mbox" "${extra[@]}" > "$WORK/out" 2>&1 || true
  # imaptest's state-checking errors, kept for whoever reads the run.
  grep -A2 '^Error:' "$WORK/out" | sed "s/^/#   $1: /" | head -20 >&2 || true
  python3 - "$WORK/out" "$SECS" <<'PY'
import sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
errors = sum(1 for l in lines if l.startswith("Error:"))
i = max(i for i, l in enumerate(lines) if l.startswith("Totals:"))
names = lines[i + 1].split()
counts = [int(x) for x in lines[i + 4].split()[:len(names)]]
avg = [l for l in lines if l.endswith("ms/cmd avg")]
fetch = float(avg[-1].split()[names.index("Fetc")]) if avg else float("nan")
print(f"{sum(counts) / float(sys.argv[2]):.0f} {fetch:.0f} {errors}")
PY
}
rotate() { # ROUND WORDS…: the words rotated by ROUND
  local r=$1; shift; local a=("$@") n=$# i
  for i in $(seq 0 $((n - 1))); do printf '%s ' "${a[$(((i + r) % n))]}"; done
}
declare -A res
for r in $(seq 1 "$ROUNDS"); do
  for reuse in 0 1; do
    for srv in $(rotate "$r" postfix sqlite postgres); do
      v=$(smtp_run "$srv" "$reuse")
      echo "round $r  smtp reuse=$reuse  $srv: $v msgs/s"
      res["smtp $reuse $srv"]+="$v "
    done
  done
  IFS=, read -ra sets <<<"$SETTINGS"
  for setting in "${sets[@]}"; do
    set -- $setting
    for srv in $(rotate "$r" dovecot sqlite postgres); do
      read -r cps fetch errs <<<"$(imaptest_run "$srv" "$1" "$2")"
      echo "round $r  imaptest clients=$1 $2  $srv: $cps commands/s, FETCH ${fetch} ms/cmd avg, $errs Error: lines"
      res["imap $1 $2 $srv"]+="$cps "
    done
  done
done
# Check: every message either Mailroom accepted is in its recipient's INBOX.
WANT=$((ROUNDS * 2 * S * M))
for b in sqlite postgres; do
  bin=$SQ_MR; [ $b = postgres ] && bin=$PG_MR
  got=0
  for i in $(seq 71 90); do
    n=$("$bin" mailbox list "user$i@example.test" --config "$WORK/$b/mailroom.toml" | awk '$1 == "INBOX" {print $2}')
    got=$((got + n))
  done
  echo "# Mailroom on $b: INBOXes hold $got of $WANT accepted messages"
  [ "$got" = "$WANT" ] || { echo "MISMATCH"; exit 1; }
done
echo "# medians of the rounds; ratios against Postfix->Dovecot / Dovecot and PostgreSQL against SQLite"
summary() { # LABEL REF SQLITE POSTGRES UNIT
  python3 - "$@" <<'PY'
import statistics as st, sys
label, unit = sys.argv[1], sys.argv[5]
ref, sq, pg = (st.median([float(x) for x in a.split()]) for a in sys.argv[2:5])
print(f"{label}: reference {ref:.0f}, SQLite {sq:.0f} ({sq/ref:.2f}x), PostgreSQL {pg:.0f} ({pg/ref:.2f}x) {unit}; "
      f"PostgreSQL/SQLite {pg/sq:.2f}x")
PY
}
summary "SMTP new connection per message (Postfix->Dovecot end-to-end)" "${res["smtp 0 postfix"]}" "${res["smtp 0 sqlite"]}" "${res["smtp 0 postgres"]}" "msgs/s"
summary "SMTP connection reuse (Postfix->Dovecot end-to-end)" "${res["smtp 1 postfix"]}" "${res["smtp 1 sqlite"]}" "${res["smtp 1 postgres"]}" "msgs/s"
IFS=, read -ra sets <<<"$SETTINGS"
for setting in "${sets[@]}"; do
  summary "imaptest clients=$setting (Dovecot)" "${res["imap $setting dovecot"]}" "${res["imap $setting sqlite"]}" "${res["imap $setting postgres"]}" "commands/s"
done
