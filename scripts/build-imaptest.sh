#!/bin/bash
# Builds Dovecot's imaptest (MIT; third_party/imaptest) into DEST:
# DEST/imaptest (the binary) and DEST/tests (its scripted compliance groups).
# Usage: scripts/build-imaptest.sh [DEST]   (default: bin/imaptest)
# Needs Debian's dovecot-dev (+ dovecot-core for libdovecot.so) and the
# autotools; installs them when run as root and they are missing.
# Idempotent: does nothing when DEST/imaptest already runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/bin/imaptest}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
if [ -x "$DEST/imaptest" ] && "$DEST/imaptest" --help >/dev/null 2>&1 && [ -d "$DEST/tests" ]; then exit 0; fi

need=""
for p in dovecot-dev dovecot-core autoconf automake libtool pkg-config make gcc; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || { echo "build-imaptest: need root to install:$need" >&2; exit 1; }
	# dovecot-core is a system service: keep it from starting (a temporary policy-rc.d).
	tmp_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		tmp_policy=1
	fi
	trap '[ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
	[ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	trap - EXIT
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$ROOT"/third_party/imaptest/imaptest-release-2.3-*.tar.gz -C "$work"
cd "$work/imaptest"
# Debian 12's security updates give imap_parser_create() a 4th argument
# (params); the tarball is patched for that. Older headers take 3: undo it.
if ! grep -A3 'imap_parser_create(' /usr/include/dovecot/imap-parser.h | grep -q params; then
	sed -i 's/, (size_t)-1, NULL)/, (size_t)-1)/' src/commands.c src/imap-client.c src/test-parser.c
fi
./autogen.sh >/dev/null 2>&1
./configure --with-dovecot=/usr/lib/dovecot LDFLAGS="-Wl,-rpath,/usr/lib/dovecot" >/dev/null
make -j"$(nproc)" >/dev/null
cp src/imaptest "$DEST/imaptest"
rm -rf "$DEST/tests"
cp -r src/tests "$DEST/tests"
"$DEST/imaptest" --help >/dev/null 2>&1
echo "imaptest built: $DEST/imaptest, tests in $DEST/tests"
