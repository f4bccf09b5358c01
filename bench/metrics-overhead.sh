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

OFF_PID=${PIDS[0]}; ON_PID=${PIDS[1]}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS alternating rounds of ${SECS}s"
# Throughput on a shared machine swings with the neighbours' load; the
# server's own CPU time per operation (utime+stime of the process, from
# /proc) swings much less, so both are reported.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # smtp|imap port pid: prints "ops_per_sec/cpu_ms_per_1000_ops"
  local t0 t1 flags
  t0=$(ticks "$3")
  if [ "$1" = smtp ]; then
    "$MR" bench smtp --addr "127.0.0.1:$2" --starttls --insecure --auth --password pass --reuse \
      --users 'user%d@example.test' --first 1 --count 20 --clients 10 --duration "${SECS}s" --size 10240 --json > "$WORK/r.json"
  else
    "$MR" bench imap --addr "127.0.0.1:$2" --tls --insecure --users 'user%d@example.test' --first 1 --count 20 \
      --password pass --clients 10 --duration "${SECS}s" --persistent --json > "$WORK/r.json"
  fi
  t1=$(ticks "$3")
  python3 - "$1" "$WORK/r.json" $((t1 - t0)) "$(getconf CLK_TCK)" <<'PY'
import json, sys
kind, r, ticks, hz = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
secs = r["elapsed_ns"] / 1e9
rate = r["cycles_per_sec"] if kind == "smtp" else r["commands_per_sec"]
ops = rate * secs
if r["errors"]:
    print(f"{kind}: {r['errors']} errors {r['error_samples'][:2]}", file=sys.stderr)
print(f"{rate:.1f}/{ticks * 1000.0 / hz / ops * 1000:.1f}")
PY
}
SOFF=""; SON=""; IOFF=""; ION=""
for r in $(seq 1 "$ROUNDS"); do
  # Which server goes first alternates too, so that neither always runs
  # on the warmer (or busier) machine.
  if [ $((r % 2)) = 1 ]; then
    SOFF="$SOFF $(run smtp 12587 "$OFF_PID")"; SON="$SON $(run smtp 13587 "$ON_PID")"
    IOFF="$IOFF $(run imap 12993 "$OFF_PID")"; ION="$ION $(run imap 13993 "$ON_PID")"
  else
    SON="$SON $(run smtp 13587 "$ON_PID")"; SOFF="$SOFF $(run smtp 12587 "$OFF_PID")"
    ION="$ION $(run imap 13993 "$ON_PID")"; IOFF="$IOFF $(run imap 12993 "$OFF_PID")"
  fi
  echo "round $r (rate/CPU ms per 1000 ops): smtp off ${SOFF##* } on ${SON##* }; imap off ${IOFF##* } on ${ION##* }"
done
python3 - "$SOFF" "$SON" "$IOFF" "$ION" <<'PY'
import sys, statistics as st
v = [[tuple(map(float, x.split("/"))) for x in a.split()] for a in sys.argv[1:]]
for name, off, on in (("smtp messages", v[0], v[1]), ("imap commands", v[2], v[3])):
    for i, unit in ((0, "/s"), (1, " CPU ms per 1000")):
        a, b = st.median(x[i] for x in off), st.median(x[i] for x in on)
        print(f"{name}{unit}: without metrics median {a:.1f} {[x[i] for x in off]}; with {b:.1f} {[x[i] for x in on]}; on/off {b/a:.3f}")
PY
curl -s http://127.0.0.1:13154/metrics | grep -E '^mailroom_(deliveries_accepted_total|sessions_total|store_commit_batch_size_(sum|count))' || true
