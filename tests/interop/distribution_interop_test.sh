#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called via check/abort, which shellcheck cannot follow
# Onsen and CNCF Distribution (docker-registry) on the SAME storage directory, both directions:
#   (a) docker-registry writes dir D, Onsen serves it;
#   (b) Onsen writes dir E, docker-registry serves it (and E's files match D's);
#   (c) deletes and pushes through one server are seen by the other, and the two trees, after
#       the same operations, hold the same files with the same links;
#   (d) a manifest with a subject pushed by docker-registry: `onsen check` reports its missing
#       referrers index entry, pushing it again through Onsen adds it.
# Usage: distribution_interop_test.sh ONSEN_BINARY (ONSEN_UNDER_TEST=distribution: both roles
# are played by docker-registry, to validate the test itself).
set -uo pipefail
# shellcheck source=tests/interop/lib.sh
source "$(dirname "$0")/lib.sh"
interop_init "$@"

# Two images in one OCI layout: A (tag v1, 4 layers) and B (tag v2, 2 layers, nothing shared).
SRC=$(tmpdir src)
python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 4 --layer-size 1000000 --tag v1 --seed interop-a >/dev/null &&
  python3 "$INTEROP_DIR/make_oci_layout.py" "$SRC" --layers 2 --layer-size 700000 --tag v2 --seed interop-b >/dev/null ||
  abort "generate the OCI layout"
A=$(oci_index_digest "$SRC" v1)
B=$(oci_index_digest "$SRC" v2)
W=$(tmpdir work)
D=$(tmpdir storage-d)
E=$(tmpdir storage-e)
DOCKER_DIGEST=""   # digest of the v2s2 conversion of A (set by the first push)

# start ROLE ROOT: starts "onsen" (the server under test) or "distribution" on ROOT at a fresh
# port; sets REG (host:port) and PID.
start() {
  local role=$1 root=$2 port
  port=$(free_port)
  if [ "$role" = onsen ]; then start_onsen "$root" "$port"; else start_distribution "$root" "$port"; fi ||
    abort "start $role on $root (port $port)"
  REG=127.0.0.1:$port
  PID=$LAST_PID
}
finish() { stop "$PID" || fail "$1: server stops on SIGTERM within 15 s"; }

# push_all LABEL: the images and tags every tree gets, through the server at $REG.
push_all() {
  local l=$1 dd
  check "$l: push oci:v1 (image A)" sk copy "oci:$SRC:v1" "docker://$REG/interop/oci:v1"
  check "$l: push oci:latest (image A again, second tag)" sk copy "oci:$SRC:v1" "docker://$REG/interop/oci:latest"
  check "$l: push oci:v2 (image B)" sk copy "oci:$SRC:v2" "docker://$REG/interop/oci:v2"
  check "$l: push docker:v1 (image A as v2s2)" \
    sk copy --format v2s2 --digestfile "$W/docker-digest" "oci:$SRC:v1" "docker://$REG/interop/docker:v1"
  dd=$(cat "$W/docker-digest" 2>/dev/null)
  if [ -z "$DOCKER_DIGEST" ]; then DOCKER_DIGEST=$dd
  else check_eq "$l: v2s2 conversion digest same as in the first tree" "$DOCKER_DIGEST" "$dd"; fi
}

# verify_all LABEL: everything push_all wrote, read back through the server at $REG.
verify_all() {
  local l=$1 out dout
  check_eq "$l: list-tags interop/oci" '["latest","v1","v2"]' \
    "$(sk list-tags "docker://$REG/interop/oci" | jq -c '.Tags | sort')"
  check_eq "$l: list-tags interop/docker" '["v1"]' \
    "$(sk list-tags "docker://$REG/interop/docker" | jq -c '.Tags | sort')"
  check_eq "$l: GET /v2/_catalog" '["interop/docker","interop/oci"]' \
    "$(curl -s -m 30 "http://$REG/v2/_catalog" | jq -c '.repositories')"
  check_eq "$l: inspect --raw oci:v1 digest" "$A" "$(sk inspect --raw "docker://$REG/interop/oci:v1" | sha256_stdin)"
  check_eq "$l: inspect --raw oci:latest digest" "$A" "$(sk inspect --raw "docker://$REG/interop/oci:latest" | sha256_stdin)"
  check_eq "$l: inspect --raw oci:v2 digest" "$B" "$(sk inspect --raw "docker://$REG/interop/oci:v2" | sha256_stdin)"
  check_eq "$l: inspect --raw oci@B by digest" "$B" "$(sk inspect --raw "docker://$REG/interop/oci@$B" | sha256_stdin)"
  check_eq "$l: inspect --raw docker:v1 digest" "$DOCKER_DIGEST" \
    "$(sk inspect --raw "docker://$REG/interop/docker:v1" | sha256_stdin)"
  check_eq "$l: HEAD oci:v2 Docker-Content-Digest" "$B" \
    "$(http_header HEAD "http://$REG/v2/interop/oci/manifests/v2" Docker-Content-Digest)"
  check_eq "$l: HEAD docker:v1 Content-Type" "$MT_DOCKER_MANIFEST" \
    "$(http_header HEAD "http://$REG/v2/interop/docker/manifests/v1" Content-Type "$MT_DOCKER_MANIFEST")"
  out=$(tmpdir "$l-oci-out")
  check "$l: copy out oci:v1 -> oci:OUT:v1" sk copy "docker://$REG/interop/oci:v1" "oci:$out:v1"
  check "$l: copy out oci:v2 -> oci:OUT:v2" sk copy "docker://$REG/interop/oci:v2" "oci:$out:v2"
  check "$l: image A byte-identical (manifest + blobs)" same_oci_image "$SRC" "$out" v1
  check "$l: image B byte-identical (manifest + blobs)" same_oci_image "$SRC" "$out" v2
  dout=$(tmpdir "$l-dir-out")
  check "$l: copy out docker:v1 -> dir:OUT" sk copy "docker://$REG/interop/docker:v1" "dir:$dout"
  check_eq "$l: dir:OUT manifest.json digest" "$DOCKER_DIGEST" "$(sha256_file "$dout/manifest.json")"
  check "$l: dir:OUT blobs byte-identical to the source's" same_blobs_oci_dir "$SRC" "$dout"
}

# tree_listing ROOT: every regular file under ROOT (path relative to ROOT), with the content of
# link files; upload state (_uploads) is left out. Blob data is named by its digest already.
tree_listing() {
  (cd "$1" && find . -type f ! -path '*/_uploads/*' | LC_ALL=C sort | while IFS= read -r f; do
    case $f in */link) printf '%s -> %s\n' "$f" "$(cat "$f")" ;; *) printf '%s\n' "$f" ;; esac
  done)
}
# layout_ok ROOT: the files Distribution's layout requires for what push_all wrote.
layout_ok() {
  local r=$1/docker/registry/v2 h link
  for h in $(jq -r '.config.digest, .layers[].digest' "$SRC/blobs/sha256/${A#sha256:}") "$A" "$DOCKER_DIGEST"; do
    h=${h#sha256:}
    [ -f "$r/blobs/sha256/${h:0:2}/$h/data" ] || { echo "missing blobs/sha256/${h:0:2}/$h/data"; return 1; }
    [ "$(sha256_file "$r/blobs/sha256/${h:0:2}/$h/data")" = "sha256:$h" ] || { echo "bad data for $h"; return 1; }
  done
  for h in $(jq -r '.config.digest, .layers[].digest' "$SRC/blobs/sha256/${A#sha256:}"); do
    link=$r/repositories/interop/oci/_layers/sha256/${h#sha256:}/link
    [ "$(cat "$link" 2>/dev/null)" = "$h" ] || { echo "bad or missing $link"; return 1; }
  done
  link=$r/repositories/interop/oci/_manifests/revisions/sha256/${A#sha256:}/link
  [ "$(cat "$link" 2>/dev/null)" = "$A" ] || { echo "bad or missing $link"; return 1; }
  link=$r/repositories/interop/oci/_manifests/tags/v1/current/link
  [ "$(cat "$link" 2>/dev/null)" = "$A" ] || { echo "bad or missing $link"; return 1; }
  link=$r/repositories/interop/oci/_manifests/tags/v1/index/sha256/${A#sha256:}/link
  [ "$(cat "$link" 2>/dev/null)" = "$A" ] || { echo "bad or missing $link"; return 1; }
  link=$r/repositories/interop/docker/_manifests/tags/v1/current/link
  [ "$(cat "$link" 2>/dev/null)" = "$DOCKER_DIGEST" ] || { echo "bad or missing $link"; return 1; }
}
no_upload_leftovers() {
  local left
  left=$(find "$@" -path '*/_uploads/*' -type f | head -n 5)
  [ -z "$left" ] || { echo "left over upload files:"; echo "$left"; return 1; }
}

# ---------------------------------------------------------------- (a) Distribution -> Onsen
echo "# (a) docker-registry writes D, $ONSEN_UNDER_TEST reads it"
start distribution "$D"
push_all "a/distribution"
finish "a/distribution"
start onsen "$D"
verify_all "a/onsen"
finish "a/onsen"

# ---------------------------------------------------------------- (b) Onsen -> Distribution
echo "# (b) $ONSEN_UNDER_TEST writes E, docker-registry reads it"
start onsen "$E"
push_all "b/onsen"
finish "b/onsen"
check "b: E has Distribution's layout (blobs, _layers, revisions, tags/current, tags/index)" layout_ok "$E"
check "b: no upload state left in E" no_upload_leftovers "$E"
tree_listing "$D" >"$W/tree-d-1"
tree_listing "$E" >"$W/tree-e-1"
check "b: E holds the same files and links as D" diff "$W/tree-d-1" "$W/tree-e-1"
start distribution "$E"
verify_all "b/distribution"
finish "b/distribution"

# ---------------------------------------------------------------- (c) delete/push across servers
echo "# (c) changes through one server seen by the other"
# On D: the server under test deletes image B (tag v2) by digest and pushes a new tag v3.
start onsen "$D"
check "c/onsen: skopeo delete interop/oci@B" sk delete "docker://$REG/interop/oci@$B"
check "c/onsen: push oci:v3 (image A, existing blobs)" sk copy "oci:$SRC:v1" "docker://$REG/interop/oci:v3"
finish "c/onsen"
start distribution "$D"
check_eq "c/distribution: HEAD oci@B after delete through $ONSEN_UNDER_TEST" 404 \
  "$(http_code HEAD "http://$REG/v2/interop/oci/manifests/$B")"
check_eq "c/distribution: HEAD oci:v2 after delete through $ONSEN_UNDER_TEST" 404 \
  "$(http_code HEAD "http://$REG/v2/interop/oci/manifests/v2")"
check_eq "c/distribution: list-tags interop/oci" '["latest","v1","v3"]' \
  "$(sk list-tags "docker://$REG/interop/oci" | jq -c '.Tags | sort')"
check_eq "c/distribution: oci:v3 digest" "$A" "$(sk inspect --raw "docker://$REG/interop/oci:v3" | sha256_stdin)"
check_eq "c/distribution: oci:v1 still served" "$A" "$(sk inspect --raw "docker://$REG/interop/oci:v1" | sha256_stdin)"
finish "c/distribution"

# On E: docker-registry does the same; the server under test must see it.
start distribution "$E"
check "c/distribution: skopeo delete interop/oci@B" sk delete "docker://$REG/interop/oci@$B"
check "c/distribution: push oci:v3" sk copy "oci:$SRC:v1" "docker://$REG/interop/oci:v3"
finish "c/distribution"
start onsen "$E"
check_eq "c/onsen: HEAD oci@B after delete through docker-registry" 404 \
  "$(http_code HEAD "http://$REG/v2/interop/oci/manifests/$B")"
check_eq "c/onsen: GET oci:v2 after delete through docker-registry" 404 \
  "$(http_code GET "http://$REG/v2/interop/oci/manifests/v2")"
check_eq "c/onsen: list-tags interop/oci" '["latest","v1","v3"]' \
  "$(sk list-tags "docker://$REG/interop/oci" | jq -c '.Tags | sort')"
check_eq "c/onsen: oci:v3 digest" "$A" "$(sk inspect --raw "docker://$REG/interop/oci:v3" | sha256_stdin)"
# And the other way round for the schema2 repository, on E: delete through the server under test.
check "c/onsen: skopeo delete interop/docker@<v2s2 digest>" sk delete "docker://$REG/interop/docker@$DOCKER_DIGEST"
finish "c/onsen"
start distribution "$E"
check_eq "c/distribution: HEAD docker:v1 after delete through $ONSEN_UNDER_TEST" 404 \
  "$(http_code HEAD "http://$REG/v2/interop/docker/manifests/v1" "$MT_DOCKER_MANIFEST")"
finish "c/distribution"
start distribution "$D"
check "c/distribution: skopeo delete interop/docker@<v2s2 digest> on D" \
  sk delete "docker://$REG/interop/docker@$DOCKER_DIGEST"
finish "c/distribution"

# The same operations were done on D and E, half by each server: same files, same links.
tree_listing "$D" >"$W/tree-d-2"
tree_listing "$E" >"$W/tree-e-2"
check "c: after the same changes, D and E hold the same files and links" diff "$W/tree-d-2" "$W/tree-e-2"
check "c: no upload state left in D or E" no_upload_leftovers "$D" "$E"

# ---------------------------------------------------------------- (d) referrers across servers
# docker-registry knows nothing of Onsen's referrers index (_referrers): a manifest with a subject
# pushed through it is not listed by Onsen's referrers API until it is pushed again through Onsen,
# and `onsen check` names it meanwhile (README, "Storage layout"). Skipped when docker-registry
# plays both roles: it has neither a referrers API nor `check`.
if [ "$ONSEN_UNDER_TEST" = onsen ]; then
  echo "# (d) a referrer pushed through docker-registry, repaired through onsen"
  F=$(tmpdir storage-f)
  EMPTY=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  # "{}"
  start distribution "$F"
  check "d/distribution: push oci:v1 (the subject)" sk copy "oci:$SRC:v1" "docker://$REG/interop/ref:v1"
  loc=$(curl -s -m 30 -D - -o /dev/null -X POST "http://$REG/v2/interop/ref/blobs/uploads/" |
    tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  check_eq "d/distribution: upload the empty config" 201 \
    "$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X PUT --data-binary '{}' \
      -H 'Content-Type: application/octet-stream' "$loc&digest=$EMPTY")"
  subject_size=$(curl -s -m 30 -H "Accept: $MT_OCI_MANIFEST" "http://$REG/v2/interop/ref/manifests/v1" | wc -c)
  empty_desc="{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"$EMPTY\",\"size\":2}"
  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"$MT_OCI_MANIFEST\",\"artifactType\":\"application/vnd.interop.note\",\"config\":$empty_desc,\"layers\":[$empty_desc],\"subject\":{\"mediaType\":\"$MT_OCI_MANIFEST\",\"digest\":\"$A\",\"size\":$subject_size}}" >"$W/referrer.json"
  R=$(sha256_stdin <"$W/referrer.json")
  put_referrer() {
    curl -s -m 30 -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
      --data-binary "@$W/referrer.json" "http://$REG/v2/interop/ref/manifests/$R"
  }
  referrers() { curl -s -m 30 "http://$REG/v2/interop/ref/referrers/$A" | jq -c '[.manifests[].digest]'; }
  check_eq "d/distribution: PUT a manifest whose subject is image A" 201 "$(put_referrer)"
  finish "d/distribution"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$F" >"$W/check-f.yml"
  "$ONSEN_BIN" check "$W/check-f.yml" >"$W/check-f-1.out" 2>&1
  check_eq "d/onsen check: exit 1, the revision without an index entry named" "1 1" \
    "$? $(grep -c "problem: .*$R.*no referrers index entry" "$W/check-f-1.out")"
  start onsen "$F"
  check_eq "d/onsen: not listed by the referrers API before it is pushed again" '[]' "$(referrers)"
  check_eq "d/onsen: PUT the same manifest again" 201 "$(put_referrer)"
  check_eq "d/onsen: listed after it" "[\"$R\"]" "$(referrers)"
  finish "d/onsen"
  check "d/onsen check: clean after the repair" "$ONSEN_BIN" check "$W/check-f.yml"
fi

summary
