#!/usr/bin/env bash
# skopeo against the classic env-only deployment (htpasswd + TLS): login with a private CA
# directory and a private auth file, copy an OCI image (and a two-platform index) in, inspect,
# list-tags, copy back out byte-identically, delete, logout; wrong password (tried first: an
# authentication error, not 429), no credentials and an untrusted certificate are refused. skopeo reads nothing from /etc/containers or $HOME here.
# Usage: bash skopeo_auth_test.sh PATH-TO-ONSEN
set -euo pipefail
source "$(dirname "$0")/lib.sh"
deploy_init "$@"
deploy_install_deps skopeo || abort "install dependencies"

W=$(tmpdir onsen)
PORT=$(free_port)
# Deletes are off by default (as in registry:2); this deployment turns them on for `skopeo delete`.
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" REGISTRY_STORAGE_DELETE_ENABLED=true ||
  abort "onsen starts (env-only, TLS + htpasswd)"
HP=$ONSEN_HOSTPORT

# ---------------------------------------------------------------- private skopeo environment
E=$(tmpdir skopeo-env)
mkdir -p "$E/home" "$E/run" "$E/tmp" "$E/config" "$E/registries.d" "$E/certs"
chmod 700 "$E/run"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$E/policy.json"
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$E/registries.conf"
: >"$E/containers.conf"
cp "$ONSEN_CA" "$E/certs/ca.crt"
AUTHFILE=$E/auth.json
export HOME=$E/home XDG_RUNTIME_DIR=$E/run XDG_CONFIG_HOME=$E/config TMPDIR=$E/tmp
export CONTAINERS_REGISTRIES_CONF=$E/registries.conf CONTAINERS_CONF=$E/containers.conf
export DOCKER_CONFIG=$E/home/.docker
unset REGISTRY_AUTH_FILE CONTAINERS_STORAGE_CONF REGISTRIES_CONFIG_PATH
G=(--policy "$E/policy.json" --registries.d "$E/registries.d")
sk() { timeout 180 skopeo "${G[@]}" "$@"; }

L=$(tmpdir layout)
make_image "$L" v1 --seed skopeo >/dev/null
make_image "$L" multi --seed skopeo-multi --platforms linux/amd64,linux/arm64 >/dev/null
D1=$(oci_index_digest "$L" v1)
DM=$(oci_index_digest "$L" multi)
IMG=docker://$HP/deploy/skopeo
mkdir -p "$E/other-ca"
make_tls "$E/other-ca" "$REGISTRY_NAME" && mv "$E/other-ca/$REGISTRY_NAME.key" "$E/other.key"

# ---------------------------------------------------------------- refusals before login
# A wrong password first (issue 9): an authentication error, never 429, and the right password
# works afterwards (below) from the same address.
out=$(sk login --authfile "$AUTHFILE" --cert-dir "$E/certs" -u "$DEPLOY_USER" -p wrong-password "$HP" 2>&1) && rc=0 || rc=$?
check_auth_refused "skopeo login with a wrong password: invalid username/password" "$rc" "$out" 'invalid username/password'
check_not_contains "wrong password: nothing stored in the auth file" "$HP" "$(cat "$AUTHFILE" 2>/dev/null)"
# A copy sends several requests at once (the config and the layers) with the same wrong password.
out=$(sk copy --dest-authfile "$E/empty-auth.json" --dest-creds "$DEPLOY_USER:wrong-password" --dest-cert-dir "$E/certs" \
  --retry-times 0 "oci:$L:v1" "$IMG:wrong" 2>&1) && rc=0 || rc=$?
check_auth_refused "copy with --dest-creds and a wrong password: authentication error" "$rc" "$out"

out=$(sk copy --authfile "$AUTHFILE" --dest-cert-dir "$E/certs" --retry-times 0 "oci:$L:v1" "$IMG:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "copy without credentials is refused"; else fail "copy without credentials is refused" "$out"; fi
check_contains "copy without credentials: authentication required" "authentication required" "$out"

out=$(sk login --authfile "$AUTHFILE" -u "$DEPLOY_USER" -p "$DEPLOY_PASS" "$HP" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "login without the CA (system trust only) is refused"; else fail "login without the CA is refused" "$out"; fi
check_contains "untrusted certificate: x509 error" "x509: certificate signed by unknown authority" "$out"
out=$(sk login --authfile "$AUTHFILE" --cert-dir "$E/other-ca" -u "$DEPLOY_USER" -p "$DEPLOY_PASS" "$HP" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "login trusting a different self-signed cert is refused"; else fail "login trusting a different self-signed cert is refused" "$out"; fi
check_contains "different CA: x509 error" "x509: certificate signed by unknown authority" "$out"

# ---------------------------------------------------------------- login, copy, inspect
out=$(printf '%s\n' "$DEPLOY_PASS" | sk login --authfile "$AUTHFILE" --cert-dir "$E/certs" -u "$DEPLOY_USER" --password-stdin "$HP" 2>&1) && rc=0 || rc=$?
check_eq "skopeo login --cert-dir (password on stdin) succeeds" "0 Login Succeeded!" "$rc $out"
check_eq "auth file holds the registry's entry" "$(printf '%s:%s' "$DEPLOY_USER" "$DEPLOY_PASS" | base64 -w0)" \
  "$(jq -r --arg h "$HP" '.auths[$h].auth' "$AUTHFILE" 2>&1)"
out=$(sk login --authfile "$AUTHFILE" --cert-dir "$E/certs" --get-login "$HP" 2>&1) || true
check_eq "login --get-login names the user" "$DEPLOY_USER" "$out"

check "copy oci:layout:v1 -> registry (logged in)" \
  sk copy --authfile "$AUTHFILE" --dest-cert-dir "$E/certs" --retry-times 0 "oci:$L:v1" "$IMG:v1"
check "copy --all of a linux/amd64+arm64 index -> registry" \
  sk copy --all --authfile "$AUTHFILE" --dest-cert-dir "$E/certs" --retry-times 0 "oci:$L:multi" "$IMG:multi"
check "copy with --dest-creds (no auth file entry needed)" \
  sk copy --dest-authfile "$E/empty-auth.json" --dest-creds "$DEPLOY_USER:$DEPLOY_PASS" --dest-cert-dir "$E/certs" \
  --retry-times 0 "oci:$L:v1" "$IMG:v1-creds"

out=$(sk inspect --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:v1" 2>&1) || true
check_eq "inspect: digest of v1 is the layout's" "$D1" "$(printf '%s' "$out" | jq -r .Digest 2>&1)"
check_eq "inspect: architecture" "amd64" "$(printf '%s' "$out" | jq -r .Architecture 2>&1)"
sk inspect --raw --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:v1" >"$E/raw.json" 2>&1 || true
check_eq "inspect --raw: manifest bytes unchanged" "$D1" "$(sha256_file "$E/raw.json")"
sk inspect --raw --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:multi" >"$E/raw-multi.json" 2>&1 || true
check_eq "inspect --raw: index bytes unchanged" "$DM" "$(sha256_file "$E/raw-multi.json")"
out=$(sk --override-arch arm64 inspect --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:multi" 2>&1) || true
check_eq "inspect --override-arch arm64 resolves the arm64 image" "arm64" "$(printf '%s' "$out" | jq -r .Architecture 2>&1)"

out=$(sk list-tags --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG" 2>&1) || true
check_eq "list-tags" "multi v1 v1-creds" "$(printf '%s' "$out" | jq -r '.Tags | sort | join(" ")' 2>&1)"

O=$(tmpdir out)
check "copy back registry -> oci: (all platforms)" \
  sk copy --all --authfile "$AUTHFILE" --src-cert-dir "$E/certs" --retry-times 0 "$IMG:multi" "oci:$O:multi"
check "copy back registry -> oci: (v1)" \
  sk copy --authfile "$AUTHFILE" --src-cert-dir "$E/certs" --retry-times 0 "$IMG:v1" "oci:$O:v1"
check_eq "round trip keeps the v1 digest" "$D1" "$(oci_index_digest "$O" v1)"
check_eq "round trip keeps the index digest" "$DM" "$(oci_index_digest "$O" multi)"
bad=""
for f in "$O"/blobs/sha256/*; do [ "$(sha256_file "$f")" = "sha256:$(basename "$f")" ] || bad+=" $(basename "$f")"; done
check_eq "every blob copied back hashes to its name" "" "$bad"
check "every blob copied back equals the original" bash -c "for f in '$O'/blobs/sha256/*; do cmp \"\$f\" '$L'/blobs/sha256/\$(basename \"\$f\") || exit 1; done"

# ---------------------------------------------------------------- delete
check "skopeo delete $IMG:v1-creds" sk delete --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:v1-creds"
out=$(sk list-tags --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG" 2>&1) || true
# Deleting by tag resolves the digest and deletes the revision, with every tag on it (v1 too).
check_eq "tags after delete (the revision's tags are gone)" "multi" "$(printf '%s' "$out" | jq -r '.Tags | sort | join(" ")' 2>&1)"
out=$(sk inspect --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "inspect of the deleted image fails"; else fail "inspect of the deleted image fails" "$out"; fi
check_contains "deleted image: manifest unknown" "manifest unknown" "$out"
out=$(sk delete --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG:multi" 2>&1) && rc=0 || rc=$?
check_eq "skopeo delete of the index" 0 "$rc"

# ---------------------------------------------------------------- logout
out=$(sk logout --authfile "$AUTHFILE" "$HP" 2>&1) && rc=0 || rc=$?
check_eq "skopeo logout" "0" "$rc"
check_eq "auth file entry removed" "null" "$(jq -r --arg h "$HP" '.auths[$h]' "$AUTHFILE" 2>&1)"
out=$(sk list-tags --authfile "$AUTHFILE" --cert-dir "$E/certs" "$IMG" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "list-tags after logout is refused"; else fail "list-tags after logout is refused" "$out"; fi
# (containers/image words a 401 on tags/list as "unable to retrieve auth token: invalid
# username/password: unauthorized", although no credentials were sent)
check_contains "after logout: 401 unauthorized" "unauthorized" "$out"
out=$(sk copy --authfile "$AUTHFILE" --dest-cert-dir "$E/certs" --retry-times 0 "oci:$L:v1" "$IMG:after-logout" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "copy after logout is refused"; else fail "copy after logout is refused" "$out"; fi
code=$(ocurl -o /dev/null -w '%{http_code}' "$ONSEN_URL/v2/deploy/skopeo/manifests/after-logout") || true
check_eq "nothing was written by the refused copy" 404 "$code"

check "onsen is still running" kill -0 "$ONSEN_PID"
stop_onsen || fail "onsen stops on SIGTERM within 15 s"
summary
