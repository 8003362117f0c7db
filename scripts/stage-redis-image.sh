#!/usr/bin/env bash
# Stages a Redis image built FROM scratch from Debian's redis-server (package redis-server), for the
# scaled-out stack (deploy/docker-compose.scaled.yml) on hosts that cannot pull `redis:7` from
# Docker Hub: like the Onsen image, it builds without network access.
#
#   scripts/stage-redis-image.sh OUTDIR [REDIS_SERVER]      # default /usr/bin/redis-server
#   docker build -t onsen-redis:latest OUTDIR
#
# OUTDIR becomes a self-contained build context: OUTDIR/Dockerfile, OUTDIR/.dockerignore and
# OUTDIR/rootfs (/usr/bin/redis-server, the libraries ldd lists, the loader, a minimal /etc).
# The image runs `redis-server` as nobody with persistence off (the stack uses Redis for pub/sub
# only: nothing to keep), protected mode off (no password, reached over the stack's network) and
# otherwise Redis's defaults. The command line is the same as for the official image, so the
# stack's `command:` suits both.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [REDIS_SERVER]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1 bin=${2:-/usr/bin/redis-server}
[ -e "$bin" ] || { echo "stage-redis-image: no $bin (apt-get install redis-server)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/stage-rootfs.sh
source "$repo/scripts/stage-rootfs.sh"

mkdir -p "$out"
root=$out/rootfs
stage_rootfs_init "$root"
stage_binary "$bin" "$root" /usr/bin/redis-server

cat >"$out/Dockerfile" <<'EOF'
# Debian's redis-server FROM scratch (scripts/stage-redis-image.sh staged rootfs/).
FROM scratch
COPY rootfs/ /
USER 65534:65534
WORKDIR /tmp
EXPOSE 6379
CMD ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
EOF
cp "$repo/.dockerignore" "$out/.dockerignore"

if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  if ! v=$(chroot "$root" /usr/bin/redis-server --version 2>&1); then
    echo "stage-redis-image: the staged redis-server does not run inside the rootfs: $v" >&2
    exit 1
  fi
fi
size=$(du -sk "$root" | cut -f1)
echo "stage-redis-image: $root ready (${size} KiB; $STAGED_LIBS libraries); build with: docker build -t onsen-redis:latest $out" >&2
