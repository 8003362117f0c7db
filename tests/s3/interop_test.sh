#!/usr/bin/env bash
# Onsen on S3 (the Ceph RGW of the ctest fixture) with real clients, and Debian's docker-registry
# (Distribution 2.8.2, its s3 driver) on the SAME bucket, both directions:
#   (a) skopeo pushes image A (OCI) and a v2s2 conversion through Onsen; pulled back identical;
#   (b) docker-registry on the bucket serves what Onsen wrote (tags, manifests, blobs);
#   (c) docker-registry pushes image B; Onsen serves it; a tag deleted through one is gone in both.
#   (d) `onsen check` on the bucket; a crash of the upload's final move between its copy and its
#       delete (done here by hand) leaves nothing `onsen check` flags, and the client's retry of
#       the final PUT completes.
# Usage: interop_test.sh ONSEN_BINARY, with ONSEN_TEST_S3_ENV naming the gateway's variables
# (tests/s3/gateway.sh) or them in the environment (eval "$(tests/s3/start-ceph-rgw.sh)").
set -uo pipefail
S3_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
source "$S3_DIR/../interop/lib.sh"
interop_init "$@"

# shellcheck source=tests/s3/lib.sh
source "$S3_DIR/lib.sh"
s3_make_bucket onsen-interop
SRC=$(tmpdir src)
python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 3 --layer-size 3000000 --tag v1 --seed s3-a >/dev/null &&
  python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 2 --layer-size 12000000 --tag v2 --seed s3-b >/dev/null ||
  abort "generate the OCI layout"

# (a) Onsen alone.
s3_start onsen
ONSEN=$REG
ONSEN_PID=$PID
ONSEN_CFG=$CFG
check "a: push image A through Onsen on s3" sk copy "oci:$SRC:v1" "docker://$ONSEN/s3/app:v1"
check "a: push image A as v2s2 through Onsen on s3" sk copy --format v2s2 "oci:$SRC:v1" "docker://$ONSEN/s3/docker:v1"
OUT=$(tmpdir out-a)
check "a: pull image A back from Onsen" sk copy "docker://$ONSEN/s3/app:v1" "oci:$OUT:v1"
check "a: pulled image A is byte-identical" same_oci_image "$SRC" "$OUT" v1
check_eq "a: objects under rootdirectory/docker/registry/v2 (Distribution's keys)" 200 \
  "$(s3curl -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/$BUCKET/registry/docker/registry/v2/repositories/s3/app/_manifests/tags/v1/current/link")"

# (b) docker-registry on the same bucket serves what Onsen wrote.
s3_start distribution
DIST=$REG
OUT=$(tmpdir out-b)
check "b: docker-registry pulls image A written by Onsen" sk copy "docker://$DIST/s3/app:v1" "oci:$OUT:v1"
check "b: image A from docker-registry is byte-identical" same_oci_image "$SRC" "$OUT" v1
check_eq "b: docker-registry lists Onsen's tags" '["v1"]' \
  "$(sk list-tags "docker://$DIST/s3/docker" | jq -c '.Tags')"

# (c) docker-registry writes, Onsen serves; deletes seen by both.
check "c: push image B (12 MB layers, multipart) through docker-registry" \
  sk copy "oci:$SRC:v2" "docker://$DIST/s3/app:v2"
OUT=$(tmpdir out-c)
check "c: Onsen pulls image B written by docker-registry" sk copy "docker://$ONSEN/s3/app:v2" "oci:$OUT:v2"
check "c: image B from Onsen is byte-identical" same_oci_image "$SRC" "$OUT" v2
check_eq "c: Onsen lists both tags" '["v1","v2"]' \
  "$(sk list-tags "docker://$ONSEN/s3/app" | jq -c '.Tags | sort')"
check "c: delete image B through Onsen" sk delete "docker://$ONSEN/s3/app:v2"
check_eq "c: docker-registry sees the manifest gone" 404 \
  "$(http_code GET "http://$DIST/v2/s3/app/manifests/$(oci_index_digest "$SRC" v2)")"
check_eq "c: catalog through Onsen" '["s3/app","s3/docker"]' \
  "$(curl -s "http://$ONSEN/v2/_catalog" | jq -c '.repositories')"

# (d) onsen check, and a move interrupted between copy and delete.
check "d: onsen check passes on the bucket" "$ONSEN_BIN" check "$ONSEN_CFG"
V2=$S3_ENDPOINT/$BUCKET/registry/docker/registry/v2
BLOB=$(tmpdir blob)/data
head -c 3000000 /dev/urandom >"$BLOB"
DIGEST=$(sha256_file "$BLOB")
HEX=${DIGEST#sha256:}
LOC=$(http_header POST "http://$ONSEN/v2/s3/crash/blobs/uploads/" Location)
UUID=$(basename "${LOC%%\?*}")
case $LOC in http*) ;; *) LOC=http://$ONSEN$LOC ;; esac
HDRS=$(curl -s -o /dev/null -D - -X PATCH --data-binary "@$BLOB" \
  -H 'Content-Type: application/octet-stream' "$LOC" | tr -d '\r')
check_contains "d: PATCH the blob into an upload" "HTTP/1.1 202" "$HDRS"
LOC=$(sed -n 's/^[Ll]ocation: //p' <<<"$HDRS")
case $LOC in http*) ;; *) LOC=http://$ONSEN$LOC ;; esac
# What the final PUT's move does first (the server-side copy), without its delete: a crash there.
check_eq "d: copy the upload's data to the blob's key (the move's first half)" 200 \
  "$(s3curl -o /dev/null -w '%{http_code}' -X PUT \
     -H "x-amz-copy-source: $BUCKET/registry/docker/registry/v2/repositories/s3/crash/_uploads/$UUID/data" \
     "$V2/blobs/sha256/${HEX:0:2}/$HEX/data")"
check "d: onsen check passes after the interrupted move" "$ONSEN_BIN" check "$ONSEN_CFG"
case $LOC in *\?*) SEP='&' ;; *) SEP='?' ;; esac
check_eq "d: the client's retry of the final PUT completes" 201 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$LOC${SEP}digest=$DIGEST")"
check_eq "d: the blob reads back whole" "$DIGEST" \
  "$(curl -s "http://$ONSEN/v2/s3/crash/blobs/$DIGEST" | sha256_stdin)"
check_eq "d: the upload's data is gone" 404 \
  "$(s3curl -o /dev/null -w '%{http_code}' -I "$V2/repositories/s3/crash/_uploads/$UUID/data")"
check "d: onsen check passes at the end" "$ONSEN_BIN" check "$ONSEN_CFG"

stop "$PID" || fail "docker-registry stops on SIGTERM"
stop "$ONSEN_PID" || fail "onsen stops on SIGTERM within 15 s"
summary
