#!/usr/bin/env bash
# start-ceph-rgw.sh - throw-away single-node Ceph (Pacific 16.2, Debian 12
# packages) + RADOS Gateway serving S3 on 127.0.0.1, for tests.
#
# Usage (as root):   eval "$(tests/s3/start-ceph-rgw.sh)"
# Stop:              tests/s3/stop-ceph-rgw.sh      (same CEPH_DIR)
#
# stdout: ONLY shell lines to eval (export ... / unset ...); progress -> stderr.
# Idempotent: if a healthy cluster started by this script already runs in
# $CEPH_DIR it only prints the exports again; a stale or broken $CEPH_DIR is
# stopped (by its pid files) and rebuilt. If the start fails, whatever it had
# started is stopped again (logs stay in $CEPH_DIR/log) and it exits non-zero.
#
# Layout: mon.a + osd.0 + client.rgw.gw, no mgr, auth none (loopback only),
# pool size 1. Pid files: $CEPH_DIR/run/{mon.a,osd.0,client.rgw.gw}.pid
#
# Environment knobs (all optional):
#   CEPH_DIR            working dir (conf, mon/osd data, logs, pid files) [/tmp/ceph-s3]
#   RGW_PORT            S3 port on 127.0.0.1                             [7480]
#   CEPH_MON_PORT       mon msgr2 port on 127.0.0.1                      [3300]
#   CEPH_MON_PORT_V1    mon msgr1 port on 127.0.0.1                      [6789]
#   CEPH_OSD_PORT_MIN/CEPH_OSD_PORT_MAX  port range the OSD binds (8 ports) [6800/7300]
#   CEPH_OSD_STORE      bluestore (sparse file in $CEPH_DIR; falls back to
#                       memstore if it cannot start) | memstore (all data in
#                       RAM, never returned to the OS)                   [bluestore]
#   CEPH_STORE_SIZE_MB  OSD capacity; capped at half the free disk (bluestore)
#                       or half of MemAvailable (memstore)   [10240 bluestore, 4096 memstore]
#   S3_ACCESS_KEY / S3_SECRET_KEY  credentials of the S3 user [REGISTRYTEST / REGISTRYTESTSECRET]
#   CEPH_START_TIMEOUT  seconds to wait for each phase                    [120]
#   CEPH_NO_INSTALL=1   never call apt-get (fail if binaries are missing)
#
# Notes for clients:
# - No bucket exists at start; create one (PUT /<bucket>) before pointing
#   docker-registry at it (its s3 driver does not create buckets).
# - docker-registry 2.8 `storage: s3:` block that works against this gateway:
#     accesskey/secretkey: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, region: us-east-1,
#     regionendpoint: $S3_ENDPOINT, bucket: <bucket>, secure: false, v4auth: true
#   (2.8 has no forcepathstyle option: setting regionendpoint forces path style.)
# - curl 7.88 --aws-sigv4 needs -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
#   on every request, query values percent-encoded by hand (prefix=a%2Fb),
#   "?uploads=" rather than "?uploads", and no -H 'Expect:' (it gets signed).
# - No mgr runs: `ceph df`, `ceph osd df`, `ceph pg ...` hang; `ceph -s`,
#   `ceph osd dump`, `rados`, `radosgw-admin` work.
set -euo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/ceph-s3}
CEPH_DIR=${CEPH_DIR%/}
RGW_PORT=${RGW_PORT:-7480}
CEPH_MON_PORT=${CEPH_MON_PORT:-3300}
CEPH_MON_PORT_V1=${CEPH_MON_PORT_V1:-6789}
CEPH_OSD_PORT_MIN=${CEPH_OSD_PORT_MIN:-6800}
CEPH_OSD_PORT_MAX=${CEPH_OSD_PORT_MAX:-7300}
CEPH_OSD_STORE=${CEPH_OSD_STORE:-bluestore}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-REGISTRYTEST}
S3_SECRET_KEY=${S3_SECRET_KEY:-REGISTRYTESTSECRET}
CEPH_START_TIMEOUT=${CEPH_START_TIMEOUT:-120}
S3_REGION=us-east-1   # RGW accepts any SigV4 region; clients should sign with this one
S3_UID=registrytest

log() { printf '[start-ceph-rgw %(%T)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$CEPH_OSD_STORE" in memstore|bluestore) ;; *) die "CEPH_OSD_STORE must be bluestore or memstore";; esac
[ "$(id -u)" = 0 ] || die "must run as root (installs packages, runs the ceph daemons)"
case "$CEPH_DIR" in /*) ;; *) die "CEPH_DIR must be an absolute path";; esac
case "$CEPH_DIR" in /|/tmp|/root|/home|/var|/var/tmp|/etc|/usr|/dev/shm|/run) die "refusing CEPH_DIR=$CEPH_DIR";; esac

CONF=$CEPH_DIR/ceph.conf
export CEPH_CONF=$CONF        # every ceph tool also gets -c $CONF; /etc/ceph is never used
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

print_env() {
  cat <<EOF
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_DEFAULT_REGION=$S3_REGION
export AWS_REGION=$S3_REGION
export AWS_EC2_METADATA_DISABLED=true
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export S3_REGION=$S3_REGION
export CEPH_DIR=$CEPH_DIR
export CEPH_CONF=$CONF
EOF
  # aws-sdk-go v1 (docker-registry 2.8's s3 driver) panics at start with
  # "LoadCustomCABundleError ... unsupported transport" when AWS_CA_BUNDLE is
  # set; the endpoint is plain http, so the bundle is of no use anyway.
  if [ -n "${AWS_CA_BUNDLE+x}" ]; then echo "unset AWS_CA_BUNDLE"; fi
}

s3_ready() { # anonymous ListAllMyBuckets -> 200 once beast is up and the zone initialised
  curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$RGW_PORT/" 2>/dev/null | grep -q '^200$'
}
# curl 7.88's --aws-sigv4 sends no x-amz-content-sha256 by itself; RGW (like AWS)
# then treats the payload as UNSIGNED-PAYLOAD while curl signed sha256("")
# -> SignatureDoesNotMatch. With the header given, curl signs with its value.
signed_ok() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "http://127.0.0.1:$RGW_PORT/" 2>/dev/null | grep -q '^200$'
}
# alive = exists and not a zombie (daemonized ceph processes are re-parented
# to pid 1, which here reaps only every couple of seconds)
pid_alive() {
  local f=$1 pid st
  [ -s "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
wait_for() { # wait_for <what> <timeout-s> <cmd...>
  local what=$1 t=$2; shift 2
  local end=$((SECONDS + t))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
  log "$what: ok"
}

# ---------------------------------------------------------------- one at a time
# (lock file beside CEPH_DIR, which itself gets wiped; fd 9 is closed for the daemons)
mkdir -p "$(dirname "$CEPH_DIR")"
exec 9>"$CEPH_DIR.lock"
flock -w 600 9 || die "could not lock $CEPH_DIR.lock"
STARTED=0
on_exit() {
  local rc=$?
  [ $rc -ne 0 ] || return 0
  if [ $STARTED = 1 ]; then
    log "start failed: stopping what was started (logs kept in $CEPH_DIR/log)"
    CEPH_KEEP_LOCK=1 CEPH_KEEP_DIR=1 CEPH_DIR=$CEPH_DIR "$SCRIPT_DIR/stop-ceph-rgw.sh" 9>&- >&2 || true
  elif [ ! -e "$CEPH_DIR" ]; then
    rm -f "$CEPH_DIR.lock"
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------- already up?
if [ -f "$CEPH_DIR/.ready" ] && pid_alive "$CEPH_DIR/run/mon.a.pid" \
   && pid_alive "$CEPH_DIR/run/osd.0.pid" && pid_alive "$CEPH_DIR/run/client.rgw.gw.pid" \
   && s3_ready && signed_ok; then
  log "already running in $CEPH_DIR ($(cat "$CEPH_DIR/.ready"))"
  print_env
  exit 0
fi
if [ -e "$CEPH_DIR" ]; then
  log "stale $CEPH_DIR: stopping what its pid files name, then wiping it"
  CEPH_KEEP_LOCK=1 CEPH_DIR=$CEPH_DIR "$SCRIPT_DIR/stop-ceph-rgw.sh" 9>&- >&2 || true
  rm -rf "$CEPH_DIR"
fi

# ---------------------------------------------------------------- packages
need_pkgs=()
need() { # need <command> <package>
  command -v "$1" >/dev/null && return 0
  case " ${need_pkgs[*]} " in *" $2 "*) ;; *) need_pkgs+=("$2");; esac
}
need ceph-mon ceph-mon;  need ceph-osd ceph-osd
need radosgw radosgw;    need radosgw-admin radosgw
need ceph ceph-common;   need monmaptool ceph-common
need curl curl;          need uuidgen uuid-runtime
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "${CEPH_NO_INSTALL:-0}" != 1 ] || die "missing packages: ${need_pkgs[*]}"
  log "installing: ${need_pkgs[*]}"
  apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
      --no-install-recommends "$@" 9>&- >&2
  }
  if ! apt_install "${need_pkgs[@]}"; then
    apt-get update -q -o DPkg::Lock::Timeout=600 9>&- >&2 || true
    apt_install "${need_pkgs[@]}" || die "apt-get install ${need_pkgs[*]} failed"
  fi
fi
# Without systemd the packages start nothing; on a systemd host their units
# would use /etc/ceph, which this cluster never touches.

# ---------------------------------------------------------------- ports
port_busy() { # something LISTENs on :port (any address)?
  local hex; hex=$(printf '%04X' "$1")
  awk -v p=":$hex" '$4=="0A" && $2 ~ (p "$") {f=1} END{exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
for p in "$CEPH_MON_PORT" "$CEPH_MON_PORT_V1" "$RGW_PORT"; do
  port_busy "$p" && die "port $p already in use (another cluster? set CEPH_MON_PORT / CEPH_MON_PORT_V1 / RGW_PORT)"
done

# ---------------------------------------------------------------- from here on: clean up on failure
T0=$SECONDS
mkdir -p "$CEPH_DIR"/{run,log,crash,mon/ceph-a,osd/ceph-0,rgw}
STARTED=1

store_size_mb() { # capacity for the given store, capped by what the machine has
  local store=$1 want avail cap
  if [ "$store" = bluestore ]; then
    want=${CEPH_STORE_SIZE_MB:-10240}
    avail=$(df -Pm "$CEPH_DIR" | awk 'NR==2{print $4}')
  else
    want=${CEPH_STORE_SIZE_MB:-4096}
    avail=$(awk '/^MemAvailable:/{print int($2/1024)}' /proc/meminfo)
  fi
  cap=$((avail / 2))
  [ "$want" -le "$cap" ] || want=$cap
  [ "$want" -ge 1024 ] || die "not enough room for a $store OSD (${avail} MiB available)"
  echo "$want"
}

FSID=$(uuidgen)
OSD_UUID=$(uuidgen)
SIZE_MB=$(store_size_mb "$CEPH_OSD_STORE") || exit 1

cat >"$CONF" <<EOF
# generated by start-ceph-rgw.sh - throw-away test cluster, not for real data
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$CEPH_MON_PORT,v1:127.0.0.1:$CEPH_MON_PORT_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = $CEPH_OSD_PORT_MIN
ms bind port max = $CEPH_OSD_PORT_MAX

# no cephx: loopback-only test cluster, no keyrings anywhere
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
# daemons (radosgw) default to ms_mon_client_mode=secure, which auth none
# cannot provide: radosgw then loops on 'get_initial_auth_request returned -13'
ms mon client mode = crc
ms mon service mode = crc secure
ms mon cluster mode = crc secure

# one OSD
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
mon osd full ratio = .96
mon osd backfillfull ratio = .95
mon osd nearfull ratio = .94
# commit map changes at once instead of once a second: the OSD boot and each
# of the pools rgw creates is an osdmap epoch (startup 13 s -> 1-3 s)
paxos propose interval = 0.01
paxos min wait = 0.001
mon osd prime pg temp = false

# everything inside \$CEPH_DIR
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
pid file = $CEPH_DIR/run/\$name.pid
log file = $CEPH_DIR/log/\$name.log
mon cluster log file = $CEPH_DIR/log/cluster.log
crash dir = $CEPH_DIR/crash
log to stderr = false
err to stderr = true
log to syslog = false
mon cluster log to syslog = false
debug ms = 0
debug monc = 0
debug auth = 0
debug mon = 1
debug osd = 1
debug rgw = 1

[mon]
mon data = $CEPH_DIR/mon/ceph-\$id

[osd]
osd data = $CEPH_DIR/osd/ceph-\$id
osd objectstore = $CEPH_OSD_STORE
memstore device bytes = $((SIZE_MB * 1024 * 1024))
bluestore block path = $CEPH_DIR/osd/ceph-\$id/block.img
bluestore block size = $((SIZE_MB * 1024 * 1024))
bluestore block create = true
bluestore fsck on mkfs = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 128M
# the aio reaper polls with this timeout and every block-device close waits
# for it: ~10 closes during mkfs + mount at 250 ms each
bdev aio poll ms = 10
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1
osd crush update on start = true

[client.rgw.gw]
# tcp_nodelay: without it every request on a keep-alive connection (aws-sdk-go)
# waits ~40 ms (Nagle + delayed ACK): a registry push took 4x longer
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $CEPH_DIR/rgw
rgw thread pool size = 64
rgw enable usage log = false
rgw enable ops log = false
rgw log nonexistent bucket = false
rgw relaxed s3 bucket names = true
# free deleted objects' data soon (default: after 2 h)
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF

CEPH=(timeout 30 ceph -c "$CONF" --connect-timeout 10)

# ---------------------------------------------------------------- mon
log "creating mon.a (fsid $FSID) on 127.0.0.1:$CEPH_MON_PORT,$CEPH_MON_PORT_V1"
monmaptool --create --fsid "$FSID" \
  --addv a "[v2:127.0.0.1:$CEPH_MON_PORT,v1:127.0.0.1:$CEPH_MON_PORT_V1]" \
  "$CEPH_DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" >>"$CEPH_DIR/log/mkfs.log" 2>&1 9>&- \
  || { tail -20 "$CEPH_DIR/log/mkfs.log" >&2; die "ceph-mon --mkfs failed"; }
# the daemons fork into the background and write run/<name>.pid themselves
ceph-mon -c "$CONF" -i a </dev/null >>"$CEPH_DIR/log/mon.a.stderr" 2>&1 9>&- \
  || { tail -20 "$CEPH_DIR/log/mon.a.stderr" >&2; die "ceph-mon failed to start"; }
wait_for "mon.a pid file" 20 pid_alive "$CEPH_DIR/run/mon.a.pid" || die "mon.a is not running (see $CEPH_DIR/log/mon.a.log)"
mon_up() { "${CEPH[@]}" mon stat >/dev/null 2>&1; }
wait_for "mon quorum" "$CEPH_START_TIMEOUT" mon_up || die "mon did not come up (see $CEPH_DIR/log/mon.a.log)"

# ---------------------------------------------------------------- osd
OSD_ID=$("${CEPH[@]}" osd new "$OSD_UUID" 2>>"$CEPH_DIR/log/mkfs.log") || die "ceph osd new failed"
[ "$OSD_ID" = 0 ] || die "expected osd id 0, got '$OSD_ID'"
DEAD=""
osd_up() { # true when up, or when the daemon died (then DEAD is set)
  pid_alive "$CEPH_DIR/run/osd.0.pid" || { DEAD=osd.0; return 0; }
  "${CEPH[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up *in '
}
start_osd() { # start_osd <store> ; 0 when osd.0 is up
  local store=$1
  log "creating osd.0 ($store, $SIZE_MB MiB)"
  sed -i "s/^osd objectstore = .*/osd objectstore = $store/" "$CONF"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$CEPH_DIR/log/mkfs.log" 2>&1 9>&- \
    || { tail -5 "$CEPH_DIR/log/mkfs.log" >&2; log "ceph-osd --mkfs ($store) failed"; return 1; }
  ceph-osd -c "$CONF" -i 0 </dev/null >>"$CEPH_DIR/log/osd.0.stderr" 2>&1 9>&- \
    || { tail -5 "$CEPH_DIR/log/osd.0.stderr" >&2; log "ceph-osd ($store) failed to start"; return 1; }
  wait_for "osd.0 pid file" 20 pid_alive "$CEPH_DIR/run/osd.0.pid" || { log "osd.0 ($store) died"; return 1; }
  DEAD=""
  wait_for "osd.0 up+in" "$CEPH_START_TIMEOUT" osd_up && [ -z "$DEAD" ] \
    || { tail -5 "$CEPH_DIR/log/osd.0.log" >&2; log "osd.0 ($store) not up"; return 1; }
}
if ! start_osd "$CEPH_OSD_STORE"; then
  [ "$CEPH_OSD_STORE" = bluestore ] || die "osd.0 did not start (see $CEPH_DIR/log/osd.0.log)"
  log "bluestore OSD failed (O_DIRECT unsupported on $CEPH_DIR's filesystem?), falling back to memstore"
  CEPH_KEEP_DIR=1 CEPH_DIR=$CEPH_DIR "$SCRIPT_DIR/stop-ceph-rgw.sh" --osd-only 9>&- >&2 || true
  mv "$CEPH_DIR/log/osd.0.log" "$CEPH_DIR/log/osd.0.bluestore-failed.log" 2>/dev/null || true
  rm -rf "$CEPH_DIR/osd/ceph-0" && mkdir -p "$CEPH_DIR/osd/ceph-0"
  CEPH_OSD_STORE=memstore
  SIZE_MB=$(store_size_mb memstore) || exit 1
  sed -i "s/^memstore device bytes = .*/memstore device bytes = $((SIZE_MB * 1024 * 1024))/" "$CONF"
  start_osd memstore || die "osd.0 did not start with memstore either (see $CEPH_DIR/log/osd.0.log)"
fi

# ---------------------------------------------------------------- rgw
RGWA=(timeout 60 radosgw-admin -c "$CONF" -n client.admin)
# The default zonegroup's api_name is "default": GetBucketLocation answers
# "default" and CreateBucket with LocationConstraint us-east-1 fails with
# InvalidLocationConstraint. Rename it to the region we export, before radosgw
# starts (radosgw-admin creates the default zonegroup and zone here).
log "setting zonegroup api_name = $S3_REGION"
"${RGWA[@]}" user list >/dev/null 2>>"$CEPH_DIR/log/admin.log" \
  || die "radosgw-admin could not initialise the default zone (see $CEPH_DIR/log/admin.log)"
"${RGWA[@]}" zonegroup get --rgw-zonegroup=default >"$CEPH_DIR/rgw/zonegroup.json" 2>>"$CEPH_DIR/log/admin.log" \
  || die "radosgw-admin zonegroup get failed (see $CEPH_DIR/log/admin.log)"
sed -i "s/\"api_name\": \"[^\"]*\"/\"api_name\": \"$S3_REGION\"/" "$CEPH_DIR/rgw/zonegroup.json"
"${RGWA[@]}" zonegroup set --rgw-zonegroup=default --infile "$CEPH_DIR/rgw/zonegroup.json" >>"$CEPH_DIR/log/admin.log" 2>&1 \
  || die "radosgw-admin zonegroup set failed (see $CEPH_DIR/log/admin.log)"

log "starting radosgw on 127.0.0.1:$RGW_PORT"
# it creates the rest of its pools (default.rgw.*) itself
radosgw -c "$CONF" -n client.rgw.gw </dev/null >>"$CEPH_DIR/log/rgw.stderr" 2>&1 9>&- \
  || { tail -20 "$CEPH_DIR/log/rgw.stderr" >&2; die "radosgw failed to start"; }
wait_for "radosgw pid file" 20 pid_alive "$CEPH_DIR/run/client.rgw.gw.pid" \
  || die "radosgw is not running (see $CEPH_DIR/log/client.rgw.gw.log)"
rgw_up() { pid_alive "$CEPH_DIR/run/client.rgw.gw.pid" || { DEAD=radosgw; return 0; }; s3_ready; }
DEAD=""
wait_for "S3 endpoint answers" "$CEPH_START_TIMEOUT" rgw_up && [ -z "$DEAD" ] \
  || { tail -30 "$CEPH_DIR/log/client.rgw.gw.log" >&2 || true; die "radosgw did not answer on :$RGW_PORT"; }

# ---------------------------------------------------------------- user
log "creating S3 user $S3_UID ($S3_ACCESS_KEY)"
if ! "${RGWA[@]}" user info --uid="$S3_UID" >/dev/null 2>&1; then
  "${RGWA[@]}" user create --uid="$S3_UID" --display-name="registry test" \
    --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >>"$CEPH_DIR/log/admin.log" 2>&1 9>&- \
    || { tail -20 "$CEPH_DIR/log/admin.log" >&2; die "radosgw-admin user create failed"; }
fi
wait_for "signed S3 request" 60 signed_ok || die "signed ListBuckets request fails"

echo "osd=$CEPH_OSD_STORE size=${SIZE_MB}MiB started=$(date -u +%FT%TZ)" >"$CEPH_DIR/.ready"
log "ready in $((SECONDS - T0))s: $CEPH_OSD_STORE ${SIZE_MB} MiB; pids mon $(cat "$CEPH_DIR/run/mon.a.pid"), osd $(cat "$CEPH_DIR/run/osd.0.pid"), rgw $(cat "$CEPH_DIR/run/client.rgw.gw.pid")"
print_env
