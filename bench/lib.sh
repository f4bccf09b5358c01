# What the bench scripts share; source it from the repository root.

# start_mailroom WORK 'KEY=ADDR …' [EXTRA_TOML] [DSN] builds ./cmd/mailroom
# into WORK, writes WORK/mailroom.toml with only the named listeners on (a
# self-signed certificate, warnings-only log, EXTRA_TOML for the rest),
# creates the domain example.test with users user1..user100 (password
# "pass"), and starts `mailroom serve`. It sets MR (the binary) and MR_PID.
# With DSN the store is that PostgreSQL database (start_pg) instead of
# SQLite in WORK/data; with MR_NO_ACCOUNTS=1 the domain and users are not
# created (a second node on a database that has them).
start_mailroom() {
  local work=$1 on=$2 extra=${3:-} dsn=${4:-} k kv v i
  mkdir -p "$work"
  [ -x "$work/mailroom" ] || go build -o "$work/mailroom" ./cmd/mailroom
  MR="$work/mailroom"
  {
    echo "hostname = \"localhost\""
    echo "data_dir = \"$work/data\""
    echo "[listen]"
    for k in smtp submission submissions imap imaps pop3 pop3s managesieve http https debug metrics; do
      v=""
      for kv in $on; do [ "${kv%%=*}" = "$k" ] && v="${kv#*=}"; done
      echo "$k = \"$v\""
    done
    echo "[tls]"
    echo "self_signed = true"
    printf '%s\n' "$extra"
    if [ -n "$dsn" ]; then
      echo "[store]"
      echo 'backend = "postgres"'
      echo "dsn = \"$dsn\""
    fi
    echo "[log]"
    echo 'level = "warn"'
  } > "$work/mailroom.toml"
  if [ "${MR_NO_ACCOUNTS:-0}" != 1 ]; then
    "$MR" domain add example.test --config "$work/mailroom.toml" >/dev/null
    for i in $(seq 1 100); do
      echo pass | "$MR" user add "user$i@example.test" --password-stdin --config "$work/mailroom.toml" >/dev/null
    done
  fi
  "$MR" serve --config "$work/mailroom.toml" 2>"$work/mailroom.log" &
  MR_PID=$!
}

# wait_port HOST:PORT waits (up to 30 s) until something accepts there.
wait_port() {
  local i
  for i in $(seq 1 300); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# start_pg WORK starts a private PostgreSQL cluster in WORK/pg (Debian's
# newest /usr/lib/postgresql/*/bin, or $PG_BINDIR): initdb, a Unix socket
# in WORK/pg/sock and no TCP listener, database "mailroom". It is durable
# like SQLite's synchronous=FULL: fsync, synchronous_commit and
# full_page_writes on (PostgreSQL's defaults, stated so that nobody
# measures an unsafe setting): a commit returns once its WAL is on disk.
# As root it runs as the postgres user. Sets PG_DSN; stop_pg stops it.
start_pg() {
  local work=$1
  PG_BIN=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  PG_DIR="$work/pg"
  mkdir -p "$PG_DIR/sock"
  AS_PG=()
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$work"
    chown -R postgres: "$PG_DIR"
    AS_PG=(runuser -u postgres --)
  fi
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  cat >> "$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 128MB
CONF
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" start -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/log" >/dev/null
  "${AS_PG[@]}" "$PG_BIN/createdb" -h "$PG_DIR/sock" -U postgres mailroom
  PG_DSN="host=$PG_DIR/sock user=postgres dbname=mailroom sslmode=disable"
}

# stop_pg stops the cluster start_pg started (if any).
stop_pg() {
  [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" stop -D "$PG_DIR/data" -m fast -w -t 60 >/dev/null 2>&1 || true
}

# start_nxdns PORT answers every DNS query on 127.0.0.1:PORT (UDP) with
# NXDOMAIN at once, for [dns] servers: the MX's sender checks (SPF, DKIM,
# DMARC, iprev) then find no records instead of waiting for a resolver
# this machine may not reach (with none reachable, every message waits
# for DNS timeouts and the figures measure those). Sets NXDNS_PID.
start_nxdns() {
  python3 - "$1" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(4096)
    if len(d) < 12 or d[2] & 0x80:
        continue
    i = 12
    while i < len(d) and d[i] != 0:
        i += d[i] + 1
    # The header with QR, the query's RD, RA and NXDOMAIN; the question only.
    flags = bytes([0x80 | (d[2] & 0x01), 0x80 | 3])
    s.sendto(d[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + d[12:i + 5], a)
PY
  NXDNS_PID=$!
}

# smtp_run NAME REUSE PORT [IMAP_PORT] runs the peers' smtp-load.sh (S
# sessions of M messages of SIZE bytes, from the caller's variables, PEERS
# its directory) against 127.0.0.1:PORT, logs its lines on stderr as NAME,
# and prints the rate: with IMAP_PORT the end-to-end rate (Dovecot's IMAP
# STATUS polled until every message arrived), else the SMTP acceptance rate.
smtp_run() {
  local out
  if [ -n "${4:-}" ]; then
    out=$(REUSE=$2 IMAP_PORT=$4 "$PEERS/smtp-load.sh" 127.0.0.1 "$3" "$S" "$M" "$SIZE" 2>&1)
    echo "$out" | grep -E '^(smtp-load|delivery):' | sed "s/^/$1 reuse=$2: /" >&2
    echo "$out" | sed -n 's/^delivery: .* = \([0-9.]*\) msgs\/s end-to-end/\1/p'
  else
    out=$(REUSE=$2 "$PEERS/smtp-load.sh" 127.0.0.1 "$3" "$S" "$M" "$SIZE" 2>&1)
    echo "$out" | grep -E '^smtp-load:' | sed "s/^/$1 reuse=$2: /" >&2
    echo "$out" | sed -n 's/^smtp-load: .* = \([0-9.]*\) msgs\/s.*/\1/p'
  fi
}
