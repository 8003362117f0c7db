#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called via check/abort, which shellcheck cannot follow
# skopeo <-> Onsen round trips: an OCI image and its Docker schema2 conversion pushed, pulled
# back byte for byte, re-tagged, listed and deleted. Usage: skopeo_roundtrip_test.sh ONSEN_BINARY
# (ONSEN_UNDER_TEST=distribution runs the same checks against docker-registry.)
set -uo pipefail
# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"
interop_init "$@"

SRC=$(tmpdir src)
python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 4 --layer-size 1500000 --tag v1 --seed roundtrip >/dev/null ||
  abort "generate the OCI layout"
python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 2 --layer-size 400000 --tag multi --seed roundtrip-multi \
  --platforms linux/amd64,linux/arm64 >/dev/null || abort "generate the multi-platform OCI layout"
SRC_DIGEST=$(oci_index_digest "$SRC" v1)
W=$(tmpdir work)

PORT=$(free_port)
start_onsen "$(tmpdir root)" "$PORT" || abort "start $ONSEN_UNDER_TEST on 127.0.0.1:$PORT"
REG=127.0.0.1:$PORT
URL=http://$REG/v2

# ---------------------------------------------------------------- (a) OCI image
echo "# (a) OCI image $SRC_DIGEST"
check "a: skopeo copy oci:SRC:v1 -> docker://$REG/interop/oci:v1" \
  sk copy "oci:$SRC:v1" "docker://$REG/interop/oci:v1"

sk inspect --raw "oci:$SRC:v1" >"$W/a-src.raw" 2>"$W/err" || abort "skopeo inspect --raw oci:SRC:v1" "$(cat "$W/err")"
if sk inspect --raw "docker://$REG/interop/oci:v1" >"$W/a-reg.raw" 2>"$W/err"; then
  pass "a: skopeo inspect --raw docker://…/interop/oci:v1"
else
  fail "a: skopeo inspect --raw docker://…/interop/oci:v1" "$(cat "$W/err")"
fi
check_eq "a: source manifest digest (inspect --raw) is the index.json digest" "$SRC_DIGEST" "$(sha256_file "$W/a-src.raw")"
check_eq "a: registry manifest digest (inspect --raw) equals the source's" "$SRC_DIGEST" "$(sha256_file "$W/a-reg.raw")"
check "a: registry manifest bytes identical to the source's" cmp "$W/a-src.raw" "$W/a-reg.raw"
check_eq "a: HEAD manifest by tag: Docker-Content-Digest" "$SRC_DIGEST" \
  "$(http_header HEAD "$URL/interop/oci/manifests/v1" Docker-Content-Digest)"
check_eq "a: GET manifest by tag: Content-Type" "$MT_OCI_MANIFEST" \
  "$(http_header GET "$URL/interop/oci/manifests/v1" Content-Type)"
check_eq "a: skopeo inspect --raw by digest" "$SRC_DIGEST" \
  "$(sk inspect --raw "docker://$REG/interop/oci@$SRC_DIGEST" | sha256_stdin)"
check_eq "a: skopeo inspect (config) shows 4 layers, linux/amd64" "4 linux amd64" \
  "$(sk inspect "docker://$REG/interop/oci:v1" | jq -r '"\(.Layers | length) \(.Os) \(.Architecture)"')"

OUT=$(tmpdir oci-out)
check "a: skopeo copy docker://…/interop/oci:v1 -> oci:OUT:v1" \
  sk copy "docker://$REG/interop/oci:v1" "oci:$OUT:v1"
check "a: pulled manifest and every blob byte-identical to the source" same_oci_image "$SRC" "$OUT" v1
check_eq "a: skopeo list-tags interop/oci" '["v1"]' \
  "$(sk list-tags "docker://$REG/interop/oci" | jq -c '.Tags')"

# ---------------------------------------------------------------- (b) Docker schema2
echo "# (b) Docker schema2 conversion"
check "b: skopeo copy --format v2s2 oci:SRC:v1 -> docker://$REG/interop/docker:v1" \
  sk copy --format v2s2 "oci:$SRC:v1" "docker://$REG/interop/docker:v1"
DOUT=$(tmpdir dir-out)
check "b: skopeo copy docker://…/interop/docker:v1 -> dir:OUT" \
  sk copy "docker://$REG/interop/docker:v1" "dir:$DOUT"
check_eq "b: manifest mediaType" "$MT_DOCKER_MANIFEST" "$(jq -r .mediaType "$DOUT/manifest.json" 2>/dev/null)"
check_eq "b: layer mediaTypes" "application/vnd.docker.image.rootfs.diff.tar.gzip x4" \
  "$(jq -r '.layers | "\(map(.mediaType) | unique | join(",")) x\(length)"' "$DOUT/manifest.json" 2>/dev/null)"
check "b: dir:OUT blobs present and hash to their digests" dir_image_ok "$DOUT"
check "b: schema2 blobs byte-identical to the OCI source's" same_blobs_oci_dir "$SRC" "$DOUT"
D1=$(sha256_file "$DOUT/manifest.json")
check_eq "b: skopeo inspect --raw digest of docker:v1 equals pulled manifest.json" "$D1" \
  "$(sk inspect --raw "docker://$REG/interop/docker:v1" | sha256_stdin)"
check_eq "b: HEAD docker:v1 Docker-Content-Digest equals sha256(inspect --raw)" "$D1" \
  "$(http_header HEAD "$URL/interop/docker/manifests/v1" Docker-Content-Digest "$MT_DOCKER_MANIFEST")"
check_eq "b: HEAD docker:v1 Content-Type" "$MT_DOCKER_MANIFEST" \
  "$(http_header HEAD "$URL/interop/docker/manifests/v1" Content-Type "$MT_DOCKER_MANIFEST")"
check "b: skopeo copy dir:OUT -> docker://…/interop/docker:v2 (second tag)" \
  sk copy "dir:$DOUT" "docker://$REG/interop/docker:v2"
check_eq "b: skopeo inspect --raw digest of docker:v2 equals docker:v1" "$D1" \
  "$(sk inspect --raw "docker://$REG/interop/docker:v2" | sha256_stdin)"
check_eq "b: HEAD docker:v2 Docker-Content-Digest" "$D1" \
  "$(http_header HEAD "$URL/interop/docker/manifests/v2" Docker-Content-Digest "$MT_DOCKER_MANIFEST")"
DOUT2=$(tmpdir dir-out2)
check "b: skopeo copy docker://…/interop/docker:v2 -> dir:OUT2" \
  sk copy "docker://$REG/interop/docker:v2" "dir:$DOUT2"
check "b: round-tripped dir copies identical" diff -r "$DOUT" "$DOUT2"
check_eq "b: skopeo list-tags interop/docker" '["v1","v2"]' \
  "$(sk list-tags "docker://$REG/interop/docker" | jq -c '.Tags | sort')"

# ---------------------------------------------------------------- (c) delete
echo "# (c) delete by digest"
check "c: skopeo delete docker://…/interop/oci@$SRC_DIGEST" \
  sk delete "docker://$REG/interop/oci@$SRC_DIGEST"
if sk inspect --raw "docker://$REG/interop/oci@$SRC_DIGEST" >/dev/null 2>&1; then
  fail "c: skopeo inspect by digest fails after delete" "it still succeeds"
else
  pass "c: skopeo inspect by digest fails after delete"
fi
if sk inspect --raw "docker://$REG/interop/oci:v1" >/dev/null 2>&1; then
  fail "c: skopeo inspect of tag v1 fails after its manifest is deleted" "it still succeeds"
else
  pass "c: skopeo inspect of tag v1 fails after its manifest is deleted"
fi
check_eq "c: HEAD manifest by digest after delete" 404 "$(http_code HEAD "$URL/interop/oci/manifests/$SRC_DIGEST")"
check_eq "c: other repository untouched (docker:v1 digest)" "$D1" \
  "$(sk inspect --raw "docker://$REG/interop/docker:v1" | sha256_stdin)"

# ---------------------------------------------------------------- (d) image index
MULTI=$(oci_index_digest "$SRC" multi)
echo "# (d) OCI image index (linux/amd64 + linux/arm64) $MULTI"
check "d: skopeo copy --all oci:SRC:multi -> docker://…/interop/multi:v1" \
  sk copy --all "oci:$SRC:multi" "docker://$REG/interop/multi:v1"
check_eq "d: skopeo inspect --raw digest is the index's" "$MULTI" \
  "$(sk inspect --raw "docker://$REG/interop/multi:v1" | sha256_stdin)"
check_eq "d: GET index by tag: Content-Type" "$MT_OCI_INDEX" \
  "$(http_header GET "$URL/interop/multi/manifests/v1" Content-Type)"
ARM=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$SRC/blobs/sha256/${MULTI#sha256:}")
check_eq "d: HEAD child manifest (arm64) by digest" 200 "$(http_code HEAD "$URL/interop/multi/manifests/$ARM")"
check_eq "d: skopeo --override-arch arm64 inspect picks the arm64 image" "linux arm64" \
  "$(sk --override-arch arm64 inspect "docker://$REG/interop/multi:v1" 2>&1 | jq -r '"\(.Os) \(.Architecture)"' 2>&1)"
MOUT=$(tmpdir multi-out)
check "d: skopeo copy --all docker://…/interop/multi:v1 -> oci:OUT:multi" \
  sk copy --all "docker://$REG/interop/multi:v1" "oci:$MOUT:multi"
check "d: index, both images and all their blobs byte-identical to the source" same_oci_image "$SRC" "$MOUT" multi

summary
