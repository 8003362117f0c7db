#!/usr/bin/env bash
# containerd's ctr against the classic env-only deployment (htpasswd + TLS). A private containerd
# (own root, state, socket; no CRI plugin) imports an OCI archive of a generated image, pushes it
# with --user and a hosts.toml that trusts the CA, removes it, pulls it back and compares digests;
# also a two-platform index (pull --platform linux/arm64), and the refusals: a wrong password
# (tried before the right one: 401, never 429), no credentials, untrusted CA.
# Usage: bash ctr_test.sh PATH-TO-ONSEN
set -euo pipefail
source "$(dirname "$0")/lib.sh"
deploy_init "$@"
deploy_install_deps containerd || abort "install dependencies"
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then abort "containerd and ctr installed"; fi

W=$(tmpdir onsen)
PORT=$(free_port)
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" || abort "onsen starts (env-only, TLS + htpasswd)"
HP=$ONSEN_HOSTPORT

# ---------------------------------------------------------------- private containerd
C=$(tmpdir containerd)
SOCK=$C/containerd.sock
mkdir -p "$C/root" "$C/state" "$C/hosts/$HP"
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$C/debug.sock"
[metrics]
  address = ""
EOF
start_bg containerd "$C/containerd.log" "${CLEAN_ENV[@]}" containerd --config "$C/config.toml"
CTRD_PID=$LAST_PID
ready=0
for ((i = 0; i < 300; i++)); do
  kill -0 "$CTRD_PID" 2>/dev/null || break
  if [ -S "$SOCK" ] && ctr -a "$SOCK" version >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
[ $ready = 1 ] || abort "private containerd starts" "$(tail -n 20 "$C/containerd.log")"
pass "private containerd starts (own root, state and socket)"
# Stop it (gracefully) before the temp dir goes; its mounts, if any, go with it.
deploy_on_exit bash -c "kill -TERM $CTRD_PID; for i in \$(seq 50); do kill -0 $CTRD_PID 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL $CTRD_PID"
deploy_on_exit bash -c "grep -F ' $C/' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l"

NS=onsen-deploy
ctr_() { timeout 180 ctr -a "$SOCK" -n "$NS" "$@"; }

cat >"$C/hosts/$HP/hosts.toml" <<EOF
server = "https://$HP"
ca = "$ONSEN_CA"

[host."https://$HP"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$ONSEN_CA"
EOF
# An empty hosts dir: no CA for the registry (only the system store).
mkdir -p "$C/hosts-untrusted"

L=$(tmpdir layout)
make_image "$L" v1 --seed ctr >/dev/null
make_image "$L" multi --seed ctr-multi --platforms linux/amd64,linux/arm64 >/dev/null
D1=$(oci_index_digest "$L" v1)
DM=$(oci_index_digest "$L" multi)
ARM=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$L/blobs/sha256/${DM#sha256:}")
make_oci_archive "$L" "$C/image.tar"
REF=$HP/deploy/ctr

# ---------------------------------------------------------------- import
out=$(ctr_ images import --all-platforms --base-name "$REF" "$C/image.tar" 2>&1) && rc=0 || rc=$?
check_eq "ctr images import of the OCI archive" 0 "$rc"
[ $rc = 0 ] || log "$out"
list=$(ctr_ images ls 2>&1) || true
check_eq "imported v1 has the layout's digest" "$D1" "$(printf '%s\n' "$list" | awk -v r="$REF:v1" '$1 == r { print $3 }')"
check_eq "imported multi has the layout's index digest" "$DM" "$(printf '%s\n' "$list" | awk -v r="$REF:multi" '$1 == r { print $3 }')"

# ---------------------------------------------------------------- refusals
# One wrong password first, before the right one has ever been verified (issue 9: ctr reported
# 429 Too Many Requests here). A single `ctr push` sends several requests in parallel with it;
# every one must be a plain 401, so ctr reports the authentication error.
out=$(ctr_ images push --hosts-dir "$C/hosts" --user "$DEPLOY_USER:wrong-password" "$REF:v1" 2>&1) && rc=0 || rc=$?
check_auth_refused "push with a wrong password: ctr reports 401 Unauthorized" "$rc" "$out" '401 Unauthorized'
check_eq "the right password works right after, from the same address" 200 \
  "$(ocurl -o /dev/null -w '%{http_code}' "$ONSEN_URL/v2/")"
out=$(ctr_ images push --hosts-dir "$C/hosts" "$REF:v1" 2>&1) && rc=0 || rc=$?
check_auth_refused "push without --user: ctr reports 401 Unauthorized" "$rc" "$out" '401 Unauthorized'
out=$(ctr_ images push --hosts-dir "$C/hosts-untrusted" --user "$DEPLOY_USER:$DEPLOY_PASS" "$REF:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "push without trusting the CA is refused"; else fail "push without trusting the CA is refused" "$out"; fi
check_contains "untrusted CA: x509 error" "x509: certificate signed by unknown authority" "$out"
code=$(ocurl -o /dev/null -w '%{http_code}' "$ONSEN_URL/v2/deploy/ctr/manifests/v1") || true
check_eq "refused pushes wrote no manifest" 404 "$code"

# ---------------------------------------------------------------- push, remove, pull
check "ctr images push --user --hosts-dir (hosts.toml trusts the CA)" \
  ctr_ images push --hosts-dir "$C/hosts" --user "$DEPLOY_USER:$DEPLOY_PASS" "$REF:v1"
ocurl -o "$C/v1.json" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$ONSEN_URL/v2/deploy/ctr/manifests/v1" || true
check_eq "registry holds the pushed manifest bytes" "$D1" "$(sha256_file "$C/v1.json")"
check "ctr images push --tlscacert (multi-platform index)" \
  ctr_ images push --tlscacert "$ONSEN_CA" --user "$DEPLOY_USER:$DEPLOY_PASS" "$REF:multi"
ocurl -o "$C/multi.json" -H "Accept: application/vnd.oci.image.index.v1+json" "$ONSEN_URL/v2/deploy/ctr/manifests/multi" || true
check_eq "registry holds the pushed index bytes" "$DM" "$(sha256_file "$C/multi.json")"

check "ctr images rm" ctr_ images rm --sync "$REF:v1" "$REF:multi"
left=$(ctr_ content ls -q 2>/dev/null | wc -l)
check_eq "content store emptied by garbage collection" 0 "$left"

out=$(ctr_ images pull --hosts-dir "$C/hosts" "$REF:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "pull without --user is refused"; else fail "pull without --user is refused" "$out"; fi
check_contains "pull without credentials: 401" "401 Unauthorized" "$out"

out=$(ctr_ images pull --hosts-dir "$C/hosts" --user "$DEPLOY_USER:$DEPLOY_PASS" "$REF:v1" 2>&1) && rc=0 || rc=$?
check_eq "ctr images pull (unpacked)" 0 "$rc"
[ $rc = 0 ] || log "$(printf '%s' "$out" | tail -n 5)"
list=$(ctr_ images ls 2>&1) || true
check_eq "pulled v1 digest equals the pushed one" "$D1" "$(printf '%s\n' "$list" | awk -v r="$REF:v1" '$1 == r { print $3 }')"
check "pulled content verifies (ctr images check)" bash -c "ctr -a '$SOCK' -n '$NS' images check | awk -v r='$REF:v1' '\$1 == r' | grep -q complete"
bad=""
for d in $(jq -r '.config.digest, .layers[].digest' "$L/blobs/sha256/${D1#sha256:}"); do
  got=$(ctr_ content get "$d" 2>/dev/null | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$d" ] || bad+=" $d"
done
check_eq "every pulled blob hashes to its digest" "" "$bad"

out=$(ctr_ images pull --hosts-dir "$C/hosts" --user "$DEPLOY_USER:$DEPLOY_PASS" --platform linux/arm64 "$REF:multi" 2>&1) && rc=0 || rc=$?
check_eq "ctr images pull --platform linux/arm64 of the index" 0 "$rc"
[ $rc = 0 ] || log "$(printf '%s' "$out" | tail -n 5)"
check "the arm64 manifest was fetched" bash -c "ctr -a '$SOCK' -n '$NS' content ls -q | grep -q -x '$ARM'"
arm_cfg=$(jq -r .config.digest "$L/blobs/sha256/${ARM#sha256:}")
check_eq "the arm64 config is linux/arm64" "linux/arm64" \
  "$(ctr_ content get "$arm_cfg" 2>/dev/null | jq -r '.os + "/" + .architecture' 2>&1)"

check "onsen is still running" kill -0 "$ONSEN_PID"
stop_onsen || fail "onsen stops on SIGTERM within 15 s"
summary
