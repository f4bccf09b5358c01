#!/bin/bash
# What a Sieve filter costs a delivery: Mailroom's SMTP throughput with no
# script and with a 50-rule script (bench/sieve-50.sieve) active for every
# recipient, beside Postfix->Dovecot (no filter) on this machine, in
# alternating rounds, with the peers' own load script (Postfix's
# smtp-source).
#
#   bench/sieve-compare.sh [ROUNDS] [MESSAGES_PER_SESSION]
#
# Needs the peers installed and startable (../shared/peers/install-deps.sh).
# Mailroom answers 250 only once a message is durable in the recipient's
# INBOX (after the script ran), so its acceptance rate is its end-to-end
# rate; Postfix's end-to-end rate is measured by polling Dovecot's IMAP
# STATUS until every message arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; M="${2:-250}"; S=20; SIZE=10240
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
PORT=11025
WORK=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
NXDNS_PID=""
trap 'kill $MR_PID $NXDNS_PID 2>/dev/null || true; "$PEERS/down.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

source bench/lib.sh
start_nxdns 11053
start_mailroom "$WORK" "smtp=127.0.0.1:$PORT" "[dns]
servers = [\"127.0.0.1:11053\"]
[smtp]
max_connections = 5000
max_connections_per_ip = 5000"
CLEAN=1 "$PEERS/up.sh" >/dev/null
wait_port "127.0.0.1:$PORT"
# The script, stored (not active) for the 20 recipients (user71..user90).
"$MR" sieve check bench/sieve-50.sieve >/dev/null
for i in $(seq 71 90); do
  "$MR" sieve put "user$i@example.test" rules bench/sieve-50.sieve --config "$WORK/mailroom.toml" >/dev/null
done
scripts() { # on|off
  local i
  for i in $(seq 71 90); do
    if [ "$1" = on ]; then
      "$MR" sieve activate "user$i@example.test" rules --config "$WORK/mailroom.toml" >/dev/null
    else
      "$MR" sieve activate "user$i@example.test" --none --config "$WORK/mailroom.toml" >/dev/null
    fi
  done
  sleep 1 # the serving process hears of the change through the change feed
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $S sessions x $M messages of $SIZE B, $ROUNDS alternating rounds; script: bench/sieve-50.sieve (50 rules)"
# smtp_run (bench/lib.sh) prints one run's rate.
run() { smtp_run "$@"; }
declare -A SUM
for r in $(seq 1 "$ROUNDS"); do
  for reuse in 0 1; do
    p=$(run postfix "$reuse" 10025 10143)
    scripts off; m=$(run mailroom "$reuse" "$PORT")
    scripts on; f=$(run mailroom+sieve50 "$reuse" "$PORT")
    SUM[p$reuse]="${SUM[p$reuse]:-} $p"; SUM[m$reuse]="${SUM[m$reuse]:-} $m"; SUM[f$reuse]="${SUM[f$reuse]:-} $f"
  done
done
# Check: every message Mailroom accepted is in its recipient's INBOX (the
# script flags, never files, smtp-source's messages).
WANT=$((ROUNDS * 4 * S * M)); GOT=0
for i in $(seq 71 90); do
  n=$("$MR" mailbox list "user$i@example.test" --config "$WORK/mailroom.toml" | awk '$1 == "INBOX" {print $2}')
  GOT=$((GOT + n))
done
echo "# Mailroom INBOXes hold $GOT of $WANT accepted messages"
[ "$GOT" = "$WANT" ] || { echo "MISMATCH"; exit 1; }
python3 - "${SUM[p0]}" "${SUM[m0]}" "${SUM[f0]}" "${SUM[p1]}" "${SUM[m1]}" "${SUM[f1]}" <<'PY'
import sys, statistics as st
p0, m0, f0, p1, m1, f1 = ([float(x) for x in a.split()] for a in sys.argv[1:])
for name, p, m, f in (("new connection per message", p0, m0, f0), ("connection reuse", p1, m1, f1)):
    print(f"{name}: Postfix->Dovecot median {st.median(p):.0f} msgs/s {p}; Mailroom no script median {st.median(m):.0f} {m}; "
          f"Mailroom 50-rule script median {st.median(f):.0f} {f}; script costs {100*(1-st.median(f)/st.median(m)):.1f}%; "
          f"with script vs Postfix {st.median(f)/st.median(p):.2f}x")
PY
