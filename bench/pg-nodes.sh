#!/bin/bash
# Two Mailroom nodes on one PostgreSQL vs one node: SMTP durable
# deliveries/s with the same load (Postfix's smtp-source, 20 sessions x M
# messages of 10 KB to user71..user90) sent all to node A, or split in
# halves over nodes A and B at once (users 71-80 to A, 81-90 to B), in
# alternating rounds.
#
#   bench/pg-nodes.sh [ROUNDS] [MESSAGES_PER_SESSION]
#
# What this can show on one small machine: PostgreSQL, both nodes and the
# load generator share its cores, so a second node adds no CPU; the
# figure says whether two nodes on one database cost or gain throughput
# (contention on the database against more parallel work), not how far
# nodes on their own machines scale. The cluster is durable (fsync and
# synchronous_commit on), private, stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; M="${2:-250}"; S=20; SIZE=10240
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
WORK=$(mktemp -d /tmp/mailroom-nodes.XXXXXX)
A_PID=""; B_PID=""
NXDNS_PID=""
source bench/lib.sh
cleanup() {
  [ -n "$NXDNS_PID" ] && kill "$NXDNS_PID" 2>/dev/null || true
  for p in $A_PID $B_PID; do kill "$p" 2>/dev/null || true; done
  for p in $A_PID $B_PID; do wait "$p" 2>/dev/null || true; done
  stop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT
start_nxdns 15053
EXTRA="[dns]
servers = [\"127.0.0.1:15053\"]
[smtp]
max_connections = 5000
max_connections_per_ip = 5000"
start_pg "$WORK"
start_mailroom "$WORK/a" "smtp=127.0.0.1:15025" "$EXTRA" "$PG_DSN"
A_PID=$MR_PID
mkdir -p "$WORK/b" && cp "$MR" "$WORK/b/mailroom"
MR_NO_ACCOUNTS=1 start_mailroom "$WORK/b" "smtp=127.0.0.1:16025" "$EXTRA" "$PG_DSN"
B_PID=$MR_PID
wait_port 127.0.0.1:15025; wait_port 127.0.0.1:16025
sleep 1

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$PG_BIN/postgres" --version)"
echo "# $S sessions x $M messages of $SIZE B, new connection per message, $ROUNDS alternating rounds"
rate() { # "smtp-load: N msgs in T s = R msgs/s" → R
  sed -n 's/^smtp-load: .* = \([0-9.]*\) msgs\/s.*/\1/p'
}
one() {
  "$PEERS/smtp-load.sh" 127.0.0.1 15025 "$S" "$M" "$SIZE" 2>&1 | rate
}
two() { # both halves at once; the rate is all messages over the wall time
  local t0 t1
  t0=$(date +%s.%N)
  RCPT_BASE=71 RCPTS=10 "$PEERS/smtp-load.sh" 127.0.0.1 15025 $((S / 2)) "$M" "$SIZE" > "$WORK/a.out" 2>&1 &
  local pa=$!
  RCPT_BASE=81 RCPTS=10 "$PEERS/smtp-load.sh" 127.0.0.1 16025 $((S / 2)) "$M" "$SIZE" > "$WORK/b.out" 2>&1 &
  local pb=$!
  wait $pa; wait $pb
  t1=$(date +%s.%N)
  python3 -c "print('%.1f' % ($S * $M / ($t1 - $t0)))"
}
ONE=""; TWO=""
for r in $(seq 1 "$ROUNDS"); do
  order="one two"; [ $((r % 2)) = 0 ] && order="two one"
  for run in $order; do
    v=$($run)
    echo "round $r  $([ $run = one ] && echo "one node " || echo "two nodes"): $v msgs/s"
    if [ $run = one ]; then ONE+="$v "; else TWO+="$v "; fi
  done
done
WANT=$((ROUNDS * 2 * S * M)); GOT=0
for i in $(seq 71 90); do
  n=$("$MR" mailbox list "user$i@example.test" --config "$WORK/a/mailroom.toml" | awk '$1 == "INBOX" {print $2}')
  GOT=$((GOT + n))
done
echo "# INBOXes hold $GOT of $WANT accepted messages"
[ "$GOT" = "$WANT" ] || { echo "MISMATCH"; exit 1; }
python3 - "$ONE" "$TWO" <<'PY'
import statistics as st, sys
one, two = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"one node: median {st.median(one):.0f} msgs/s {one}; two nodes: median {st.median(two):.0f} msgs/s {two}; "
      f"two/one {st.median(two)/st.median(one):.2f}x")
PY
