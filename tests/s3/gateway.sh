#!/usr/bin/env bash
# The ctest fixture's S3 gateway: `gateway.sh start ENV_FILE` boots a throw-away Ceph RGW
# (start-ceph-rgw.sh) on free loopback ports and writes its variables (export lines) to ENV_FILE;
# `gateway.sh stop ENV_FILE` stops that cluster and removes ENV_FILE. Root only (the Ceph
# daemons and their packages need it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action=${1:?start|stop}
env_file=${2:?ENV_FILE}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$action" in
  start)
    "$here/../../scripts/install-deps.sh" test >&2
    # One cluster per build tree, in a directory named after it (a stale one is rebuilt).
    CEPH_DIR=/tmp/onsen-ctest-ceph-$(echo -n "$env_file" | sha256sum | cut -c1-12)
    export CEPH_DIR
    export RGW_PORT=$(free_port) CEPH_MON_PORT=$(free_port) CEPH_MON_PORT_V1=$(free_port)
    # The OSD takes a few ports of a range: a random one of 100, away from the usual ones.
    base=$((20000 + RANDOM % 400 * 100))
    export CEPH_OSD_PORT_MIN=$base CEPH_OSD_PORT_MAX=$((base + 99))
    tmp=$(mktemp "$env_file.XXXXXX")
    "$here/start-ceph-rgw.sh" >"$tmp"
    # The tests' bucket (support/s3_gateway.h: kS3TestBucket); the e2e suite expects it.
    (source "$tmp" && curl -sf -o /dev/null -m 30 -X PUT --aws-sigv4 "aws:amz:$S3_REGION:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_ENDPOINT/onsen-tests") ||
      { echo "cannot create the bucket onsen-tests" >&2; exit 1; }
    mv "$tmp" "$env_file"
    cat "$env_file" >&2
    ;;
  stop)
    [ -f "$env_file" ] || { echo "no $env_file: nothing to stop" >&2; exit 0; }
    CEPH_DIR=$(sed -n 's/^export CEPH_DIR=//p' "$env_file")
    [ -n "$CEPH_DIR" ] || { echo "$env_file names no CEPH_DIR" >&2; exit 1; }
    CEPH_DIR=$CEPH_DIR "$here/stop-ceph-rgw.sh"
    rm -f "$env_file"
    ;;
  *) echo "usage: $0 start|stop ENV_FILE" >&2; exit 2 ;;
esac
