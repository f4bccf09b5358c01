#!/bin/bash
# Memory of idle IMAP connections in Mailroom alone (bench/imap-compare.sh
# compares with Dovecot): CLIENTS connections (default 10000) log in over
# implicit TLS, SELECT INBOX and IDLE, held for SECONDS (default 20). Half-way
# through, the server's VmRSS is read and compared with before, and the Go
# runtime's own figures (heap, goroutine stacks) are taken from listen.debug;
# a heap profile is left in PROFILE (default /tmp/mailroom-idle.heap) for
# `go tool pprof`.
#
#   [GOMEMLIMIT=250MiB] bench/imap-idle.sh [CLIENTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
N="${1:-10000}"; SECS="${2:-20}"; PROFILE="${PROFILE:-/tmp/mailroom-idle.heap}"
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((N + 500)) ]; then
  echo "ulimit -Hn is $(ulimit -Hn): the test needs $((N + 500)) descriptors" >&2; exit 1
fi
WORK=$(mktemp -d /tmp/mailroom-idle.XXXXXX)
trap 'kill $MR_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
source bench/lib.sh
start_mailroom "$WORK" "imaps=127.0.0.1:11993 debug=127.0.0.1:11060" "[imap]
max_connections = $((N + 100))"
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:11060/debug/vars && break; sleep 0.1; done
# Mailroom allows 100 connections per client address: spread over 127.0.1.x.
LOCAL=$(seq -f '127.0.1.%g' 1 $(( (N + 49) / 50 )) | paste -sd,)
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$MR_PID/status"; }
before=$(rss)
"$MR" bench imap --idle --addr 127.0.0.1:11993 --tls --insecure --users 'user%d@example.test' --first 1 --count 100 \
  --password pass --clients "$N" --duration "${SECS}s" --local-addrs "$LOCAL" --json > "$WORK/idle.json" 2> "$WORK/idle.err" &
pid=$!
while kill -0 $pid 2>/dev/null && ! grep -q '^imap-idle: holding' "$WORK/idle.err"; do sleep 0.2; done
sleep "$(awk -v s="$SECS" 'BEGIN {print s / 4}')"
during=$(rss)
# The login flood leaves garbage (argon2's 19 MiB per verification, TLS
# handshakes) that the runtime returns to the system only after collections:
# force one (the profiler's ?gc=1) and give the scavenger time, then measure
# what the connections themselves hold.
curl -sf -o "$PROFILE" 'http://127.0.0.1:11060/debug/pprof/heap?gc=1'
sleep "$(awk -v s="$SECS" 'BEGIN {print s / 4}')"
settled=$(rss)
curl -sf http://127.0.0.1:11060/debug/vars > "$WORK/vars.json"
goroutines=$(curl -sf 'http://127.0.0.1:11060/debug/pprof/goroutine?debug=1' | sed -n 1p)
wait $pid || true
python3 - "$WORK/idle.json" "$WORK/vars.json" "$before" "$during" "$N" "$goroutines" "$settled" <<'PY'
import json, sys
r, v = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["memstats"]
before, during, n, gr, settled = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
est = max(r["cycles"], 1)
print(f"{r['cycles']} of {n} connections in IDLE, {r['errors']} errors {r['error_samples'][:2]}")
print(f"VmRSS {before/1024:.0f} MiB before; {during/1024:.0f} MiB after the logins ({(during-before)/est:.1f} KiB per connection); "
      f"{settled/1024:.0f} MiB after a collection ({(settled-before)/est:.1f} KiB per connection)")
print(f"Go heap in use {v['HeapInuse']/2**20:.0f} MiB ({v['HeapInuse']/est/1024:.1f} KiB/conn), "
      f"stacks {v['StackInuse']/2**20:.0f} MiB ({v['StackInuse']/est/1024:.1f} KiB/conn), {gr}")
PY
echo "heap profile: go tool pprof -sample_index=inuse_space $PROFILE" >&2
