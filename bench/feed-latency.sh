#!/bin/bash
# Feed latency across nodes: two `mailroom serve` nodes on one private
# PostgreSQL cluster; an IMAP client IDLEs on node A while messages are
# submitted one at a time to node B (`mailroom bench feed`), and the time
# to A's untagged EXISTS is taken per message. For comparison, the same
# with IDLE and submission on node A alone (the in-process feed).
#
#   bench/feed-latency.sh [COUNT] [ROUNDS]
#
# COUNT deliveries per run (default 1000), ROUNDS alternating rounds of
# the two runs (default 1). Goal: p99 < 100 ms across nodes.
#
# Two bounds, since the commit is not visible from outside: "end of DATA
# -> EXISTS" is an upper bound of commit -> EXISTS (B stores and commits
# after the final dot), "250 -> EXISTS" a lower bound (B replies after the
# commit; an EXISTS before the 250 counts 0). The cluster is durable
# (fsync and synchronous_commit on), on the same cores as both nodes and
# the client.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
COUNT="${1:-1000}"; ROUNDS="${2:-1}"
WORK=$(mktemp -d /tmp/mailroom-feed.XXXXXX)
A_PID=""; B_PID=""
source bench/lib.sh
cleanup() {
  for p in $A_PID $B_PID; do kill "$p" 2>/dev/null || true; done
  for p in $A_PID $B_PID; do wait "$p" 2>/dev/null || true; done
  stop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT
EXTRA="[auth]
allow_insecure = true"
start_pg "$WORK"
start_mailroom "$WORK/a" "submission=127.0.0.1:13587 imap=127.0.0.1:13143" "$EXTRA" "$PG_DSN"
A_PID=$MR_PID
mkdir -p "$WORK/b" && cp "$MR" "$WORK/b/mailroom"
MR_NO_ACCOUNTS=1 start_mailroom "$WORK/b" "submission=127.0.0.1:14587 imap=127.0.0.1:14143" "$EXTRA" "$PG_DSN"
B_PID=$MR_PID
for a in 127.0.0.1:13587 127.0.0.1:13143 127.0.0.1:14587 127.0.0.1:14143; do wait_port "$a"; done

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $("$PG_BIN/postgres" --version)"
echo "# $COUNT deliveries per run, one at a time, $ROUNDS round(s)"
for r in $(seq 1 "$ROUNDS"); do
  for run in across same; do
    smtp=127.0.0.1:14587; [ $run = same ] && smtp=127.0.0.1:13587
    echo "## round $r: IDLE on node A, submission to node $([ $run = same ] && echo A || echo B)"
    "$MR" bench feed --idle-addr 127.0.0.1:13143 --addr "$smtp" --auth --user user1@example.test --password pass --count "$COUNT"
  done
done
