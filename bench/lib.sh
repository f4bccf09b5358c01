# What the bench scripts share; source it from the repository root.

# start_mailroom WORK 'KEY=ADDR …' [EXTRA_TOML] builds ./cmd/mailroom into
# WORK, writes WORK/mailroom.toml with only the named listeners on (a
# self-signed certificate, warnings-only log, EXTRA_TOML for the rest),
# creates the domain example.test with users user1..user100 (password
# "pass"), and starts `mailroom serve`. It sets MR (the binary) and MR_PID.
start_mailroom() {
  local work=$1 on=$2 extra=${3:-} k kv v i
  go build -o "$work/mailroom" ./cmd/mailroom
  MR="$work/mailroom"
  {
    echo "hostname = \"localhost\""
    echo "data_dir = \"$work/data\""
    echo "[listen]"
    for k in smtp submission submissions imap imaps pop3 pop3s http https debug; do
      v=""
      for kv in $on; do [ "${kv%%=*}" = "$k" ] && v="${kv#*=}"; done
      echo "$k = \"$v\""
    done
    echo "[tls]"
    echo "self_signed = true"
    printf '%s\n' "$extra"
    echo "[log]"
    echo 'level = "warn"'
  } > "$work/mailroom.toml"
  "$MR" domain add example.test --config "$work/mailroom.toml" >/dev/null
  for i in $(seq 1 100); do
    echo pass | "$MR" user add "user$i@example.test" --password-stdin --config "$work/mailroom.toml" >/dev/null
  done
  "$MR" serve --config "$work/mailroom.toml" 2>"$work/mailroom.log" &
  MR_PID=$!
}
