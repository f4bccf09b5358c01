#!/bin/bash
# Side-by-side POP3 load: Mailroom vs Dovecot on this machine, in alternating
# rounds, with Mailroom's own load tool (mailroom bench pop3) against both.
#
#   bench/pop3-compare.sh [ROUNDS] [SECONDS]
#
# Both get the same mail first: 20 users (user71..user90) x 50 messages of
# 10 KB, through each one's SMTP (Postfix -> Dovecot; Mailroom directly).
# Then 20 clients run login / STAT / UIDL / LIST / RETR-all / QUIT cycles over
# implicit TLS (995-style), a new connection per cycle, leaving the mail in
# place; the tool checks every octet count and UIDL.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; SECS="${2:-10}"
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
WORK=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
trap 'kill $MR_PID 2>/dev/null || true; "$PEERS/down.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

source bench/lib.sh
start_mailroom "$WORK" 'smtp=127.0.0.1:11025 pop3s=127.0.0.1:11995' "[smtp]
max_connections_per_ip = 5000
[pop3]
max_connections_per_ip = 5000"
CLEAN=1 "$PEERS/up.sh" >/dev/null
sleep 1
IMAP_PORT=10143 "$PEERS/smtp-load.sh" 127.0.0.1 10025 20 50 10240 | grep -E '^delivery' >&2
"$PEERS/smtp-load.sh" 127.0.0.1 11025 20 50 10240 | grep -E '^smtp-load' >&2

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# 20 clients x ${SECS}s, users user71..90 with 50 x 10 KB each, implicit TLS, $ROUNDS alternating rounds"
bench() { # name addr
  "$MR" bench pop3 --addr "$2" --tls --insecure --users 'user%d@example.test' --first 71 --count 20 \
    --password pass --clients 20 --duration "${SECS}s" --json > "$WORK/$1.json"
  python3 - "$1" "$WORK/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
c = r["commands"]
print(f"{sys.argv[1]}: {r['cycles_per_sec']:.1f} cycles/s, {r['errors']} errors, "
      f"PASS p50 {c['PASS']['p50_ns']/1e6:.1f} ms, RETR p50 {c['RETR']['p50_ns']/1e6:.2f} ms", file=sys.stderr)
print(r["cycles_per_sec"])
PY
}
D=""; M=""
for r in $(seq 1 "$ROUNDS"); do
  D="$D $(bench dovecot 127.0.0.1:10995)"
  M="$M $(bench mailroom 127.0.0.1:11995)"
done
python3 - "$D" "$M" <<'PY'
import sys, statistics as st
d, m = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"Dovecot median {st.median(d):.1f} cycles/s {d}; Mailroom median {st.median(m):.1f} cycles/s {m}; ratio {st.median(m)/st.median(d):.2f}x")
PY
