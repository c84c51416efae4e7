#!/usr/bin/env bash
# The main job on the bundled default, as far as tspod goes today: build the hello image's root
# filesystem (busybox-static + images/hello/rootfs), hash it with the WASM core, extract it safely,
# and run its app in a chroot. Grows with each issue (signing, fetch, apply manifests/hello.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/tspod-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

rootfs="$work/rootfs"
mkdir -p "$rootfs/bin"
cp -a images/hello/rootfs/. "$rootfs/"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh cat echo hostname; do ln -s busybox "$rootfs/bin/$applet"; done
tar --format=posix --numeric-owner --owner=0 --group=0 -czf "$work/hello.tar.gz" -C "$rootfs" .

echo "== tspod util sha512 (WASM core)"
gunzip -c "$work/hello.tar.gz" | node bin/tspod.js util sha512 -
echo "== tspod util extract"
node bin/tspod.js util extract --digest sha512 "$work/hello.tar.gz" "$work/extracted"
echo "== run /bin/hello in the extracted tree"
if [ "$(id -u)" -eq 0 ]; then
  chroot "$work/extracted" /bin/hello
else
  echo "(not root: skipping the chroot)"
fi
