#!/usr/bin/env bash
# The main job on the bundled default, as far as tspod goes today: build the hello image
# (images/hello + busybox-static) as an ACI, sign it, trust the signing key, fetch it into a
# store (signature verified), render it and run its app in a chroot. Everything happens in a
# temporary directory; nothing on the host is changed. Grows with each issue (apply manifests/hello.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/tspod-demo.XXXXXX)
export GNUPGHOME="$work/gnupg"
cleanup() { gpgconf --kill all 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tspod() { node bin/tspod.js --dir "$work/data" --local-config "$work/etc" --system-config "$work/usr-lib" "$@"; }

echo "== build the hello image from images/hello (+ busybox-static)"
mkdir -p "$work/layout/rootfs/bin"
cp -a images/hello/rootfs/. "$work/layout/rootfs/"
cp images/hello/manifest "$work/layout/manifest"
cp /bin/busybox "$work/layout/rootfs/bin/busybox"
for applet in sh cat echo hostname; do ln -s busybox "$work/layout/rootfs/bin/$applet"; done
tspod image build "$work/layout" "$work/hello.aci"

echo "== sign it with a throwaway key, and trust that key for example.com/hello"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'tspod demo <demo@example.com>' ed25519 sign never 2>/dev/null
gpg --batch --armor --export-secret-keys demo@example.com > "$work/secret.asc"
gpg --batch --armor --export demo@example.com > "$work/key.asc"
tspod image sign --key "$work/secret.asc" "$work/hello.aci"
tspod trust --prefix example.com/hello --skip-fingerprint-review "$work/key.asc"

echo "== fetch it (signature verified) and list the store"
tspod fetch "$work/hello.aci"
tspod image list

echo "== apply manifests/hello.toml: the pod file, linted, then run (detached) from the signed image"
if [ "$(id -u)" -eq 0 ]; then
  tspod lint manifests/hello.toml
  tspod apply manifests/hello.toml
  tspod status --wait=30s hello
  tspod logs hello
  tspod apply --dry-run manifests/hello.toml
  tspod gc --grace-period 0s >/dev/null
else
  echo "(not root: pods need root; skipped)"
fi
