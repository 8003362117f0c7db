# Shared by the scripts that stage a root filesystem for an image built FROM scratch
# (stage-image.sh: Onsen; stage-redis-image.sh: Debian's redis-server). Sourced, not run.
#
#   stage_rootfs_init ROOT        empty merged-/usr tree, /tmp, /root, /etc/{passwd,group,nsswitch.conf}
#   stage_binary BIN ROOT DEST    BIN installed at ROOT/DEST (debug info stripped unless STAGE_STRIP=0),
#                                 with every shared library `ldd` lists and the dynamic loader;
#                                 sets STAGED_LIBS (how many)
# Both exit the script (status 1, message on stderr) when they cannot stage what the binary needs.

stage_die() { echo "${0##*/}: $*" >&2; exit 1; }

stage_rootfs_init() {
  local root=$1
  rm -rf "$root"
  # Debian 12 is merged-/usr: /lib and /lib64 are links into /usr; the image keeps that shape, so
  # every path ldd prints (/lib/..., /lib64/..., /usr/lib/...) is valid inside it.
  mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/tmp" "$root/root"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  ln -s usr/bin "$root/bin"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
  # glibc >= 2.34 has the files and dns NSS modules built in: nothing else to copy for resolving
  # host names (http.addr, a Redis or S3 address); /etc/hosts is provided by the container runtime.
  cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
  chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
}

stage_binary() {
  local bin=$1 root=$2 dest=$3 ldd_out line p interp lib
  { [ -x "$bin" ] && [ -f "$bin" ]; } || stage_die "$bin is not an executable file"
  mkdir -p "$root$(dirname "$dest")"
  # install copies the file a symlink points to, under DEST's name (Debian's redis-server is a
  # link to redis-check-rdb, and picks its mode from the name it runs under).
  install -m 0755 "$bin" "$root$dest"
  if [ "${STAGE_STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
    strip --strip-debug "$root$dest"
  fi
  # ldd lines: "libx.so.N => /path/libx.so.N (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)",
  # "linux-vdso.so.1 (0x...)" (in the kernel: nothing to copy).
  if ! ldd_out=$(ldd "$bin" 2>&1); then
    case $ldd_out in
      *"not a dynamic executable"*|*"statically linked"*) ldd_out="" ;;
      *) stage_die "ldd $bin failed: $ldd_out" ;;
    esac
  fi
  local libs=()
  while read -r line; do
    case $line in
      *"=> not found"*) stage_die "missing library: $line" ;;
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
    [ -e "$lib" ] || stage_die "$lib (from ldd) does not exist"
    mkdir -p "$root$(dirname "$lib")"
    # -L: the file itself, under the name the loader looks for (libssl.so.3, not a symlink chain).
    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
    chmod 0755 "$root$lib"
  done
  # shellcheck disable=SC2034  # read by the scripts that source this file
  STAGED_LIBS=${#libs[@]}
}
