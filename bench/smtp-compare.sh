#!/bin/bash
# Side-by-side SMTP load: Mailroom vs Postfix->Dovecot on this machine, in
# alternating rounds, with the peers' own load script (Postfix's smtp-source).
#
#   bench/smtp-compare.sh [ROUNDS] [MESSAGES_PER_SESSION]
#
# Needs the peers installed and startable (../shared/peers/install-deps.sh).
# Mailroom answers 250 only once a message is durable in the recipient's
# INBOX, so its acceptance rate is its end-to-end rate; Postfix's end-to-end
# rate is measured by polling Dovecot's IMAP STATUS until every message
# arrived (smtp-load.sh IMAP_PORT).
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
# The MX's sender checks (SPF, DKIM, DMARC, iprev) ask DNS: a local server
# answering NXDOMAIN at once, so that a machine without a reachable
# resolver measures delivery, not DNS timeouts.
start_nxdns 11053
start_mailroom "$WORK" "smtp=127.0.0.1:$PORT" "[dns]
servers = [\"127.0.0.1:11053\"]
[smtp]
max_connections = 5000
max_connections_per_ip = 5000"
CLEAN=1 "$PEERS/up.sh" >/dev/null
sleep 1

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $S sessions x $M messages of $SIZE B, $ROUNDS alternating rounds"
# smtp_run (bench/lib.sh) prints one run's rate.
run() { smtp_run "$@"; }
declare -A SUM
for r in $(seq 1 "$ROUNDS"); do
  for reuse in 0 1; do
    p=$(run postfix "$reuse" 10025 10143); m=$(run mailroom "$reuse" "$PORT")
    SUM[p$reuse]="${SUM[p$reuse]:-} $p"; SUM[m$reuse]="${SUM[m$reuse]:-} $m"
  done
done
# Check: every message Mailroom accepted is in its recipient's INBOX.
WANT=$((ROUNDS * 2 * S * M)); GOT=0
for i in $(seq 71 90); do
  n=$("$MR" mailbox list "user$i@example.test" --config "$WORK/mailroom.toml" | awk '$1 == "INBOX" {print $2}')
  GOT=$((GOT + n))
done
echo "# Mailroom INBOXes hold $GOT of $WANT accepted messages"
[ "$GOT" = "$WANT" ] || { echo "MISMATCH"; exit 1; }
python3 - "${SUM[p0]}" "${SUM[m0]}" "${SUM[p1]}" "${SUM[m1]}" <<'PY'
import sys, statistics as st
p0, m0, p1, m1 = ([float(x) for x in a.split()] for a in sys.argv[1:])
for name, p, m in (("new connection per message", p0, m0), ("connection reuse", p1, m1)):
    print(f"{name}: Postfix->Dovecot end-to-end median {st.median(p):.0f} msgs/s {p}; "
          f"Mailroom durable median {st.median(m):.0f} msgs/s {m}; ratio {st.median(m)/st.median(p):.2f}x")
PY
