#!/bin/bash
# bench/junk-compare.sh [CORPUS_DIR]
#
# Mailroom's junk classifier (internal/junk) against Debian's bogofilter and
# SpamAssassin's Bayes classifier alone, on the SpamAssassin public corpus
# (fetched with scripts/fetch-spam-corpus.sh into CORPUS_DIR, default
# $MAILROOM_SPAM_CORPUS or .cache/spam-corpus). All three learn the same
# train split (about 70 %, by a hash of each file name: junkcorpus.Split) and
# classify the same test split. For each it prints spam caught and ham
# wrongly flagged at several score thresholds and at the tool's own default,
# and the classification speed on one core (per wall and per CPU second:
# the machine may be shared). Installs bogofilter and
# spamassassin with apt-get if missing. Takes about 5 minutes, mostly
# SpamAssassin's. Paste its output into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
CORPUS="${1:-${MAILROOM_SPAM_CORPUS:-.cache/spam-corpus}}"
# A directory that already holds messages in the corpus layout (your own
# mail, say) is used as it is.
if ! ls "$CORPUS"/*/*.txt > /dev/null 2>&1; then
	scripts/fetch-spam-corpus.sh "$CORPUS"
fi
CORPUS=$(cd "$CORPUS" && pwd)

missing=""
for p in bogofilter spamassassin; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

WORK=$(mktemp -d /tmp/mailroom-junk.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/junkeval" ./bench/junkeval
"$WORK/junkeval" -corpus "$CORPUS" -lists "$WORK/lists"
L="$WORK/lists"
THRESHOLDS="0.5 0.7 0.9 0.99"

now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ printf "%.0f", $1 / ($3 - $2) }'; }
# cputime FILE CMD…: runs CMD, appending its user+system CPU seconds to FILE.
# Speeds are given per CPU second too: on a shared machine wall time also
# counts the waits for a core.
cputime() {
	local f=$1 TIMEFORMAT='%U %S'
	shift
	{ time "$@" 2>/dev/null; } 2>> "$f"
}
cpurate() { awk -v n="$1" '{ s += $1 + $2 } END { printf "%.0f", n / s }' "$2"; }
label() { # label spam|ham < "file score" lines > "file label score"
	awk -v l="$1" '{ print $1, l, $2 }'
}

echo "# bench/junk-compare.sh — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# corpus: $CORPUS; train $(cat "$L/train-spam.list" | wc -l) spam + $(cat "$L/train-ham.list" | wc -l) ham, test $(cat "$L/test-spam.list" | wc -l) spam + $(cat "$L/test-ham.list" | wc -l) ham"
echo "# $(bogofilter -V 2>&1 | head -1); $(spamassassin -V | head -1)"

# --- Mailroom: train and classify in one process on one core.
echo
echo "## Mailroom (internal/junk, default threshold in the last line)"
GOMAXPROCS=1 "$WORK/junkeval" -corpus "$CORPUS" -eval -out "$WORK/mailroom.scores" > "$WORK/mailroom.out"
for t in $THRESHOLDS; do echo "  at $t: $("$WORK/junkeval" -scores "$WORK/mailroom.scores" -threshold "$t")"; done
echo "  hindsight: $("$WORK/junkeval" -scores "$WORK/mailroom.scores" -zerofp)"
echo "  default: $(cat "$WORK/mailroom.out")"
echo "  BenchmarkClassify (one core, test split, tokenize + classify):"
MAILROOM_SPAM_CORPUS="$CORPUS" go test -run '^$' -bench '^BenchmarkClassify$' -benchtime 3s -count 1 -cpu 1 ./internal/junk/ |
	grep '^Benchmark' | sed 's/^/    /'

# --- bogofilter: its default configuration (Debian's /etc/bogofilter.cf).
echo
echo "## bogofilter (default configuration)"
B="$WORK/bogofilter"
mkdir -p "$B"
xargs bogofilter -d "$B" -s -B < "$L/train-spam.list"
xargs bogofilter -d "$B" -n -B < "$L/train-ham.list"
# bogofilter's exit status tells the last verdict (1 ham, 2 unsure), so
# xargs fails; that the output has a line per message is the check.
t0=$(now)
cputime "$B/cpu" sh -c "xargs bogofilter -d '$B' -TT -B < '$L/test-spam.list' > '$B/spam.out' || true"
cputime "$B/cpu" sh -c "xargs bogofilter -d '$B' -TT -B < '$L/test-ham.list' > '$B/ham.out' || true"
t1=$(now)
for c in spam ham; do
	[ "$(wc -l < "$B/$c.out")" = "$(wc -l < "$L/test-$c.list")" ] || { echo "bogofilter failed on test-$c" >&2; exit 1; }
	label "$c" < "$B/$c.out" >> "$B/scores"
done
for t in $THRESHOLDS; do echo "  at $t: $("$WORK/junkeval" -scores "$B/scores" -threshold "$t")"; done
echo "  hindsight: $("$WORK/junkeval" -scores "$B/scores" -zerofp)"
cutoff=$(bogofilter -Q | awk '$1 == "spam_cutoff" { print $3 }')
echo "  default: bogofilter $("$WORK/junkeval" -scores "$B/scores" -threshold "$cutoff" | sed 's/ *(threshold.*//')  $(rate "$(cat "$L"/test-*.list | wc -l)" "$t0" "$t1") msgs/s, $(cpurate "$(cat "$L"/test-*.list | wc -l)" "$B/cpu") msgs/cpu-s (spam_cutoff $cutoff)"

# --- SpamAssassin: the Bayes classifier alone. A private configuration
# (only the Check and Bayes plugins, only the Bayes rules), database and
# home; no network tests, no auto-learning.
echo
echo "## SpamAssassin Bayes (sa-learn; Bayes probability only)"
S="$WORK/sa"
mkdir -p "$S/rules" "$S/site" "$S/home" "$S/db"
cp /usr/share/spamassassin/{10_default_prefs.cf,20_aux_tlds.cf,23_bayes.cf,60_bayes_stopwords.cf} "$S/rules/"
printf 'loadplugin Mail::SpamAssassin::Plugin::Check\nloadplugin Mail::SpamAssassin::Plugin::Bayes\n' > "$S/site/init.pre"
printf 'use_bayes 1\nbayes_auto_learn 0\nuse_bayes_rules 1\nbayes_path %s/db/bayes\n' "$S" > "$S/site/local.cf"
sa() { HOME="$S/home" "$@"; }
sa sa-learn --siteconfigpath "$S/site" --configpath "$S/rules" --spam -f "$L/train-spam.list" > /dev/null 2>&1
sa sa-learn --siteconfigpath "$S/site" --configpath "$S/rules" --ham -f "$L/train-ham.list" > /dev/null 2>&1
t0=$(now)
cputime "$S/cpu" sa perl bench/junk-sa-bayes.pl "$S/rules" "$S/site" spam < "$L/test-spam.list" > "$S/scores"
cputime "$S/cpu" sa perl bench/junk-sa-bayes.pl "$S/rules" "$S/site" ham < "$L/test-ham.list" >> "$S/scores"
t1=$(now)
[ "$(wc -l < "$S/scores")" = "$(cat "$L"/test-*.list | wc -l)" ] || { echo "SpamAssassin failed" >&2; exit 1; }
for t in $THRESHOLDS; do echo "  at $t: $("$WORK/junkeval" -scores "$S/scores" -threshold "$t")"; done
echo "  hindsight: $("$WORK/junkeval" -scores "$S/scores" -zerofp)"
# SpamAssassin's strongest Bayes rule, BAYES_99, fires from 0.99.
echo "  default: spamassassin-bayes $("$WORK/junkeval" -scores "$S/scores" -threshold 0.99 | sed 's/ *(threshold.*//')  $(rate "$(cat "$L"/test-*.list | wc -l)" "$t0" "$t1") msgs/s, $(cpurate "$(cat "$L"/test-*.list | wc -l)" "$S/cpu") msgs/cpu-s (BAYES_99 and up)"
