#!/usr/bin/env bash
# Blob GET and HEAD of an Onsen on S3 (the Ceph RGW of the ctest fixture) with real clients, as
# Distribution serves them:
#   (a) redirect (the default, storage.redirect.disable false): skopeo pulls through a 307 to a
#       presigned URL; curl sees the 307, its Location at the gateway as configured, the URL works
#       alone, is signed for 20 minutes (a changed expiry is refused), carries a Range; HEAD is
#       redirected too; docker-registry (2.8) on the same bucket answers the same statuses.
#   (b) storage.redirect.disable: true: no 307, the bytes stream through Onsen, ranges (curl -r)
#       answer 206 with the right bytes and Content-Range, a range past the end 416.
#   (c) finishing an upload moved the data to its blob key server-side: on this Ceph RGW with one
#       CopyObject above multipartcopythresholdsize too (RGW shares the data, see README), so the
#       blob's object keeps the upload's ETag (it counts the upload's parts, not 5 MiB copy parts).
# Usage: redirect_test.sh ONSEN_BINARY, with ONSEN_TEST_S3_ENV naming the gateway's variables
# (tests/s3/gateway.sh) or them in the environment (eval "$(tests/s3/start-ceph-rgw.sh)").
set -uo pipefail
S3_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
source "$S3_DIR/../interop/lib.sh"
interop_init "$@"
# shellcheck source=tests/s3/lib.sh
source "$S3_DIR/lib.sh"
s3_make_bucket onsen-redirect

# header NAME: the value of a header in the response head on stdin (curl -D -), last one wins.
header() {
  tr -d '\r' | awk -v n="$1" 'tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); v = $0 } END { print v }'
}

# Uploads in 10 MiB parts; moves copied in 5 MiB parts above 6 MiB where the store copies data
# (13 MB: 2 upload parts, 3 copy parts), not on this RGW.
PARTS=$'chunksize: 10485760\nmultipartcopychunksize: 5242880\nmultipartcopythresholdsize: 6291456'
s3_start onsen false "$PARTS"
REDIR=$REG REDIR_PID=$PID REDIR_LOG=$LAST_LOG
s3_start onsen true "$PARTS"
STREAM=$REG STREAM_PID=$PID

SRC=$(tmpdir src)
python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 2 --layer-size 13000000 --tag v1 \
  --seed redirect >/dev/null || abort "generate the OCI layout"
MANIFEST=$SRC/blobs/sha256/$(oci_index_digest "$SRC" v1 | cut -d: -f2)
LAYER=$(jq -r '.layers[0].digest' "$MANIFEST")
HEX=${LAYER#sha256:}
FILE=$SRC/blobs/sha256/$HEX
SIZE=$(stat -c %s "$FILE")
OBJECT=$S3_ENDPOINT/$BUCKET/registry/docker/registry/v2/blobs/sha256/${HEX:0:2}/$HEX/data
bytes() { tail -c +$(($1 + 1)) "$FILE" | head -c "$2" | sha256_stdin; }  # bytes OFFSET LENGTH

check "push the image through the redirecting Onsen" sk copy "oci:$SRC:v1" "docker://$REDIR/s3/app:v1"

# (a) redirect
OUT=$(tmpdir out-a)
check "a: skopeo pulls through the redirecting Onsen" sk copy "docker://$REDIR/s3/app:v1" "oci:$OUT:v1"
check "a: the pulled image is byte-identical" same_oci_image "$SRC" "$OUT" v1
check_contains "a: skopeo's layer GETs were answered 307" "\"GET /v2/s3/app/blobs/$LAYER HTTP/1.1\" 307" \
  "$(cat "$REDIR_LOG")"
check_not_contains "a: no layer streamed through Onsen" "\"GET /v2/s3/app/blobs/$LAYER HTTP/1.1\" 200" \
  "$(cat "$REDIR_LOG")"

URL=http://$REDIR/v2/s3/app/blobs/$LAYER
HEAD=$(curl -s -o /dev/null -D - -m 30 "$URL")
check_contains "a: curl without -L sees a 307" "HTTP/1.1 307" "$HEAD"
LOCATION=$(header Location <<<"$HEAD")
check_eq "a: Location is the blob's object at the gateway as configured (path style)" "$OBJECT" \
  "${LOCATION%%\?*}"
check_eq "a: the 307 carries Docker-Content-Digest" "$LAYER" "$(header Docker-Content-Digest <<<"$HEAD")"
check_contains "a: the URL is presigned for 20 minutes" "X-Amz-Expires=1200&" "$LOCATION"
check_eq "a: the presigned URL alone gives the blob" "$LAYER" "$(curl -s -m 30 "$LOCATION" | sha256_stdin)"
check_eq "a: the signature covers the expiry (a longer one is refused)" 403 \
  "$(curl -s -o /dev/null -m 30 -w '%{http_code}' "${LOCATION/X-Amz-Expires=1200/X-Amz-Expires=86400}")"
check_eq "a: curl -L gives the blob" "$LAYER" "$(curl -sL -m 60 "$URL" | sha256_stdin)"
check_eq "a: curl -L -r carries the range to the gateway (206)" 206 \
  "$(curl -sL -m 30 -o /dev/null -w '%{http_code}' -r 1000-1999 "$URL")"
check_eq "a: curl -L -r 1000-1999 gives those bytes" "$(bytes 1000 1000)" \
  "$(curl -sL -m 30 -r 1000-1999 "$URL" | sha256_stdin)"
HEAD=$(curl -s -o /dev/null -I -D - -m 30 "$URL")
check_contains "a: HEAD is redirected too (as docker-registry does)" "HTTP/1.1 307" "$HEAD"
check_eq "a: HEAD's Location is presigned for HEAD" 200 \
  "$(curl -s -o /dev/null -I -m 30 -w '%{http_code}' "$(header Location <<<"$HEAD")")"
check_eq "a: curl -I -L gives the blob's size" "$SIZE" \
  "$(curl -s -o /dev/null -I -L -D - -m 30 "$URL" | header Content-Length)"
check_eq "a: an unknown blob is 404, not a redirect" 404 \
  "$(http_code GET "http://$REDIR/v2/s3/app/blobs/sha256:$(printf '0%.0s' {1..64})")"
check_eq "a: a blob of another repository is 404, not a redirect" 404 \
  "$(http_code GET "http://$REDIR/v2/s3/other/blobs/$LAYER")"

s3_start distribution false
check_eq "a: docker-registry redirects GET with 307 too" 307 "$(http_code GET "http://$REG/v2/s3/app/blobs/$LAYER")"
check_eq "a: docker-registry redirects HEAD with 307 too" 307 "$(http_code HEAD "http://$REG/v2/s3/app/blobs/$LAYER")"
check_eq "a: docker-registry's Location has the same object path" "$OBJECT" \
  "$(http_header GET "http://$REG/v2/s3/app/blobs/$LAYER" Location | sed 's/?.*//')"
stop "$PID" || fail "docker-registry stops on SIGTERM"

# (b) redirect disabled: streamed
URL=http://$STREAM/v2/s3/app/blobs/$LAYER
HEAD=$(curl -s -o /dev/null -D - -m 60 "$URL")
check_contains "b: no redirect: 200" "HTTP/1.1 200" "$HEAD"
check_eq "b: no Location" "" "$(header Location <<<"$HEAD")"
check_eq "b: curl gives the blob" "$LAYER" "$(curl -s -m 60 "$URL" | sha256_stdin)"
# range_check NAME RANGE FIRST LENGTH: curl -r RANGE answers 206 with bytes FIRST..FIRST+LENGTH-1.
range_check() {
  local name=$1 range=$2 first=$3 length=$4 out
  out=$(tmpdir range)/body
  HEAD=$(curl -s -o "$out" -D - -m 30 -r "$range" "$URL")
  check_contains "b: $name: 206" "HTTP/1.1 206" "$HEAD"
  check_eq "b: $name: Content-Range" "bytes $first-$((first + length - 1))/$SIZE" \
    "$(header Content-Range <<<"$HEAD")"
  check_eq "b: $name: Content-Length" "$length" "$(header Content-Length <<<"$HEAD")"
  check_eq "b: $name: the bytes" "$(bytes "$first" "$length")" "$(sha256_stdin <"$out")"
}
range_check "curl -r 0-9" 0-9 0 10
range_check "curl -r 5242000-5243999 (across a 5 MiB part boundary)" 5242000-5243999 5242000 2000
range_check "curl -r 12000000- (to the end)" 12000000- 12000000 $((SIZE - 12000000))
range_check "curl -r -100 (the last 100 bytes)" -100 $((SIZE - 100)) 100
range_check "curl -r 12999990-99999999 (end past the blob)" 12999990-99999999 12999990 $((SIZE - 12999990))
check_eq "b: a range past the end is 416" 416 \
  "$(curl -s -o /dev/null -m 30 -w '%{http_code}' -r "$SIZE-" "$URL")"
check_eq "b: HEAD gives the size" "$SIZE" "$(curl -s -o /dev/null -I -D - -m 30 "$URL" | header Content-Length)"
OUT=$(tmpdir out-b)
check "b: skopeo pulls through the streaming Onsen" sk copy "docker://$STREAM/s3/app:v1" "oci:$OUT:v1"
check "b: the pulled image is byte-identical" same_oci_image "$SRC" "$OUT" v1

# (c) the upload's final move is a server-side copy, on RGW one CopyObject
check_contains "c: the blob's object is the upload's, copied whole (2 upload parts of 10 MiB, not 3 copy parts)" \
  '-2"' "$(s3curl -o /dev/null -I -D - "$OBJECT" | header ETag)"

stop "$REDIR_PID" || fail "onsen (redirect) stops on SIGTERM within 15 s"
stop "$STREAM_PID" || fail "onsen (streaming) stops on SIGTERM within 15 s"
summary
