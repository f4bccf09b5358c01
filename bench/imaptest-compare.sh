#!/bin/bash
# Mailroom against Dovecot with the IMAP field's own benchmark: imaptest
# stress (Dovecot's tool; its default command profile: LOGIN, LIST, STATUS,
# SELECT, FETCH, FETCH BODY, STORE flags and keywords, DELETE/EXPUNGE,
# APPEND, LOGOUT, with state checking), same mbox, same machine, in
# alternating rounds.
#
#   bench/imaptest-compare.sh [ROUNDS] [SECONDS]
#
# Four settings, each run against Dovecot and Mailroom in turn per round:
#   10 and 50 clients, each with LOGIN...LOGOUT every cycle (imaptest's
#   default) and with persistent sessions (logout=0).
# Users user1..user50 (password "pass") on both; plaintext IMAP on loopback
# (ports 10143 Dovecot, 11143 Mailroom) so neither pays for TLS.
# Prints, per run, commands/s (the Totals row summed over the run's
# seconds), the average ms/cmd of FETCH and the number of "Error:" lines
# imaptest printed; then the median ratio per setting.
# imaptest comes from scripts/build-imaptest.sh (make test builds it into
# ./bin); the peers from ../shared/peers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; SECS="${2:-20}"
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
IMAPTEST="${IMAPTEST:-$PWD/bin/imaptest/imaptest}"
[ -x "$IMAPTEST" ] || ./scripts/build-imaptest.sh "$(dirname "$IMAPTEST")" >/dev/null
WORK=$(mktemp -d /tmp/mailroom-imaptest.XXXXXX)
trap 'kill $MR_PID 2>/dev/null || true; "$PEERS/down.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

source bench/lib.sh
start_mailroom "$WORK" "imap=127.0.0.1:11143 debug=127.0.0.1:11080" "[auth]
allow_insecure = true
[imap]
max_connections_per_ip = 5000"
CLEAN=1 "$PEERS/up.sh" >/dev/null
python3 "$PEERS/make-mbox.py" -o "$WORK/bench.mbox" >/dev/null
sleep 1

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# imaptest stress, default profile, users 1-50, ${SECS}s per run, $ROUNDS alternating rounds"
# run SERVER CLIENTS MODE: one imaptest run; prints "cmds/s fetch_ms errors".
run() {
  local port user extra=()
  if [ "$1" = dovecot ]; then port=10143; user='user%d'; else port=11143; user='user%d@example.test'; fi
  [ "$3" = persistent ] && extra=(logout=0)
  "$IMAPTEST" host=127.0.0.1 port="$port" user="$user" users=1-50 pass=pass clients="$2" secs="$SECS" \
    mbox="$WORK/bench.mbox" "${extra[@]}" > "$WORK/out" 2>&1 || true
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
declare -A res
for r in $(seq 1 "$ROUNDS"); do
  for setting in "10 login" "10 persistent" "50 login" "50 persistent"; do
    set -- $setting
    order="dovecot mailroom"; [ $((r % 2)) = 0 ] && order="mailroom dovecot"
    for srv in $order; do
      out=$(run "$srv" "$1" "$2")
      read -r cps fetch errs <<<"$out"
      echo "round $r  $srv  clients=$1 $2: $cps commands/s, FETCH ${fetch} ms/cmd avg, $errs Error: lines"
      res["$srv $1 $2"]+="$cps "
    done
  done
done
echo "# ratios (Mailroom / Dovecot, median of rounds)"
for setting in "10 login" "10 persistent" "50 login" "50 persistent"; do
  python3 - "$setting" "${res["mailroom $setting"]}" "${res["dovecot $setting"]}" <<'PY'
import statistics, sys
m = [float(x) for x in sys.argv[2].split()]
d = [float(x) for x in sys.argv[3].split()]
print(f"clients={sys.argv[1]}: Mailroom {statistics.median(m):.0f}, Dovecot {statistics.median(d):.0f} commands/s: "
      f"{statistics.median(m) / statistics.median(d):.2f}x (per round: {', '.join(f'{a / b:.2f}' for a, b in zip(m, d))})")
PY
done
