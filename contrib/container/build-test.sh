#!/bin/sh
# Builds the host-built image (Containerfile.prebuilt) and runs `mailroom version`
# in it, with Docker when a daemon answers, else with buildah (daemonless; Debian's
# package). No registry is needed: the image is FROM scratch. From anywhere in the
# repository: contrib/container/build-test.sh [TAG]
set -eu
tag=${1:-mailroom:build-test}
root=$(cd "$(dirname "$0")/../.." && pwd)
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	tool=docker
elif command -v buildah >/dev/null; then
	tool=buildah
	# vfs needs no overlay mounts, so it works inside containers and CI jobs too.
	b="buildah --storage-driver vfs"
else
	echo "build-test: neither a docker daemon nor buildah" >&2
	exit 2
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/mailroom" ./cmd/mailroom)
cp "$root/contrib/container/Containerfile.prebuilt" "$ctx/"
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/rootfs/etc/mailroom" "$ctx/data"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
cp -r /usr/share/zoneinfo "$ctx/rootfs/usr/share/"

if [ $tool = docker ]; then
	docker build -f "$ctx/Containerfile.prebuilt" -t "$tag" "$ctx"
	out=$(docker run --rm --entrypoint /mailroom "$tag" version)
	user=$(docker image inspect -f '{{.Config.User}}' "$tag")
else
	$b bud --quiet -f "$ctx/Containerfile.prebuilt" -t "$tag" "$ctx" >/dev/null
	c=$($b from "$tag")
	out=$($b run --isolation chroot "$c" -- /mailroom version)
	$b rm "$c" >/dev/null
	user=$($b inspect -f '{{.OCIv1.Config.User}}' "$tag")
fi
echo "$out"
case $out in
mailroom\ *) ;;
*) echo "build-test: unexpected output of mailroom version" >&2; exit 1 ;;
esac
[ "$user" = "10000:10000" ] || { echo "build-test: image user $user, want 10000:10000" >&2; exit 1; }
echo "build-test: ok ($tag, $tool)"
