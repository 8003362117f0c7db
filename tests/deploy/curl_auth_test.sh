#!/usr/bin/env bash
# The classic env-only deployment (htpasswd + TLS, six REGISTRY_* variables) driven with curl:
# authenticated reads, 401 + challenge + UNAUTHORIZED without (or with wrong) credentials on every
# /v2/ route (wrong passwords, parallel ones too, stay 401 and the right one works right after),
# certificate verification, TLS version floor, throttling of password guessing (429 after 30
# failures of one user from one address), plain HTTP on the TLS port.  Usage: bash curl_auth_test.sh PATH-TO-ONSEN
set -euo pipefail
source "$(dirname "$0")/lib.sh"
deploy_init "$@"
deploy_install_deps || abort "install dependencies"

W=$(tmpdir onsen)
PORT=$(free_port)
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" || abort "onsen starts (env-only, TLS + htpasswd)"
pass "onsen starts with the six classic variables and no config file"
R=$(tmpdir req)
REPO=deploy/curl-app
AUTH=(--cacert "$ONSEN_CA" -u "$DEPLOY_USER:$DEPLOY_PASS")
NOAUTH=(--cacert "$ONSEN_CA")

# ---------------------------------------------------------------- seed one image (curl only)
L=$(tmpdir layout)
make_image "$L" v1 --seed curl >/dev/null
MDIGEST=$(oci_index_digest "$L" v1)
M=$L/blobs/sha256/${MDIGEST#sha256:}
push_ok=1
for d in $(jq -r '.config.digest, .layers[].digest' "$M"); do
  code=$(http_req "$R/up" "${AUTH[@]}" -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary "@$L/blobs/sha256/${d#sha256:}" "$ONSEN_URL/v2/$REPO/blobs/uploads/?digest=$d") || true
  [ "$code" = 201 ] || { push_ok=0; fail "monolithic blob upload $d with credentials -> 201" "got $code: $(head -c 300 "$R/up.body")"; }
done
[ $push_ok = 1 ] && pass "blobs uploaded with credentials (201)"
code=$(http_req "$R/put" "${AUTH[@]}" -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
  --data-binary "@$M" "$ONSEN_URL/v2/$REPO/manifests/v1") || true
check_eq "PUT manifest with credentials -> 201" 201 "$code"
BLOB=$(jq -r '.layers[0].digest' "$M")

# ---------------------------------------------------------------- authenticated reads
code=$(http_req "$R/base" "${AUTH[@]}" "$ONSEN_URL/v2/") || true
check_eq "GET /v2/ with credentials -> 200" 200 "$code"
check_eq "GET /v2/ carries Docker-Distribution-API-Version" "registry/2.0" \
  "$(header_value "$R/base.headers" Docker-Distribution-API-Version)"

# Exactly the command from the deployment guides (curl -su user:pass --cacert crt URL).
out=$(curl -su "$DEPLOY_USER:$DEPLOY_PASS" --cacert "$ONSEN_CA" -m 30 -w '\n%{http_code}' "$ONSEN_URL/v2/_catalog") || true
check_eq "curl -su user:pass --cacert crt /v2/_catalog -> 200" 200 "${out##*$'\n'}"
body=${out%$'\n'*}
check_eq "_catalog is JSON listing the repository" "$REPO" \
  "$(printf '%s' "$body" | jq -r '.repositories | join(",")' 2>&1)"
code=$(http_req "$R/cat" "${AUTH[@]}" "$ONSEN_URL/v2/_catalog") || true
check_contains "_catalog Content-Type is JSON" "application/json" "$(header_value "$R/cat.headers" Content-Type)"

code=$(http_req "$R/tags" "${AUTH[@]}" "$ONSEN_URL/v2/$REPO/tags/list") || true
check_eq "tags/list with credentials -> 200" 200 "$code"
check_eq "tags/list body" "$REPO v1" "$(jq -r '.name + " " + (.tags | join(","))' "$R/tags.body" 2>&1)"

code=$(http_req "$R/man" "${AUTH[@]}" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$ONSEN_URL/v2/$REPO/manifests/v1") || true
check_eq "GET manifest with credentials -> 200" 200 "$code"
check_eq "manifest bytes are the pushed ones" "$MDIGEST" "$(sha256_file "$R/man.body")"
code=$(http_req "$R/blob" "${AUTH[@]}" "$ONSEN_URL/v2/$REPO/blobs/$BLOB") || true
check_eq "GET blob with credentials -> 200 and the right bytes" "200 $BLOB" "$code $(sha256_file "$R/blob.body")"

# ---------------------------------------------------------------- no credentials: 401 everywhere
EXPECTED_CHALLENGE='Basic realm="Onsen Registry"'
# unauth_check NAME CURL-ARGS...: 401, the challenge, an UNAUTHORIZED error body, no registry data.
unauth_check() {
  local name=$1; shift
  local code problems=() ch
  code=$(http_req "$R/u" "$@") || true
  [ "$code" = 401 ] || problems+=("status $code (expected 401)")
  ch=$(header_value "$R/u.headers" WWW-Authenticate)
  [ "$ch" = "$EXPECTED_CHALLENGE" ] || problems+=("WWW-Authenticate: '$ch' (expected '$EXPECTED_CHALLENGE')")
  if [ "$(jq -r '.errors[0].code' "$R/u.body" 2>/dev/null)" != UNAUTHORIZED ]; then
    problems+=("body is not an UNAUTHORIZED error: $(head -c 300 "$R/u.body")")
  fi
  if grep -q -F -e "$REPO" -e "${MDIGEST#sha256:}" -e '"schemaVersion"' "$R/u.body" 2>/dev/null ||
     grep -q -F -e "${MDIGEST}" "$R/u.headers" 2>/dev/null; then
    problems+=("response leaks registry data: $(head -c 300 "$R/u.body")")
  fi
  [ "$(header_value "$R/u.headers" Docker-Distribution-API-Version)" = registry/2.0 ] ||
    problems+=("no Docker-Distribution-API-Version header")
  if [ ${#problems[@]} -eq 0 ]; then pass "$name"; else fail "$name" "${problems[@]}"; fi
}
unauth_check "no credentials: GET /v2/ -> 401 challenge"              "${NOAUTH[@]}" "$ONSEN_URL/v2/"
unauth_check "no credentials: GET /v2/_catalog -> 401, no data"        "${NOAUTH[@]}" "$ONSEN_URL/v2/_catalog"
unauth_check "no credentials: GET tags/list -> 401, no data"           "${NOAUTH[@]}" "$ONSEN_URL/v2/$REPO/tags/list"
unauth_check "no credentials: GET manifest -> 401, no data"            "${NOAUTH[@]}" "$ONSEN_URL/v2/$REPO/manifests/v1"
unauth_check "no credentials: GET manifest by digest -> 401, no data"  "${NOAUTH[@]}" "$ONSEN_URL/v2/$REPO/manifests/$MDIGEST"
unauth_check "no credentials: GET blob -> 401, no data"                "${NOAUTH[@]}" "$ONSEN_URL/v2/$REPO/blobs/$BLOB"
unauth_check "no credentials: GET referrers -> 401, no data"           "${NOAUTH[@]}" "$ONSEN_URL/v2/$REPO/referrers/$MDIGEST"
unauth_check "no credentials: GET unknown repository -> 401 (not 404)" "${NOAUTH[@]}" "$ONSEN_URL/v2/no/such/manifests/latest"
unauth_check "no credentials: POST blob upload -> 401"                 "${NOAUTH[@]}" -X POST "$ONSEN_URL/v2/$REPO/blobs/uploads/"
unauth_check "no credentials: PUT manifest -> 401"                     "${NOAUTH[@]}" -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary "@$M" "$ONSEN_URL/v2/$REPO/manifests/evil"
unauth_check "no credentials: DELETE manifest -> 401"                  "${NOAUTH[@]}" -X DELETE "$ONSEN_URL/v2/$REPO/manifests/$MDIGEST"
# HEAD: curl -I cannot tell whether bytes follow the header block; read the raw stream.
out=$(python3 "$DEPLOY_DIR/raw_http.py" 127.0.0.1 "$PORT" HEAD "/v2/$REPO/manifests/v1" --tls --cafile "$ONSEN_CA" \
  --sni "$REGISTRY_NAME" --head-split 2>&1) || true
check_eq "no credentials: HEAD manifest -> 401 + challenge, no body bytes" "401 $EXPECTED_CHALLENGE 0" \
  "$(printf '%s' "$out" | jq -r '"\(.status) \(.headers["www-authenticate"]) \(.body_bytes)"' 2>&1)"
unauth_check "Bearer token instead of Basic -> 401"                    "${NOAUTH[@]}" -H "Authorization: Bearer abc.def.ghi" "$ONSEN_URL/v2/_catalog"
unauth_check "malformed Basic credentials -> 401"                      "${NOAUTH[@]}" -H "Authorization: Basic !!!notbase64" "$ONSEN_URL/v2/_catalog"
code=$(http_req "$R/chk" "${AUTH[@]}" "$ONSEN_URL/v2/$REPO/tags/list") || true
check_eq "the unauthenticated PUT/DELETE changed nothing" "v1" "$(jq -r '.tags | join(",")' "$R/chk.body" 2>&1)"

# Wrong password and unknown user, from the address every other check uses (127.0.0.1): each is
# a plain 401 with the challenge, and the right password works right after.
unauth_check "wrong password -> 401" "${NOAUTH[@]}" -u "$DEPLOY_USER:not-the-password" "$ONSEN_URL/v2/_catalog"
unauth_check "unknown user -> 401"   "${NOAUTH[@]}" -u "nobody:$DEPLOY_PASS" "$ONSEN_URL/v2/_catalog"
# A client with a stale password fires several requests at once (docker, ctr and podman do): all
# are 401, none 429, and the right password is served right after.
par_pids=()
for i in 1 2 3 4 5 6 7 8 9 10; do
  curl -s -o /dev/null -m 30 -w '%{http_code}\n' "${NOAUTH[@]}" -u "$DEPLOY_USER:stale-$((i % 2))" \
    "$ONSEN_URL/v2/_catalog" >"$R/par$i" &
  par_pids+=($!)
done
wait "${par_pids[@]}" || true  # (a bare `wait` would wait for the server too)
check_eq "10 parallel requests with wrong passwords -> 10 x 401" "401 401 401 401 401 401 401 401 401 401" \
  "$(cat "$R"/par{1,2,3,4,5,6,7,8,9,10} | tr '\n' ' ' | sed 's/ $//')"
unauth_check "wrong password after the parallel ones -> still 401" "${NOAUTH[@]}" -u "$DEPLOY_USER:not-the-password" "$ONSEN_URL/v2/_catalog"
code=$(http_req "$R/right" "${AUTH[@]}" "$ONSEN_URL/v2/_catalog") || true
check_eq "the right password from the same address right after -> 200" 200 "$code"

# ---------------------------------------------------------------- htpasswd file edits while running
# Users are added the usual way (htpasswd -Bbn >> file) and the file is re-read without a restart.
# Each negative probe comes from its own loopback address and at most twice, below the throttle.
# code_as ADDR USER PASS: status of GET /v2/_catalog from source address ADDR.
code_as() { curl -s -o /dev/null -m 30 --interface "$1" --cacert "$ONSEN_CA" -u "$2:$3" -w '%{http_code}' "$ONSEN_URL/v2/_catalog" || true; }
# eventually_code ADDR USER PASS EXPECTED: the status after the file change (2 tries, 2.5 s apart).
eventually_code() {
  local c _
  for _ in 1 2; do
    sleep 2.5
    c=$(code_as "$1" "$2" "$3" "$4")
    [ "$c" = "$4" ] && break
  done
  echo "$c"
}
COLON_PASS='pa:ss wörd:with colons'
make_htpasswd "$ONSEN_HTPASSWD" second-user "$COLON_PASS"
check_eq "user added to the htpasswd file while running can log in (password with ':' and UTF-8)" 200 \
  "$(eventually_code 127.0.0.5 second-user "$COLON_PASS" 200)"
htpasswd -bm -n md5-user md5-password | sed '/^$/d' >>"$ONSEN_HTPASSWD"
sleep 2.5
check_eq "an MD5 (non-bcrypt) htpasswd entry is not accepted" 401 "$(code_as 127.0.0.6 md5-user md5-password)"
check_eq "the other users still work after the MD5 line" 200 "$(code_as 127.0.0.1 "$DEPLOY_USER" "$DEPLOY_PASS")"
# Remove the original user: write a new file and rename it over the old one (as editors and
# Kubernetes secrets do). Its credentials were verified (cached) before: they must stop working.
grep -v "^$DEPLOY_USER:" "$ONSEN_HTPASSWD" >"$ONSEN_HTPASSWD.new" && mv "$ONSEN_HTPASSWD.new" "$ONSEN_HTPASSWD"
check_eq "user removed from the htpasswd file (rename) is refused, cached credentials included" 401 \
  "$(eventually_code 127.0.0.7 "$DEPLOY_USER" "$DEPLOY_PASS" 401)"
check_eq "the remaining user still works" 200 "$(code_as 127.0.0.5 second-user "$COLON_PASS")"
make_htpasswd "$ONSEN_HTPASSWD" "$DEPLOY_USER" "$DEPLOY_PASS"
check_eq "user added back works again" 200 "$(eventually_code 127.0.0.1 "$DEPLOY_USER" "$DEPLOY_PASS" 200)"

# ---------------------------------------------------------------- TLS
OTHER=$(tmpdir otherca)
make_tls "$OTHER" "$REGISTRY_NAME" || abort "make a second self-signed certificate"
rc=0; curl -s -o /dev/null -m 30 --cacert "$OTHER/$REGISTRY_NAME.crt" -u "$DEPLOY_USER:$DEPLOY_PASS" "$ONSEN_URL/v2/_catalog" || rc=$?
check_eq "another self-signed cert as --cacert -> verification failure (curl exit 60)" 60 "$rc"
rc=0; curl -s -o /dev/null -m 30 -u "$DEPLOY_USER:$DEPLOY_PASS" "$ONSEN_URL/v2/_catalog" || rc=$?
check_eq "system CA store only -> verification failure (curl exit 60)" 60 "$rc"
code=$(curl -s -o /dev/null -m 30 --tlsv1.2 --tls-max 1.2 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/") || true
check_eq "TLS 1.2 client accepted" 200 "$code"
code=$(curl -s -o /dev/null -m 30 --tlsv1.3 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/") || true
check_eq "TLS 1.3 client accepted" 200 "$code"
rc=0; code=$(curl -s -o /dev/null -m 30 --tlsv1.0 --tls-max 1.1 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/") || rc=$?
if [ "$rc" != 0 ] && [ "$code" = 000 ]; then pass "curl --tls-max 1.1 refused (curl exit $rc)"; else fail "curl --tls-max 1.1 refused" "curl exit $rc, status $code"; fi
# curl's own OpenSSL policy may refuse TLS 1.1 before the server is asked: offer it for real
# (security level 0 on the client) and require the *server* to refuse.
# handshake_done OUTPUT: s_client negotiated a cipher ("New, TLSv1.1, Cipher is ECDHE-...").
handshake_done() { printf '%s' "$1" | grep -q -E '^New, [^,]+, Cipher is [A-Za-z0-9]'; }
for v in 1_1 1; do
  out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername "$REGISTRY_NAME" "-tls$v" -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1) || true
  if ! handshake_done "$out" && printf '%s' "$out" | grep -q 'alert protocol version'; then
    pass "server refuses a TLS ${v/_/.} handshake with a protocol_version alert (s_client -tls$v, client seclevel 0)"
  else
    fail "server refuses a TLS ${v/_/.} handshake" "$(printf '%s' "$out" | grep -E 'New,|Protocol|alert|error' | head -5)"
  fi
done
out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername "$REGISTRY_NAME" -tls1_2 </dev/null 2>&1) || true
if handshake_done "$out"; then pass "s_client -tls1_2 handshake succeeds (control for the check above)"
else fail "s_client -tls1_2 handshake succeeds" "$(printf '%s' "$out" | grep -E 'New,|alert|error' | head -5)"; fi

# Plain HTTP to the TLS port: Go's (registry:2's) 400 and its text, so curl prints the reason.
rc=0; code=$(curl -s -o "$R/plain.body" -m 15 -u "$DEPLOY_USER:$DEPLOY_PASS" -w '%{http_code}' "http://$REGISTRY_NAME:$PORT/v2/_catalog") || rc=$?
check_eq "plain http:// to the TLS port: 400 (curl exit $rc)" 400 "$code"
check_eq "plain http:// to the TLS port: Go's explanation" "Client sent an HTTP request to an HTTPS server." "$(cat "$R/plain.body" 2>/dev/null)"
check_not_contains "plain http:// answer holds no registry data" "$REPO" "$(cat "$R/plain.body" 2>/dev/null)"
code=$(curl -s -o /dev/null -m 30 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/") || true
check_eq "server still serves TLS after the plain-HTTP and TLS 1.x attempts" 200 "$code"

# ---------------------------------------------------------------- throttling (client 127.0.0.3)
# The default figures: 30 failed logins of one user from one address within 3 minutes are 401s;
# the 31st distinct wrong password is a 429.
GUESSER=(--interface 127.0.0.3 "${NOAUTH[@]}")
codes=() retry_after="" got429=0
for i in $(seq 1 32); do
  code=$(http_req "$R/g$i" "${GUESSER[@]}" -u "$DEPLOY_USER:guess-$i" "$ONSEN_URL/v2/_catalog") || true
  codes+=("$code")
  if [ "$code" = 429 ] && [ $got429 = 0 ]; then
    got429=$i
    retry_after=$(header_value "$R/g$i.headers" Retry-After)
    t429=$(jq -r '.errors[0].code + ": " + .errors[0].message' "$R/g$i.body" 2>/dev/null || true)
  fi
done
# (The 32nd when the machine is so slow that the first block, 1 s, ran out before the 31st.)
if [ "$got429" -ge 31 ] && [ "$got429" -le 32 ]; then
  pass "wrong passwords -> 401 thirty times, then 429 (codes: ${codes[*]})"
else
  fail "wrong passwords -> 401 thirty times, then 429" "codes: ${codes[*]}"
fi
if [ $got429 -gt 0 ]; then
  case $retry_after in
    ''|*[!0-9]*) fail "429 carries a numeric Retry-After" "Retry-After: '$retry_after'" ;;
    *) pass "429 carries Retry-After: $retry_after" ;;
  esac
  check_eq "429 body: the error code and a message a person understands" \
    "TOOMANYREQUESTS: too many failed logins for this user from this address; retry after $retry_after s" "${t429:-}"
  # While that user is blocked from 127.0.0.3, other users there and other addresses log in.
  code=$(code_as 127.0.0.3 second-user "$COLON_PASS")
  check_eq "another user from the throttled address is not throttled (200)" 200 "$code"
  code=$(curl -s -o /dev/null -m 30 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/_catalog") || true
  check_eq "the same user from another client address is not throttled (200)" 200 "$code"
  code=$(curl -s -o /dev/null -m 30 --interface 127.0.0.4 "${AUTH[@]}" -w '%{http_code}' "$ONSEN_URL/v2/_catalog") || true
  check_eq "a third client address is not throttled (200)" 200 "$code"
  # The blocked client itself gets in with the right password once Retry-After has passed.
  wait_s=${retry_after:-1}
  case $wait_s in ''|*[!0-9]*) wait_s=1 ;; esac
  if [ "$wait_s" -le 20 ]; then
    ok=0 tries=() deadline=$((SECONDS + wait_s + 10))
    sleep "$wait_s"
    while [ $SECONDS -le $deadline ]; do
      code=$(http_req "$R/after" "${GUESSER[@]}" -u "$DEPLOY_USER:$DEPLOY_PASS" "$ONSEN_URL/v2/_catalog") || true
      tries+=("$code")
      [ "$code" = 200 ] && { ok=1; break; }
      ra=$(header_value "$R/after.headers" Retry-After); case $ra in ''|*[!0-9]*) ra=1 ;; esac
      sleep "$ra"
    done
    if [ $ok = 1 ]; then pass "throttled client logs in with the right password after Retry-After (${tries[*]})"
    else fail "throttled client logs in after Retry-After" "codes: ${tries[*]}"; fi
    code=$(http_req "$R/after2" "${GUESSER[@]}" -u "$DEPLOY_USER:$DEPLOY_PASS" "$ONSEN_URL/v2/_catalog") || true
    check_eq "after a success the client is no longer throttled" 200 "$code"
  else
    skip "throttled client logs in after Retry-After" "Retry-After $wait_s s is too long for this test"
  fi
fi

check "onsen is still running" kill -0 "$ONSEN_PID"
check "log names no password" bash -c "! grep -q -F -e '$DEPLOY_PASS' -e 'guess-' '$ONSEN_LOG'"
stop_onsen || fail "onsen stops on SIGTERM within 15 s"
summary
