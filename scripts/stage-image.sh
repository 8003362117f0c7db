#!/usr/bin/env bash
# Stages the root filesystem of the Onsen container image (built FROM scratch: no base image is
# pulled, so the image builds without network access).
#
#   scripts/stage-image.sh ONSEN_BINARY OUTDIR
#   docker build -t onsen:latest OUTDIR          # or: buildah bud -t onsen:latest OUTDIR
#
# OUTDIR becomes a self-contained build context:
#   OUTDIR/Dockerfile, OUTDIR/.dockerignore   copies of the repository's
#   OUTDIR/rootfs/usr/bin/onsen               the binary (debug info stripped; STAGE_STRIP=0 keeps it)
#   OUTDIR/rootfs/<lib paths>                 every shared library `ldd` lists, and the dynamic loader
#   OUTDIR/rootfs/etc/docker/registry/config.yml   Distribution's default image configuration
#   OUTDIR/rootfs/etc/{passwd,group,nsswitch.conf}  root and nobody only
#   OUTDIR/rootfs/etc/ssl/certs/ca-certificates.crt  the host's CA bundle (https S3 endpoints)
#   OUTDIR/rootfs/var/lib/registry, OUTDIR/rootfs/tmp   empty
#
# The image runs as root, as registry:2 does: bind-mounted /var/lib/registry and /auth directories
# made for registry:2 keep working without chown. (`--user 65534` works for a volume it owns.)
# No shell, no package manager, no compiler is staged: the image holds the binary and its libraries.
# The parts shared with stage-redis-image.sh are in stage-rootfs.sh.
set -euo pipefail

usage() { echo "usage: $0 ONSEN_BINARY OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
bin=$1 out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/stage-rootfs.sh
source "$repo/scripts/stage-rootfs.sh"

mkdir -p "$out"
root=$out/rootfs
stage_rootfs_init "$root"
mkdir -p "$root/etc/docker/registry" "$root/var/lib/registry"
stage_binary "$bin" "$root" /usr/bin/onsen

# The CA bundle, where OpenSSL looks by default (Debian's layout: /usr/lib/ssl/cert.pem is a link
# to it), so that an https S3 endpoint (AWS, or a gateway with a public certificate) verifies.
# A private CA: mount a bundle holding it over /etc/ssl/certs/ca-certificates.crt.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca_bundle" ] || { echo "stage-image: no $ca_bundle (Debian's ca-certificates)" >&2; exit 1; }
install -D -m 0644 "$ca_bundle" "$root$ca_bundle"
mkdir -p "$root/usr/lib/ssl"
ln -s "$ca_bundle" "$root/usr/lib/ssl/cert.pem"

# Exactly what the registry:2 image ships (config/registry-default.yml, also onsen's embedded
# defaults); REGISTRY_* variables override it, as with registry:2.
cp "$repo/config/registry-default.yml" "$root/etc/docker/registry/config.yml"
chmod 0644 "$root/etc/docker/registry/config.yml"

# ---------------------------------------------------------------- build context
cp "$repo/Dockerfile" "$out/Dockerfile"
cp "$repo/.dockerignore" "$out/.dockerignore"

# Smoke test: the staged tree alone is enough to run the binary (as root: chroot).
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  if ! v=$(chroot "$root" /usr/bin/onsen --version 2>&1); then
    echo "stage-image: the staged binary does not run inside the rootfs: $v" >&2
    exit 1
  fi
fi

size=$(du -sk "$root" | cut -f1)
echo "stage-image: $root ready (${size} KiB; $STAGED_LIBS libraries); build with: docker build -t onsen:latest $out" >&2
