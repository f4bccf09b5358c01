#!/bin/sh
# Installs what `make test` needs on a fresh Debian machine, idempotently:
# Debian packages (as root, only those missing), the npm packages of
# internal/jmap/jamtest and pinned Go tools in ./bin.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# Debian packages the tests drive. Add to this list as tests start using
# real external clients (swaks, curl, fetchmail, mbsync …). chromium runs
# the webmail's end-to-end tests (browser_test.go in internal/web and
# internal/e2e). python3-dkim (dkimpy, with python3-authres) seals ARC chains for internal/msgauth
# and internal/smtp tests: an independent implementation to check ours against.
# postgresql: the tests of internal/store/pgstore start private clusters
# with its binaries (/usr/lib/postgresql/<major>/bin; see pgstore/pgtest),
# never the package's own cluster. sieve-connect is the ManageSieve client
# internal/managesieve's tests drive (upload, list, activate, download, delete).
# buildah builds the container image (contrib/), systemd brings systemd-analyze,
# which verifies the unit file; dovecot-imapd is the IMAP server mailroom migrate
# copies from in internal/imapmigrate's tests.
APT_PACKAGES="gcc buildah systemd python3 python3-dkim python3-authres swaks curl fetchmail getmail6 isync offlineimap3 neomutt chromium postgresql sieve-connect dovecot-imapd"

missing=""
for p in $APT_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-test-deps: need root to install:$missing" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

# Node.js runs internal/jmap/jamtest, where the jmap-jam client library
# drives the JMAP server. Installed only if node or npm is missing: a
# machine may have them from elsewhere (NodeSource's nodejs conflicts with
# Debian's npm package), and any Node from 18 on will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-test-deps: need root to install nodejs and npm" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
# The npm packages exactly as package-lock.json pins them; npm ci again
# only when the lock file changed since the last install. internal/webapp
# is the webmail's browser app (TypeScript, esbuild, Biome, axe-core for
# its accessibility test); its built dist/ is committed, so building
# Mailroom needs none of this.
for dir in internal/jmap/jamtest internal/webapp; do
	if ! [ -f "$dir/node_modules/.package-lock.json" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
		cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock.json"
	fi
done

# Pinned Go tools.
STATICCHECK_VERSION=v0.8.2
mkdir -p bin
if ! [ -x bin/staticcheck ] || ! bin/staticcheck -version 2>/dev/null | grep -q "$STATICCHECK_VERSION"; then
	GOBIN="$(pwd)/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# Dovecot's imaptest, the IMAP compliance suite internal/imap/imaptest_test.go
# runs (MAILROOM_IMAPTEST, set by the Makefile).
./scripts/build-imaptest.sh bin/imaptest
