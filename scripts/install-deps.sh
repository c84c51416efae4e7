#!/usr/bin/env bash
# Installs the system packages tspod's build, tests and benchmarks use, on Debian 12, as root.
# Idempotent: packages already present are left alone.
set -euo pipefail

PACKAGES=(
  tar gzip xz-utils bzip2   # GNU tar is the anchor extraction is compared with
  busybox-static            # a real static rootfs for the demo and the extraction tests
  attr                      # setfattr/getfattr: xattrs in test archives
  python3                   # tarfile: an independent oracle for the tar walker tests
  util-linux                # setpriv: the unprivileged-fetch test
  passwd                    # groupadd/useradd: the tspod group and a test user
  appc-spec                 # actool: the appc peer that builds, validates and cat-manifests ACIs
  gnupg                     # gpg: signs test images and verifies what tspod signs
  openssl                   # a throwaway CA and server certificate for the HTTPS tests
  docker-registry           # the real registry v2 server the OCI registry tests pull from
  skopeo umoci              # push/inspect OCI and Docker images; build layered OCI images
  zstd                      # zstd-compressed OCI layers (through zstd -dc)
  gcc libc6-dev             # builds the C stage1 (static) and the seccomp test loader
  runc crun                 # the anchors of bench/start
  containernetworking-plugins iptables iproute2   # CNI plugins (ptp, bridge, host-local, portmap) and what they drive
  git                       # tspod reconcile --git uses the git CLI
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: needs root to install: ${missing[*]}" >&2
    exit 254
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
