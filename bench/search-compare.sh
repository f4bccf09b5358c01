#!/bin/bash
# Search, sort and thread on one big mailbox: Mailroom against Dovecot plain
# and Dovecot with Debian's dovecot-fts-xapian, same mail, same queries, same
# machine (issue 15, point 4).
#
#   bench/search-compare.sh [N] [ROUNDS]                 # defaults 100000 3
#   N=1000000 FOLDERS=50 bench/search-compare.sh         # the 1,000,000-message account, Mailroom only
#
# Phases, each timed and printed:
#  1. corpus: bench/gen-corpus.py writes N deterministic messages (seed SEED,
#     default 1) as an mbox; CORPUS=FILE keeps it there and reuses it when it
#     exists (the 100,000 take ~2.6 GB, the 1,000,000 ~26 GB; one file per N
#     and SEED: a file of another N is refused).
#  2. load: bench/searchcmp load appends the mbox to each server over IMAP on
#     loopback (MULTIAPPEND, 100 messages or 4 MB a command, with flags and
#     INTERNALDATE from the mbox "From " line), one server at a time; with
#     FOLDERS=F, 40% go to INBOX and the rest over Folder01..Folder(F-1).
#     Dovecot+Xapian indexes at APPEND (fts_autoindex) in its indexer
#     process; `doveadm index` then waits for / completes that index and is
#     timed as its index build. Mailroom indexes in the APPEND itself; if the
#     binary has `mailroom reindex`, a full rebuild is timed too.
#  3. sizes: the mail and the indexes on disk, per server.
#  4. queries: bench/searchcmp query runs the fixed list (20 searches, UID
#     SORT (REVERSE DATE) / (SUBJECT), UID THREAD REFERENCES / ORDEREDSUBJECT,
#     all of INBOX) once untimed on every server, then ROUNDS timed rounds
#     alternating servers, and prints median / p90 per query per server, the
#     ratios, every difference between the answers (as Message-IDs), and
#     each server's peak RSS (process tree) during the queries; times are
#     wall clock and the server's CPU time (the machine may be shared). The
#     table shows SHOW (default 5) Message-IDs per difference; all of them
#     go to DIFFS (default /tmp/search-compare-diffs-N.txt).
#
# Big runs:
#   STREAM=1   generate the corpus into a pipe that the load reads, never
#              storing it (the 1,000,000 would take ~26 GB of disk beside
#              Mailroom's data); one server only, and no CORPUS.
#   REBUILD=0  skip the timed `mailroom reindex --rebuild`; `mailroom
#              reindex` then only finishes the index the server builds in
#              the background, timed as the rest of the index build.
#   REUSE=DIR  the work directory of an earlier KEEP=1 run: every server
#              whose load finished there (a loaded-NAME marker) is started
#              on its data as it is, not loaded again, so fts-xapian's hour
#              of indexing is paid once; the others are loaded as usual.
#              DIR is kept.
#
# Servers (SERVERS, default "mailroom dovecot xapian"; with FOLDERS > 1
# "mailroom"): Mailroom built from this tree on SQLite in a temporary
# directory; two private Dovecots generated from ../shared/peers/dovecot/
# dovecot.conf (read, never changed) with their own ports and directories
# under the work directory, the second with fts_xapian (apt-get installs
# dovecot-fts-xapian when it is missing, services kept from starting). The
# rig's and the system's Dovecot are never touched. Ports: BASE+3 Mailroom,
# BASE+4 Dovecot, BASE+5 Dovecot+Xapian (BASE default 14140). KEEP=1 keeps
# the work directory (and prints where); everything started is stopped on
# exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
N="${1:-${N:-100000}}"; ROUNDS="${2:-${ROUNDS:-3}}"
FOLDERS="${FOLDERS:-1}"; SEED="${SEED:-1}"; BASE="${BASE:-14140}"
if [ "$FOLDERS" -gt 1 ]; then SERVERS="${SERVERS:-mailroom}"; else SERVERS="${SERVERS:-mailroom dovecot xapian}"; fi
PEERS="${PEERS:-$(cd .. && pwd)/shared/peers}"
if [ -n "${REUSE:-}" ]; then
  [ -d "$REUSE" ] || { echo "REUSE=$REUSE is not a directory" >&2; exit 1; }
  WORK=$(cd "$REUSE" && pwd); KEEP=1
else
  WORK=$(mktemp -d /tmp/mailroom-search.XXXXXX)
fi
chmod 755 "$WORK"
STREAM="${STREAM:-0}"; REBUILD="${REBUILD:-1}"
MR_PID=""
cleanup() {
  # No command here may fail: the trap runs under set -e, and a failure
  # would end it before the servers are stopped.
  if [ -n "${GEN_PID:-}" ]; then kill "$GEN_PID" 2>/dev/null || true; fi
  if [ -n "$MR_PID" ]; then kill "$MR_PID" 2>/dev/null && wait "$MR_PID" 2>/dev/null || true; fi
  local f p kids q
  for f in "$WORK"/dovecot-*/run/master.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    # Its children (an indexer-worker may still be writing) are waited for
    # too, by pid, before the directory goes.
    kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
    kill "$p" 2>/dev/null || continue
    for q in $p $kids; do
      for _ in $(seq 100); do kill -0 "$q" 2>/dev/null || break; sleep 0.1; done
    done
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; }; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has() { case " $SERVERS " in *" $1 "*) return 0;; esac; return 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
per1k() { awk -v s="$1" -v n="$N" 'BEGIN {printf "%.2f", s * 1000 / n}'; }
PHASES=""
phase() { PHASES="$PHASES
$1: $2 s ($(per1k "$2") s per 1,000 messages)"; echo "# $1: $2 s" >&2; }
# tree_cpu PID: CPU seconds used so far by PID, its live descendants and the
# children they reaped (Dovecot's imap and indexer-worker processes come and
# go). On a shared machine CPU seconds say more than wall clock.
tree_cpu() {
  python3 - "$1" <<'PY'
import os, sys
root, hz = int(sys.argv[1]), os.sysconf("SC_CLK_TCK")
parent, stat = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        s = open("/proc/%s/stat" % p).read()
    except OSError:
        continue
    f = s[s.rfind(")") + 2:].split()
    parent[int(p)], stat[int(p)] = int(f[1]), f
total = 0
for p, f in stat.items():
    q, n = p, 0
    while q and q != root and n < 64:
        q, n = parent.get(q, 0), n + 1
    if q == root:
        total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
print("%.1f" % (total / hz))
PY
}
cpu_since() { awk -v a="$1" -v b="$(tree_cpu "$2")" 'BEGIN {printf "%.1f", b - a}'; }
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then echo "port $1 is in use: set BASE" >&2; exit 1; fi
}

source bench/lib.sh
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), N=$N FOLDERS=$FOLDERS ROUNDS=$ROUNDS SEED=$SEED servers: $SERVERS"
go build -o "$WORK/searchcmp" ./bench/searchcmp
SC="$WORK/searchcmp"

# loaded NAME: the server's data in $WORK is complete from an earlier run.
loaded() { [ -f "$WORK/loaded-$1" ]; }

# 1. The corpus: not needed when every server is reused.
GEN_PID=""
NEED_CORPUS=0
for s in $SERVERS; do loaded "$s" || NEED_CORPUS=1; done
if [ "$NEED_CORPUS" = 0 ]; then
  STREAM=skip
  echo "# corpus: not needed (every server reused from $WORK)"
elif [ "$STREAM" = 1 ]; then
  [ -z "${CORPUS:-}" ] || { echo "STREAM=1 and CORPUS exclude each other" >&2; exit 1; }
  [ "$(echo $SERVERS | wc -w)" = 1 ] || { echo "STREAM=1 loads one server (SERVERS=mailroom)" >&2; exit 1; }
  CORPUS="$WORK/corpus.fifo"
  rm -f "$CORPUS"; mkfifo "$CORPUS"
  python3 bench/gen-corpus.py -n "$N" -s "$SEED" -o "$CORPUS" &
  GEN_PID=$!
  echo "# corpus: $N messages generated into a pipe as the load reads them (STREAM=1)"
fi
CORPUS="${CORPUS:-$WORK/corpus.mbox}"
if [ "$STREAM" != 0 ]; then
  :
elif [ ! -s "$CORPUS" ]; then
  t=$(now)
  python3 bench/gen-corpus.py -n "$N" -s "$SEED" -o "$CORPUS.tmp"
  mv "$CORPUS.tmp" "$CORPUS"
  phase "generate corpus" "$(since "$t")"
fi
if [ "$STREAM" = 0 ]; then
  # A kept corpus must be of this N (the seed cannot be checked: keep one file per seed).
  have=$(grep -c '^From ' "$CORPUS" || true)
  [ "$have" = "$N" ] || { echo "corpus $CORPUS holds $have messages, not N=$N: remove it or use another CORPUS" >&2; exit 1; }
  echo "# corpus $CORPUS: $N messages, $(du -m "$CORPUS" | cut -f1) MB"
fi

# 2. Servers and loading.
SPECS=()
if has mailroom && loaded mailroom; then
  # Reused: this tree's binary on the kept data (migrations run at start).
  port_free $((BASE + 3))
  go build -o "$WORK/mailroom/mailroom" ./cmd/mailroom
  MR="$WORK/mailroom/mailroom"
  sed -i "s#^imap = .*#imap = \"127.0.0.1:$((BASE + 3))\"#" "$WORK/mailroom/mailroom.toml"
  "$MR" serve --config "$WORK/mailroom/mailroom.toml" 2>>"$WORK/mailroom/mailroom.log" &
  MR_PID=$!
  wait_port 127.0.0.1:$((BASE + 3))
  echo "# mailroom: reusing the data loaded in $WORK"
  SPECS+=(-server "mailroom,127.0.0.1:$((BASE + 3)),user1@example.test,pass,$MR_PID")
elif has mailroom; then
  port_free $((BASE + 3))
  start_mailroom "$WORK/mailroom" "imap=127.0.0.1:$((BASE + 3))" "[auth]
allow_insecure = true"
  wait_port 127.0.0.1:$((BASE + 3))
  t=$(now); c=$(tree_cpu "$MR_PID")
  "$SC" load -server "mailroom,127.0.0.1:$((BASE + 3)),user1@example.test,pass,$MR_PID" -mbox "$CORPUS" -folders "$FOLDERS"
  phase "load mailroom (IMAP MULTIAPPEND)" "$(since "$t")"
  phase "  mailroom CPU during the load" "$(cpu_since "$c" "$MR_PID")"
  [ -z "$GEN_PID" ] || wait "$GEN_PID"
  if [ "$REBUILD" = 0 ]; then
    # The index the server builds in the background, finished: the rest
    # of the index build after the load.
    t=$(now)
    "$MR" reindex user1@example.test --config "$WORK/mailroom/mailroom.toml" > "$WORK/reindex.out" 2>&1 ||
      echo "# mailroom reindex failed: $(tail -2 "$WORK/reindex.out")"
    phase "mailroom reindex user1 (finishing the background index after the load)" "$(since "$t")"
  elif "$MR" help 2>&1 | grep -qw reindex; then
    # A full rebuild, timed; it also makes sure the index is complete before
    # the queries if the server indexes behind the APPENDs. Run beside the
    # server first; if the command wants the data directory to itself, again
    # with the server stopped (then restarted).
    t=$(now)
    if "$MR" reindex --rebuild user1@example.test --config "$WORK/mailroom/mailroom.toml" > "$WORK/reindex.out" 2>&1; then
      phase "mailroom reindex user1 (full rebuild, server running)" "$(since "$t")"
    else
      echo "# mailroom reindex beside the server failed ($(tail -1 "$WORK/reindex.out")); again with it stopped"
      kill "$MR_PID"; wait "$MR_PID" 2>/dev/null || true; MR_PID=""
      t=$(now)
      if "$MR" reindex --rebuild user1@example.test --config "$WORK/mailroom/mailroom.toml" > "$WORK/reindex.out" 2>&1; then
        phase "mailroom reindex user1 (full rebuild, server stopped)" "$(since "$t")"
      else
        echo "# mailroom reindex failed: $(tail -2 "$WORK/reindex.out")"
      fi
      "$MR" serve --config "$WORK/mailroom/mailroom.toml" 2>>"$WORK/mailroom/mailroom.log" &
      MR_PID=$!
      wait_port 127.0.0.1:$((BASE + 3))
    fi
  else
    echo "# mailroom has no reindex command: its index build is inside the load (or there is none yet)"
  fi
  touch "$WORK/loaded-mailroom"
  SPECS+=(-server "mailroom,127.0.0.1:$((BASE + 3)),user1@example.test,pass,$MR_PID")
fi

# start_dovecot NAME PORT [xapian]: a private Dovecot from the rig's config,
# IMAP only, in $WORK/dovecot-NAME. Sets DOVE_CONF.
start_dovecot() {
  local name=$1 port=$2 dir="$WORK/dovecot-$1"
  command -v dovecot >/dev/null || { echo "dovecot is not installed: run ../shared/peers/install-deps.sh" >&2; exit 1; }
  id rigmail >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin rigmail
  port_free "$port"
  mkdir -p "$dir"/{run,state,log,ssl,mail,home}
  chown rigmail:rigmail "$dir/mail" "$dir/home"
  echo "user1:{PLAIN}pass::::::" > "$dir/users.passwd"
  chmod 640 "$dir/users.passwd"; chgrp dovecot "$dir/users.passwd"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
    -keyout "$dir/ssl/key.pem" -out "$dir/ssl/cert.pem" 2>/dev/null
  sed -e "s#/tmp/rig-dovecot#$dir#g" -e "s#^instance_name = .*#instance_name = bench-$name-$$#" \
    -e 's#^protocols = .*#protocols = imap#' -e "s#port = 10143#port = $port#" \
    -e 's#port = 10993#port = 0#; s#port = 10110#port = 0#; s#port = 10995#port = 0#; s#port = 10024#port = 0#' \
    "$PEERS/dovecot/dovecot.conf" > "$dir/dovecot.conf"
  # Both: big mailboxes need more than the 256 MB address space default.
  echo "default_vsz_limit = 2G" >> "$dir/dovecot.conf"
  if [ "${3:-}" = xapian ]; then
    cat >> "$dir/dovecot.conf" <<'CONF'
# dovecot-fts-xapian as its README configures it: index at APPEND/delivery
# (fts_autoindex), searches always through the index (fts_enforced).
mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}
service indexer-worker {
  vsz_limit = 2G
}
CONF
  fi
  dovecot -c "$dir/dovecot.conf"
  wait_port "127.0.0.1:$port"
  DOVE_CONF="$dir/dovecot.conf"
}

install_xapian() {
  ls /usr/lib/dovecot/modules/*fts_xapian* >/dev/null 2>&1 && return 0
  echo "# installing dovecot-fts-xapian (apt-get)" >&2
  local tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-fts-xapian >&2 || {
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-fts-xapian >&2; }
  [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

if has dovecot && loaded dovecot; then
  start_dovecot plain $((BASE + 4))
  echo "# dovecot: reusing the mail loaded in $WORK"
  SPECS+=(-server "dovecot,127.0.0.1:$((BASE + 4)),user1,pass,$(cat "$WORK/dovecot-plain/run/master.pid")")
elif has dovecot; then
  start_dovecot plain $((BASE + 4))
  DP=$(cat "$WORK/dovecot-plain/run/master.pid")
  t=$(now); c=$(tree_cpu "$DP")
  "$SC" load -server "dovecot,127.0.0.1:$((BASE + 4)),user1,pass,$DP" -mbox "$CORPUS" -folders "$FOLDERS"
  phase "load dovecot (IMAP MULTIAPPEND)" "$(since "$t")"
  phase "  dovecot CPU during the load" "$(cpu_since "$c" "$DP")"
  touch "$WORK/loaded-dovecot"
  SPECS+=(-server "dovecot,127.0.0.1:$((BASE + 4)),user1,pass,$(cat "$WORK/dovecot-plain/run/master.pid")")
fi
if has xapian && loaded xapian; then
  install_xapian
  start_dovecot xapian $((BASE + 5)) xapian
  echo "# dovecot+xapian: reusing the mail and index built in $WORK"
  SPECS+=(-server "xapian,127.0.0.1:$((BASE + 5)),user1,pass,$(cat "$WORK/dovecot-xapian/run/master.pid")")
elif has xapian; then
  install_xapian
  start_dovecot xapian $((BASE + 5)) xapian
  XCONF=$DOVE_CONF
  XP=$(cat "$WORK/dovecot-xapian/run/master.pid")
  t=$(now); c=$(tree_cpu "$XP")
  "$SC" load -server "xapian,127.0.0.1:$((BASE + 5)),user1,pass,$XP" -mbox "$CORPUS" -folders "$FOLDERS"
  phase "load dovecot+xapian (IMAP MULTIAPPEND, indexing behind it)" "$(since "$t")"
  t2=$(now)
  /usr/bin/time -f "%U %S" -o "$WORK/doveadm.time" doveadm -c "$XCONF" index -u user1 '*'
  phase "dovecot+xapian doveadm index after the load (rest of the index build)" "$(since "$t2")"
  phase "dovecot+xapian load + index" "$(since "$t")"
  phase "  dovecot+xapian CPU during load + index (server processes and doveadm)" \
    "$(awk -v a="$(cpu_since "$c" "$XP")" '{printf "%.1f", a + $1 + $2}' "$WORK/doveadm.time")"
  touch "$WORK/loaded-xapian"
  SPECS+=(-server "xapian,127.0.0.1:$((BASE + 5)),user1,pass,$(cat "$WORK/dovecot-xapian/run/master.pid")")
fi

# 3. Sizes on disk.
mb() { du -sm "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
[ "$STREAM" != 0 ] || echo "# disk: corpus mbox $(mb "$CORPUS") MB"
if has mailroom; then
  echo "# disk: mailroom data directory $(mb "$WORK/mailroom/data") MB (mail.db and WAL $(mb "$WORK"/mailroom/data/*.db*) MB, blobs $(mb "$WORK/mailroom/data/blobs") MB)"
  for db in "$WORK"/mailroom/data/*.db; do
    [ -f "$db" ] || continue
    python3 - "$db" <<'PY' || true
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
try:
    rows = c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
except sqlite3.Error as e:
    sys.exit("# disk: %s: %s" % (sys.argv[1], e))
total = sum(r[1] for r in rows)
print("# disk: %s %d MB; largest tables and indexes:" % (sys.argv[1].rsplit("/", 1)[-1], total >> 20))
for name, size in rows[:12]:
    print("#   %-40s %8.1f MB" % (name, size / 1048576))
# The search index: FTS5 tables with their shadow tables (name_data, name_idx,
# ...) and whatever else is named like an index of text or threads.
vts = [r[0] for r in c.execute("SELECT name FROM sqlite_schema WHERE sql LIKE '%USING fts%'")]
def is_index(n):
    return any(n == v or n.startswith(v + "_") for v in vts) or \
        any(k in n.lower() for k in ("fts", "search", "text", "token", "thread", "conversation"))
idx = sum(s for n, s in rows if is_index(n))
print("# disk: of which the search/thread index (FTS tables %s; tables named fts/search/text/token/thread/conversation): "
      "%.1f MB; the rest %.1f MB" % (",".join(vts) or "none", idx / 1048576, (total - idx) / 1048576))
PY
  done
fi
has dovecot && echo "# disk: dovecot mail $(mb "$WORK/dovecot-plain/mail") MB (Maildir with its dovecot.index*)"
if has xapian; then
  x=$(find "$WORK/dovecot-xapian" -type d -name 'xapian-indexes' -print0 | xargs -0 -r du -sm | awk '{s += $1} END {print s + 0}')
  echo "# disk: dovecot+xapian mail $(mb "$WORK/dovecot-xapian/mail") MB, of which xapian-indexes $x MB"
fi

# 4. The queries.
t=$(now)
"$SC" query "${SPECS[@]}" -rounds "$ROUNDS" -mailbox INBOX -show "${SHOW:-5}" -diffs "${DIFFS:-/tmp/search-compare-diffs-$N.txt}"
phase "queries ($ROUNDS rounds + 1 untimed, all servers)" "$(since "$t")"
# What the servers logged as errors while answering (fts-xapian logs a query
# it could not parse and answers OK, with what it found, regardless).
for d in "$WORK"/dovecot-*; do
  [ -f "$d/log/dovecot.log" ] || continue
  n=$(grep -c 'Error:' "$d/log/dovecot.log" || true)
  echo "# log ${d##*/}: $n Error: lines$( [ "$n" -gt 0 ] && echo ", e.g. $(grep -m1 'Error:' "$d/log/dovecot.log" | cut -c1-200)")"
done
if has mailroom; then
  n=$(grep -c -i -E 'level=error|"level":"error"' "$WORK/mailroom/mailroom.log" || true)
  echo "# log mailroom: $n error lines$( [ "$n" -gt 0 ] && echo ", e.g. $(grep -m1 -i -E 'level=error|"level":"error"' "$WORK/mailroom/mailroom.log" | cut -c1-200)")"
fi
if has mailroom; then
  echo "# memory: mailroom peak RSS over the whole run (VmHWM, load included) $(awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$MR_PID/status")"
fi
echo "# phases (wall clock):$PHASES"
