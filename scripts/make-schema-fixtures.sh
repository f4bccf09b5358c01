#!/usr/bin/env bash
# make-schema-fixtures.sh [sqlite-vN|postgres-vN …]
#
# Makes the fixtures of internal/store/upgradetest: for every schema version
# that landed on main (the first-parent history of HEAD), the binary of the
# commit where it landed is built in a temporary directory and run, and the
# data it made is stored under internal/store/upgradetest/testdata:
#
#   sqlite-vNN/data.tar.gz      the data directory (database and bodies)
#   postgres-vNN/dump.sql.gz    pg_dump of the database (plain SQL)
#   postgres-vNN/data.tar.gz    the data directory (DKIM keys …)
#   */manifest.txt              what that version's IMAP server showed
#
# The data is made by the old code itself (its CLI, SMTP and IMAP), never by
# today's code replaying old migrations. Without arguments every missing
# fixture is made, newest first; existing ones are kept.
#
# Arguments (or $FIXTURES) restrict it to the fixtures named. Needs git, go,
# python3 and PostgreSQL's binaries (initdb, pg_ctl, pg_dump); as root the
# cluster runs as the postgres user.
set -euo pipefail

repo=$(git rev-parse --show-toplevel)
out="$repo/internal/store/upgradetest/testdata"
client="$repo/scripts/schema-fixture-client.py"
mkdir -p "$out"
FIXTURES="${*:-${FIXTURES:-}}"
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
export PATH="$PATH:/usr/local/go/bin:$pgbin"

# versions FILE: "COMMIT VERSION" for each first-parent commit of HEAD that
# raised the number of migrations in FILE (the entries of its migrations
# slice; the "// N:" comments were not always there).
versions() {
	local f=$1 prev=0 c n
	for c in $(git -C "$repo" log --first-parent --reverse --format=%H -- "$f"); do
		n=$(git -C "$repo" show "$c:$f" 2>/dev/null | python3 "$client" count-migrations)
		if [ -n "$n" ] && [ "$n" -gt "$prev" ]; then
			echo "$c $n"
			prev=$n
		fi
	done
}

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# has_key COMMIT KEY: whether that commit's configuration knows toml key KEY.
has_key() { git -C "$repo" grep -q "toml:\"$2\"" "$1" -- internal/config; }

build() { # COMMIT DIR
	local c=$1 dir=$2
	mkdir -p "$dir/src"
	git -C "$repo" archive "$c" | tar -x -C "$dir/src"
	(cd "$dir/src" && go build -buildvcs=false -o "$dir/mailroom" ./cmd/mailroom)
}

# run COMMIT BIN DIR BACKEND DSN: makes the data with the old binary and
# writes DIR/manifest.txt.
run() {
	local c=$1 bin=$2 dir=$3 backend=$4 dsn=$5
	local smtp sub imap pop3 cfg="$dir/mailroom.toml"
	smtp=$(freeport) sub=$(freeport) imap=$(freeport) pop3=$(freeport)
	mkdir -p "$dir/data"
	{
		echo 'hostname = "mail.example.org"'
		echo "data_dir = \"$dir/data\""
		echo 'shutdown_timeout = "5s"'
		echo '[listen]'
		echo "smtp = \"127.0.0.1:$smtp\""
		echo "submission = \"127.0.0.1:$sub\""
		echo "imap = \"127.0.0.1:$imap\""
		echo "pop3 = \"127.0.0.1:$pop3\""
		for k in submissions imaps pop3s http https managesieve debug; do
			if has_key "$c" "$k"; then echo "$k = \"\""; fi
		done
		echo '[auth]'
		echo 'allow_insecure = true'
		if has_key "$c" servers; then
			# A DNS server that is not there: lookups fail at once, so
			# the queued message stays queued.
			printf '[dns]\nservers = ["127.0.0.1:%s"]\n' "$(freeport)"
		fi
		if [ "$backend" = postgres ]; then
			printf '[store]\nbackend = "postgres"\ndsn = "%s"\n' "$dsn"
		fi
	} >"$cfg"
	"$bin" domain add example.org --config "$cfg" || return 1
	echo alice-secret-1 | "$bin" user add alice@example.org --password-stdin --config "$cfg" || return 1
	echo bob-secret-22 | "$bin" user add bob@example.org --password-stdin --config "$cfg" || return 1
	"$bin" alias add info@example.org alice@example.org --config "$cfg" || return 1
	"$bin" serve --config "$cfg" >"$dir/serve.log" 2>&1 &
	local pid=$!
	# serve logs that it started once every listener it has is bound (the
	# first versions had fewer; the client skips what is not there).
	for _ in $(seq 150); do
		grep -q 'mailroom started' "$dir/serve.log" && break
		sleep 0.1
	done
	if ! python3 "$client" fill "$smtp" "$sub" "$imap" || ! python3 "$client" manifest "$imap" "$pop3" "$dir/manifest.txt"; then
		kill "$pid" || true
		wait "$pid" || true
		tail -20 "$dir/serve.log" >&2
		return 1
	fi
	kill -TERM "$pid"
	wait "$pid" || true
	# The queue as the old version's CLI lists it (if it has one).
	if "$bin" queue list --config "$cfg" 2>/dev/null | grep -q friend@example.net; then
		echo "queued alice@example.org friend@example.net" >>"$dir/manifest.txt"
	fi
}

pg_start() { # DIR: a private cluster listening on DIR/sock only
	local dir=$1
	mkdir -p "$dir/pg/sock"
	chmod 755 "$dir"
	if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir/pg"; fi
	"${as[@]}" initdb -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
	"${as[@]}" pg_ctl -D "$dir/pg/data" -w -l "$dir/pg/log" \
		-o "-k $dir/pg/sock -c listen_addresses= -c fsync=off" start >/dev/null
	"${as[@]}" createdb -h "$dir/pg/sock" -U postgres mailroom
}

pg_start_again() {
	"${as[@]}" pg_ctl -D "$1/pg/data" -w -l "$1/pg/log" -o "-k $1/pg/sock -c listen_addresses= -c fsync=off" start >/dev/null
}

pg_stop() { "${as[@]}" pg_ctl -D "$1/pg/data" -m fast stop >/dev/null || true; }

make_one() { # BACKEND VERSION COMMIT
	local backend=$1 v=$2 c=$3 name dir tmp
	name=$(printf '%s-v%02d' "$backend" "$v")
	dir="$out/$name"
	if [ -f "$dir/manifest.txt" ]; then
		return
	fi
	if [ "$backend" = postgres ] && ! has_key "$c" backend; then
		# PostgreSQL schema versions 1 and 2 landed before the
		# configuration could select PostgreSQL: no installation has them.
		echo "$name: that version cannot run on PostgreSQL (no store.backend key), so no installation has it" >&2
		return
	fi
	echo "== $name from $(git -C "$repo" log -1 --format='%h %s' "$c" | cut -c1-70)" >&2
	tmp=$(mktemp -d /tmp/schema-fixture.XXXXXX)
	chmod 755 "$tmp"
	# Called in an || list, where set -e does not apply: every step checks.
	build "$c" "$tmp" || return 1
	if [ "$backend" = sqlite ]; then
		run "$c" "$tmp/mailroom" "$tmp" sqlite "" || return 1
	else
		pg_start "$tmp" || return 1
		if ! run "$c" "$tmp/mailroom" "$tmp" postgres "host=$tmp/pg/sock user=postgres dbname=mailroom sslmode=disable"; then
			pg_stop "$tmp"
			return 1
		fi
		"${as[@]}" pg_dump -h "$tmp/pg/sock" -U postgres --no-owner --no-privileges mailroom | gzip -9n >"$tmp/dump.sql.gz" || return 1
		pg_stop "$tmp"
	fi
	# The version the old binary really made, or the fixture is misnamed.
	local got
	if [ "$backend" = sqlite ]; then
		got=$(python3 "$client" sqlite-version "$tmp/data/mail.db")
	else
		pg_start_again "$tmp" && got=$("${as[@]}" psql -h "$tmp/pg/sock" -U postgres -At -c 'SELECT version FROM mailroom_schema' mailroom)
		pg_stop "$tmp"
	fi
	if [ "$got" != "$v" ]; then
		echo "$name: the binary of $c made schema version $got" >&2
		return 1
	fi
	mkdir -p "$dir"
	tar -C "$tmp/data" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | gzip -9n >"$dir/data.tar.gz"
	[ "$backend" = postgres ] && mv "$tmp/dump.sql.gz" "$dir/"
	# The manifest last: its presence marks a complete fixture.
	mv "$tmp/manifest.txt" "$dir/manifest.txt"
	rm -rf "$tmp"
}

jobs=()
while read -r c v; do jobs+=("sqlite $v $c"); done < <(versions internal/store/sqlitestore/schema.go)
while read -r c v; do jobs+=("postgres $v $c"); done < <(versions internal/store/pgstore/schema.go)
# Newest first: the versions most installations upgrade from.
mapfile -t jobs < <(printf '%s\n' "${jobs[@]}" | sort -k2,2nr -k1,1r)
for j in "${jobs[@]}"; do
	set -- $j
	want=$(printf '%s-v%02d' "$1" "$2")
	if [ -n "${FIXTURES:-}" ] && ! grep -qw "$want" <<<"$FIXTURES"; then
		continue
	fi
	make_one "$1" "$2" "$3" || echo "!! $want failed" >&2
done
