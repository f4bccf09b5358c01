#!/bin/sh
# Runs every fuzz target of the module for the given time (default 30s).
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
t="${1:-30s}"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $target ($t)"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$t" "$pkg"
	done
done
