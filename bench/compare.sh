#!/bin/bash
# Every side-by-side comparison with the peers in ../shared/peers on this
# machine, one after the other, and a summary of the ratios against the goals
# (issue 8). Each script starts Mailroom and the peers itself, loads them with
# the same mail and alternates rounds between them:
#
#   bench/smtp-compare.sh   SMTP durable end-to-end vs Postfix -> Dovecot (goal >= 3x)
#   bench/pop3-compare.sh   POP3 cycles vs Dovecot (goal >= 2x)
#   bench/imap-compare.sh   IMAP persistent (>= 2x) and login/logout (>= 3x) vs
#                           Dovecot, and memory per idle IMAP connection
#   bench/imap-idle.sh      10,000 IDLE connections, Mailroom alone (<= 30 KiB each)
#
#   bench/compare.sh [ROUNDS]      # default 3 rounds; takes about 10 minutes
#
# Needs the peers installed (../shared/peers/install-deps.sh) and `ulimit -Hn`
# of at least 12000. Paste its output into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"
OUT=$(mktemp -d /tmp/mailroom-compare.XXXXXX)
echo "# bench/compare.sh $ROUNDS — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
bench/smtp-compare.sh "$ROUNDS" 250 > "$OUT/smtp" 2> "$OUT/smtp.err"
bench/pop3-compare.sh "$ROUNDS" 10 > "$OUT/pop3" 2> "$OUT/pop3.err"
bench/imap-compare.sh "$ROUNDS" 10 2000 > "$OUT/imap" 2> "$OUT/imap.err"
GOMEMLIMIT=250MiB bench/imap-idle.sh 10000 40 > "$OUT/idle" 2> "$OUT/idle.err"
for f in smtp pop3 imap idle; do
  echo "## $f"
  grep -v '^#' "$OUT/$f" || true
done
echo "## goals"
python3 - "$OUT" <<'PY'
import re, sys, pathlib
out = pathlib.Path(sys.argv[1])
text = {f: (out / f).read_text() for f in ("smtp", "pop3", "imap", "idle")}
def ratios(s):
    return [float(x) for x in re.findall(r"ratio ([0-9.]+)x", s)]
checks = []
smtp = ratios(text["smtp"])
if smtp: checks.append(("SMTP durable end-to-end vs Postfix->Dovecot", min(smtp), 3))
pop3 = ratios(text["pop3"])
if pop3: checks.append(("POP3 vs Dovecot", min(pop3), 2))
for line in text["imap"].splitlines():
    m = re.match(r"(persistent|login/logout): .*commands/s.*ratio ([0-9.]+)x", line)
    if m: checks.append(("IMAP " + m.group(1) + " commands/s vs Dovecot", float(m.group(2)), 2 if m.group(1) == "persistent" else 3))
m = re.search(r"after a collection \(([0-9.]+) KiB per connection\)", text["idle"])
for name, v, goal in checks:
    print(f"{'met' if v >= goal else 'MISSED'}: {name}: {v:.2f}x (goal >= {goal}x)")
if m:
    v = float(m.group(1))
    print(f"{'met' if v <= 30 else 'MISSED'}: memory per idle IMAP connection (10,000 in IDLE, GOMEMLIMIT=250MiB): {v:.1f} KiB (goal <= 30)")
PY
rm -rf "$OUT"
