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
#   OUTDIR/rootfs/var/lib/registry, OUTDIR/rootfs/tmp   empty
#
# The image runs as root, as registry:2 does: bind-mounted /var/lib/registry and /auth directories
# made for registry:2 keep working without chown. (`--user 65534` works for a volume it owns.)
# No shell, no package manager, no compiler is staged: the image holds the binary and its libraries.
set -euo pipefail

usage() { echo "usage: $0 ONSEN_BINARY OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
bin=$1 out=$2
{ [ -x "$bin" ] && [ -f "$bin" ]; } || { echo "stage-image: $bin is not an executable file" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$out"
root=$out/rootfs
rm -rf "$root"
mkdir -p "$root"

# Debian 12 is merged-/usr: /lib and /lib64 are links into /usr; the image keeps that shape, so
# every path ldd prints (/lib/..., /lib64/..., /usr/lib/...) is valid inside it.
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/etc/docker/registry" \
  "$root/var/lib/registry" "$root/tmp" "$root/root"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s usr/bin "$root/bin"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"

# ---------------------------------------------------------------- the binary
install -m 0755 "$bin" "$root/usr/bin/onsen"
if [ "${STAGE_STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
  strip --strip-debug "$root/usr/bin/onsen"
fi

# ---------------------------------------------------------------- shared libraries + loader
# ldd lines: "libx.so.N => /path/libx.so.N (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)",
# "linux-vdso.so.1 (0x...)" (in the kernel: nothing to copy).
if ! ldd_out=$(ldd "$bin" 2>&1); then
  case $ldd_out in
    *"not a dynamic executable"*|*"statically linked"*) ldd_out="" ;;
    *) echo "stage-image: ldd $bin failed: $ldd_out" >&2; exit 1 ;;
  esac
fi
libs=()
while read -r line; do
  case $line in
    *"=> not found"*) echo "stage-image: missing library: $line" >&2; exit 1 ;;
    *"=> /"*) p=${line#*=> }; libs+=("${p%% (*}") ;;
    /*) libs+=("${line%% (*}") ;;
  esac
done <<<"$ldd_out"
# The interpreter named in the ELF header, in case ldd printed it under another spelling.
if command -v readelf >/dev/null; then
  interp=$(readelf -l "$bin" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
  [ -n "$interp" ] && libs+=("$interp")
fi
for lib in "${libs[@]}"; do
  [ -e "$lib" ] || { echo "stage-image: $lib (from ldd) does not exist" >&2; exit 1; }
  mkdir -p "$root$(dirname "$lib")"
  # -L: the file itself, under the name the loader looks for (libssl.so.3, not a symlink chain).
  [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
  chmod 0755 "$root$lib"
done

# ---------------------------------------------------------------- /etc
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# glibc >= 2.34 has the files and dns NSS modules built in: nothing else to copy for resolving
# http.addr host names, /etc/hosts is provided by the container runtime.
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
# Exactly what the registry:2 image ships (config/registry-default.yml, also onsen's embedded
# defaults); REGISTRY_* variables override it, as with registry:2.
cp "$repo/config/registry-default.yml" "$root/etc/docker/registry/config.yml"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf" "$root/etc/docker/registry/config.yml"

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
echo "stage-image: $root ready (${size} KiB; ${#libs[@]} libraries); build with: docker build -t onsen:latest $out" >&2
