#!/bin/sh
# Builds the host-built image (Containerfile.prebuilt) and runs `mailroom version`
# in it. Needs go and a running docker daemon, no registry. From anywhere in the
# repository: contrib/container/build-test.sh [TAG]
set -eu
tag=${1:-mailroom:build-test}
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v docker >/dev/null || { echo "build-test: docker not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "build-test: no docker daemon" >&2; exit 2; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/mailroom" ./cmd/mailroom)
cp "$root/contrib/container/Containerfile.prebuilt" "$ctx/"
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/rootfs/etc/mailroom" "$ctx/data"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
cp -r /usr/share/zoneinfo "$ctx/rootfs/usr/share/"

docker build -f "$ctx/Containerfile.prebuilt" -t "$tag" "$ctx"
out=$(docker run --rm --entrypoint /mailroom "$tag" version)
echo "$out"
case $out in
mailroom\ *) ;;
*) echo "build-test: unexpected output of mailroom version" >&2; exit 1 ;;
esac
user=$(docker image inspect -f '{{.Config.User}}' "$tag")
[ "$user" = "10000:10000" ] || { echo "build-test: image user $user, want 10000:10000" >&2; exit 1; }
echo "build-test: ok ($tag)"
