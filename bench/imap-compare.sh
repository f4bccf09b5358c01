#!/bin/bash
# Side-by-side IMAP load: Mailroom vs Dovecot on this machine, in alternating
# rounds, with Mailroom's own load tool (mailroom bench imap) against both.
#
#   bench/imap-compare.sh [ROUNDS] [SECONDS] [IDLE_CLIENTS]
#
# Both get the same mail first: 20 users (user71..user90) x 50 messages of
# 10 KB, through each one's SMTP (Postfix -> Dovecot; Mailroom directly).
# Then, each round, over implicit TLS (993-style), 10 clients run the mix
# (select, list, status, fetch flags / envelopes / a body, store, search,
# append + fetch back and compare, expunge of what they appended, noop):
#   persistent   one session per client, logged in once
#   login        LOGIN ... LOGOUT on a new connection every cycle
# and the tool checks every response (see loadgen.RunIMAP).
#
# Last, the idle test: IDLE_CLIENTS (default 2000) connections log in,
# SELECT and IDLE, held for SECONDS; the servers' memory is read half-way
# through the hold and compared with before: Mailroom's VmRSS; Dovecot's
# summed over all its processes (one imap and one imap-login per TLS
# connection), as VmRSS and as PSS (which counts shared pages once).
# Mailroom's IMAP allows 100 connections per client address (internal/imap
# Factory), so the clients spread over 127.0.1.x source addresses, 50 each.
# Needs `ulimit -Hn` above IDLE_CLIENTS + a few hundred: the tool and
# Mailroom each hold one descriptor per connection (Go raises the soft limit
# to the hard one by itself); Dovecot's processes hold one each.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; SECS="${2:-10}"; IDLE="${3:-2000}"
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((IDLE + 500)) ]; then
  echo "ulimit -Hn is $(ulimit -Hn): the idle test needs $((IDLE + 500)) descriptors" >&2; exit 1
fi
WORK=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
trap 'kill $MR_PID 2>/dev/null || true; "$PEERS/down.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

source bench/lib.sh
start_mailroom "$WORK" "smtp=127.0.0.1:11025 imaps=127.0.0.1:11993" "[smtp]
max_connections_per_ip = 5000
[pop3]
max_connections_per_ip = 5000"
CLEAN=1 "$PEERS/up.sh" >/dev/null
sleep 1
IMAP_PORT=10143 "$PEERS/smtp-load.sh" 127.0.0.1 10025 20 50 10240 | grep -E '^delivery' >&2
"$PEERS/smtp-load.sh" 127.0.0.1 11025 20 50 10240 | grep -E '^smtp-load' >&2

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# 10 clients x ${SECS}s, users user71..90 with 50 x 10 KB each, implicit TLS, $ROUNDS alternating rounds"
bench() { # name addr mode
  local flags=(); [ "$3" = persistent ] && flags=(--persistent)
  "$MR" bench imap --addr "$2" --tls --insecure --users 'user%d@example.test' --first 71 --count 20 \
    --password pass --clients 10 --duration "${SECS}s" "${flags[@]}" --json > "$WORK/$1.json"
  python3 - "$1 $3" "$WORK/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
c = r["commands"]
p50 = lambda k: c[k]["p50_ns"] / 1e6 if k in c else float("nan")
print(f"{sys.argv[1]}: {r['cycles_per_sec']:.1f} cycles/s, {r['commands_per_sec']:.0f} commands/s, {r['errors']} errors "
      f"{r['error_samples'][:2]}, p50 LOGIN {p50('LOGIN'):.2f} ms, FETCH BODY {p50('FETCH BODY'):.2f} ms, "
      f"APPEND {p50('APPEND'):.2f} ms, NOOP FOR EXISTS {c.get('NOOP FOR EXISTS', {}).get('count', 0)}", file=sys.stderr)
print(f"{r['cycles_per_sec']}/{r['commands_per_sec']}")
PY
}
DP=""; MP=""; DL=""; ML=""
for r in $(seq 1 "$ROUNDS"); do
  DP="$DP $(bench dovecot 127.0.0.1:10993 persistent)"
  MP="$MP $(bench mailroom 127.0.0.1:11993 persistent)"
  DL="$DL $(bench dovecot 127.0.0.1:10993 login)"
  ML="$ML $(bench mailroom 127.0.0.1:11993 login)"
done
python3 - "$DP" "$MP" "$DL" "$ML" <<'PY'
import sys, statistics as st
runs = [[tuple(map(float, x.split("/"))) for x in a.split()] for a in sys.argv[1:]]
for mode, d, m in (("persistent", runs[0], runs[1]), ("login/logout", runs[2], runs[3])):
    for i, unit in ((0, "cycles/s"), (1, "commands/s")):
        dm, mm = st.median(x[i] for x in d), st.median(x[i] for x in m)
        print(f"{mode}: Dovecot median {dm:.1f} {unit}; Mailroom median {mm:.1f} {unit}; ratio {mm/dm:.2f}x")
PY

# The idle test.
LOCAL=$(seq -f '127.0.1.%g' 1 $(( (IDLE + 49) / 50 )) | paste -sd,)
DOVECOT_PID=$(cat /tmp/rig-dovecot/run/master.pid)
memory() { # name: "rss_kib pss_kib" of Mailroom, or of all Dovecot processes
  local pids
  if [ "$1" = mailroom ]; then pids=$MR_PID; else pids=$(ps -e -o pid=,sid= | awk -v s="$DOVECOT_PID" '$2 == s {print $1}'); fi
  local rss=0 pss=0 p v
  for p in $pids; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true); rss=$((rss + ${v:-0}))
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true); pss=$((pss + ${v:-0}))
  done
  echo "$rss $pss"
}
idle() { # name addr
  local before during
  before=$(memory "$1")
  "$MR" bench imap --idle --addr "$2" --tls --insecure --users 'user%d@example.test' --first 1 --count 100 \
    --password pass --clients "$IDLE" --duration "${SECS}s" --local-addrs "$LOCAL" --json \
    > "$WORK/$1-idle.json" 2> "$WORK/$1-idle.err" &
  local pid=$!
  while kill -0 $pid 2>/dev/null && ! grep -q '^imap-idle: holding' "$WORK/$1-idle.err"; do sleep 0.2; done
  sleep "$(awk -v s="$SECS" 'BEGIN {print s / 2}')"
  during=$(memory "$1")
  wait $pid || true
  python3 - "$1" "$WORK/$1-idle.json" "$before" "$during" "$IDLE" <<'PY'
import json, sys
name, path, before, during, n = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5])
r = json.load(open(path))
est = r["cycles"]
rss = (int(during[0]) - int(before[0])) / max(est, 1)
pss = (int(during[1]) - int(before[1])) / max(est, 1)
print(f"idle {name}: {est} of {n} connections in IDLE, {r['errors']} errors {r['error_samples'][:2]}; "
      f"memory {int(before[0])/1024:.0f} -> {int(during[0])/1024:.0f} MiB RSS = {rss:.1f} KiB per connection, "
      f"PSS {int(before[1])/1024:.0f} -> {int(during[1])/1024:.0f} MiB = {pss:.1f} KiB per connection")
PY
}
idle dovecot 127.0.0.1:10993
idle mailroom 127.0.0.1:11993
