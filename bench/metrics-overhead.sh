#!/usr/bin/env bash
# The cost of listen.metrics: two identical servers, one with the metrics
# listener (scraped every second, as a busy Prometheus would not even do)
# and one without, loaded in alternating rounds with the same SMTP and
# IMAP runs of `mailroom bench`.
#
#   bench/metrics-overhead.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; SECS="${2:-10}"
WORK=$(mktemp -d /tmp/mailroom-metrics.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
source bench/lib.sh
mkdir -p "$WORK/off" "$WORK/on"
go build -o "$WORK/off/mailroom" ./cmd/mailroom
cp "$WORK/off/mailroom" "$WORK/on/mailroom"
EXTRA='[smtp]
max_connections_per_ip = 5000'
start_mailroom "$WORK/off" "submission=127.0.0.1:12587 imaps=127.0.0.1:12993" "$EXTRA"; PIDS+=("$MR_PID")
start_mailroom "$WORK/on" "submission=127.0.0.1:13587 imaps=127.0.0.1:13993 metrics=127.0.0.1:13154" "$EXTRA"; PIDS+=("$MR_PID")
wait_port 127.0.0.1:12587; wait_port 127.0.0.1:13587; wait_port 127.0.0.1:12993; wait_port 127.0.0.1:13993; wait_port 127.0.0.1:13154
# A scrape every second for the whole run.
( while sleep 1; do curl -s -o /dev/null http://127.0.0.1:13154/metrics || true; done ) & PIDS+=("$!")

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $ROUNDS alternating rounds of ${SECS}s"
smtp() { # name port
  "$MR" bench smtp --addr "127.0.0.1:$2" --starttls --insecure --auth --password pass --reuse \
    --users 'user%d@example.test' --first 1 --count 20 --clients 10 --duration "${SECS}s" --size 10240 --json | python3 -c "import json,sys; r=json.load(sys.stdin); print('%.1f' % r['cycles_per_sec'])"
}
imap() { # name port
  "$MR" bench imap --addr "127.0.0.1:$2" --tls --insecure --users 'user%d@example.test' --first 1 --count 20 \
    --password pass --clients 10 --duration "${SECS}s" --persistent --json |
    python3 -c "import json,sys; r=json.load(sys.stdin); print('%.0f' % r['commands_per_sec'])"
}
SOFF=""; SON=""; IOFF=""; ION=""
for r in $(seq 1 "$ROUNDS"); do
  # Which server goes first alternates too, so that neither always runs
  # on the warmer (or busier) machine.
  if [ $((r % 2)) = 1 ]; then
    SOFF="$SOFF $(smtp off 12587)"; SON="$SON $(smtp on 13587)"
    IOFF="$IOFF $(imap off 12993)"; ION="$ION $(imap on 13993)"
  else
    SON="$SON $(smtp on 13587)"; SOFF="$SOFF $(smtp off 12587)"
    ION="$ION $(imap on 13993)"; IOFF="$IOFF $(imap off 12993)"
  fi
  echo "round $r: smtp msgs/s off/on:${SOFF##* }/${SON##* }  imap commands/s off/on:${IOFF##* }/${ION##* }"
done
python3 - "$SOFF" "$SON" "$IOFF" "$ION" <<'PY'
import sys, statistics as st
v = [list(map(float, a.split())) for a in sys.argv[1:]]
for name, off, on in (("smtp messages/s", v[0], v[1]), ("imap commands/s", v[2], v[3])):
    print(f"{name}: without metrics {off} median {st.median(off):.1f}; with {on} median {st.median(on):.1f}; "
          f"ratio {st.median(on)/st.median(off):.3f}")
PY
curl -s http://127.0.0.1:13154/metrics | grep -E '^mailroom_(deliveries_accepted_total|sessions_total|logins_total|store_commit_batch_size_(sum|count))' || true
