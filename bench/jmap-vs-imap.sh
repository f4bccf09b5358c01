#!/bin/bash
# The same work over IMAP and over JMAP, on one Mailroom, in alternating
# rounds, with Mailroom's own load tool (mailroom bench imap|jmap):
#
#   bench/jmap-vs-imap.sh [ROUNDS] [SECONDS] [MESSAGES] [CLIENTS]
#
# (defaults 3 rounds, 20 s, 200 messages per user, 10 clients). Users
# user1..CLIENTS get MESSAGES messages of 2 KB each in INBOX over SMTP
# first. A cycle is what a mail client's message list costs:
#   imap  one persistent session per client (logged in and SELECTed once);
#         FETCH 50 newest (UID ENVELOPE BODYSTRUCTURE), a STORE of \Seen or
#         \Flagged on one message, a NOOP (IMAP's "what changed?")
#   jmap  one kept-alive HTTPS connection per client (session read once);
#         Email/query (inbox, newest 50, collapseThreads) + Email/get of them
#         (subject, from, receivedAt, preview, keywords) in one request,
#         Email/set of $seen on one, Email/changes since the last state
# both over TLS. The JMAP run also has push probes (one per 5 clients, on
# users after the clients'): SMTP 250 -> EventSource "event: state".
# Printed per round and as medians: lists per second (the FETCH or the
# query+get), and p50/p99 of the list and of the flag change. Both tools
# check every response; errors are printed (Email/changes answers
# unknownMethod on a server without it: counted, the rest still measured).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ROUNDS="${1:-3}"; SECS="${2:-20}"; N="${3:-200}"; CLIENTS="${4:-10}"
PROBES=$(( (CLIENTS + 4) / 5 ))
USERS=$(( CLIENTS + PROBES ))
[ "$USERS" -le 100 ] || { echo "at most 100 users (start_mailroom creates user1..100)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailroom-jmapbench.XXXXXX)
trap 'kill $MR_PID $NXDNS_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
source bench/lib.sh
start_nxdns 12053
start_mailroom "$WORK" "smtp=127.0.0.1:12025 imaps=127.0.0.1:12993 https=127.0.0.1:12443" "[dns]
servers = [\"127.0.0.1:12053\"]"
wait_port 127.0.0.1:12025; wait_port 127.0.0.1:12993; wait_port 127.0.0.1:12443
"$MR" bench smtp --addr 127.0.0.1:12025 --users 'user%d@example.test' --first 1 --count "$CLIENTS" \
  --clients "$CLIENTS" --cycles $((CLIENTS * N)) --size 2000 --reuse > "$WORK/seed.txt"
head -1 "$WORK/seed.txt" >&2
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $CLIENTS clients x ${SECS}s, $N x 2 KB messages per user, TLS, $ROUNDS alternating rounds"
COMMON=(--tls --insecure --users 'user%d@example.test' --first 1 --count "$CLIENTS" --password pass
  --clients "$CLIENTS" --duration "${SECS}s" --json)
bench() { # imap|jmap
  if [ "$1" = imap ]; then
    "$MR" bench imap --addr 127.0.0.1:12993 "${COMMON[@]}" --persistent --envelopes 50 \
      --mix select=0,list=0,status=0,fetch-flags=0,fetch-envelope=1,fetch-body=0,store=1,search=0,append=0,expunge=0,noop=1
  else
    "$MR" bench jmap --addr 127.0.0.1:12443 "${COMMON[@]}" --limit 50 --smtp 127.0.0.1:12025
  fi > "$WORK/$1.json"
  python3 - "$1" "$WORK/$1.json" <<'PY'
import json, sys
proto, r = sys.argv[1], json.load(open(sys.argv[2]))
c, secs = r["commands"], r["elapsed_ns"] / 1e9
lst, flag = ("FETCH ENVELOPE", "STORE") if proto == "imap" else ("Email/query+get", "Email/set")
ms = lambda k, q: c[k][q] / 1e6 if k in c else float("nan")
lists = c.get(lst, {}).get("count", 0) / secs
line = (f"{proto}: {lists:.1f} lists/s; list p50 {ms(lst, 'p50_ns'):.2f} ms p99 {ms(lst, 'p99_ns'):.2f} ms; "
        f"flag p50 {ms(flag, 'p50_ns'):.2f} ms p99 {ms(flag, 'p99_ns'):.2f} ms; {r['commands_per_sec']:.0f} requests/s; "
        f"{r['errors']} errors {r.get('method_errors') or ''}")
p = r.get("push")
if p:
    a, d = p["after_reply"], p["after_dot"]
    line += (f"; push {p['deliveries']} deliveries, {p['missed']} missed, {p['early']} before the 250, "
             f"250 -> state p50/p90/p99 {a['p50_ns']/1e6:.1f}/{a['p90_ns']/1e6:.1f}/{a['p99_ns']/1e6:.1f} ms, "
             f"end of DATA -> state {d['p50_ns']/1e6:.1f}/{d['p90_ns']/1e6:.1f}/{d['p99_ns']/1e6:.1f} ms")
print(line, file=sys.stderr)
print(f"{lists}/{ms(lst, 'p50_ns')}/{ms(lst, 'p99_ns')}/{ms(flag, 'p50_ns')}/{ms(flag, 'p99_ns')}")
PY
}
I=""; J=""
for r in $(seq 1 "$ROUNDS"); do
  I="$I $(bench imap)"
  J="$J $(bench jmap)"
done
python3 - "$I" "$J" <<'PY'
import sys, statistics as st
def cols(s):
    rows = [list(map(float, x.split("/"))) for x in s.split()]
    return [st.median(col) for col in zip(*rows)]
i, j = cols(sys.argv[1]), cols(sys.argv[2])
print("medians      lists/s  list p50  list p99  flag p50  flag p99 (ms)")
for name, v in (("imap", i), ("jmap", j)):
    print(f"{name:10} {v[0]:9.1f} {v[1]:9.2f} {v[2]:9.2f} {v[3]:9.2f} {v[4]:9.2f}")
print(f"jmap/imap lists per second: {j[0] / i[0]:.2f}")
PY
