# The `s3` configuration of bench/run.sh (sourced by it; uses its helpers): a throw-away Ceph RGW
# booted for the run (tests/s3/start-ceph-rgw.sh, its own CEPH_DIR and free ports, stopped at the
# end), Onsen and docker-registry each on their own bucket of it, the gateway's own PUT/GET speed
# with one client as the limit, the gateway requests each listing costs (RGW's `req` perf
# counter), and the head-of-line probe with Onsen on a store that answers every call late
# (bench/s3_proxy.py between Onsen and the gateway).

S3_CEPH_DIR=""

# s3_gateway_start: boots the gateway, exports its S3_ENDPOINT / AWS_* variables, creates the buckets.
s3_gateway_start() {
  [ "$(id -u)" = 0 ] || die "the s3 configuration boots a Ceph RGW and needs root"
  local base env b
  S3_CEPH_DIR=$TMP/ceph
  # The OSD binds 8 ports of its range: a range of 100 nothing listens in.
  for ((b = 0; b < 50; b++)); do
    base=$((20000 + (RANDOM % 400) * 100))
    ss -Htln "sport >= :$base and sport <= :$((base + 99))" | grep -q . || break
  done
  log "s3: starting Ceph RGW in $S3_CEPH_DIR"
  env=$(CEPH_DIR=$S3_CEPH_DIR RGW_PORT=$(free_port) CEPH_MON_PORT=$(free_port) CEPH_MON_PORT_V1=$(free_port) \
    CEPH_OSD_PORT_MIN=$base CEPH_OSD_PORT_MAX=$((base + 99)) CEPH_STORE_SIZE_MB=${BENCH_S3_STORE_MB:-20480} \
    timeout 300 "$REPO_ROOT/tests/s3/start-ceph-rgw.sh" 2>"$TMP/logs/ceph-start.log") ||
    { tail -n 20 "$TMP/logs/ceph-start.log" >&2; die "start-ceph-rgw.sh failed"; }
  eval "$env"
  for b in onsen-bench registry-bench onsen-hol gateway-limit; do
    [ "$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$b")" = 200 ] || die "create bucket $b"
  done
  log "s3: gateway up at $S3_ENDPOINT ($(tail -n 1 "$TMP/logs/ceph-start.log" | sed 's/.*ready in/ready in/')); multipartcopythresholdsize ${S3_COPY_THRESHOLD:-default}"
}

s3_gateway_stop() {
  [ -n "$S3_CEPH_DIR" ] || return 0
  CEPH_DIR=$S3_CEPH_DIR "$REPO_ROOT/tests/s3/stop-ceph-rgw.sh" >/dev/null 2>&1 || true
  S3_CEPH_DIR=""
}

# curl 7.88's SigV4 needs the payload hash header given (see tests/s3/start-ceph-rgw.sh).
s3curl() {
  curl -s -m "$XFER_TIMEOUT" --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# s3_write_config FILE BUCKET ENDPOINT: the registry:2 image's config.yml with its filesystem
# block replaced by a 2.8-style s3 block (regionendpoint without forcepathstyle: path style, as
# docker-registry 2.8 does it), with S3_COPY_THRESHOLD as multipartcopythresholdsize when set. Redirects are off for both: the pulls measure the registry's
# own streaming, not the client fetching from the gateway.
s3_write_config() {
  local file=$1 bucket=$2 endpoint=$3
  awk -v ak="$AWS_ACCESS_KEY_ID" -v sk="$AWS_SECRET_ACCESS_KEY" -v rg="$S3_REGION" -v ep="$endpoint" -v bk="$bucket" \
      -v ct="$S3_COPY_THRESHOLD" '
    /^  filesystem:/ { skip = 1
      printf "  s3:\n    accesskey: %s\n    secretkey: %s\n    region: %s\n    regionendpoint: %s\n", ak, sk, rg, ep
      printf "    bucket: %s\n    rootdirectory: /registry\n    secure: false\n    v4auth: true\n", bk
      if (ct != "") printf "    multipartcopythresholdsize: %s\n", ct
      printf "  redirect:\n    disable: true\n"; next }
    skip && /^    / { next }
    { skip = 0; print }' "$REPO_ROOT/config/registry-default.yml" >"$file"
}

# rgw_requests: the gateway's request counter (all clients) since it started.
rgw_requests() {
  timeout 20 ceph --admin-daemon "$S3_CEPH_DIR/run/client.rgw.gw.asok" perf dump 2>/dev/null | jq -r '.rgw.req // empty'
}

# s3_limit: the gateway itself, one client: a plain PUT and GET of the blob file (curl --aws-sigv4).
s3_limit() {
  local key t0 t1 code
  stamp_blob "s3 limit $ROUND" >/dev/null
  key=gateway-limit/blob-r$ROUND
  t0=$(now_ns)
  code=$(s3curl -o /dev/null -w '%{http_code}' -T "$BLOB" "$S3_ENDPOINT/$key") || true
  t1=$(now_ns)
  if [ "$code" = 200 ]; then rec "$CFG" gw_put MB/s MB/s gateway "$ROUND" "$(mbps "$BLOB_BYTES" $((t1 - t0)))"
  else note "$CFG" gw_put gateway "$ROUND" "S3 PUT answered $code"; return 0; fi
  t0=$(now_ns)
  code=$(s3curl -o /dev/null -w '%{http_code} %{size_download}' "$S3_ENDPOINT/$key") || true
  t1=$(now_ns)
  if [ "$code" = "200 $BLOB_BYTES" ]; then rec "$CFG" gw_get MB/s MB/s gateway "$ROUND" "$(mbps "$BLOB_BYTES" $((t1 - t0)))"
  else note "$CFG" gw_get gateway "$ROUND" "S3 GET answered '$code'"; fi
  s3curl -o /dev/null -X DELETE "$S3_ENDPOINT/$key" || true
  log "$CFG r$ROUND gateway alone: PUT $(jq -r 'select(.figure=="gw_put" and .round=='"$ROUND"') | .value' "$RESULTS" | tail -n 1) MB/s, GET $(jq -r 'select(.figure=="gw_get" and .round=='"$ROUND"') | .value' "$RESULTS" | tail -n 1) MB/s"
}

# s3_counted_wrk SRV FIGURE METHOD PATH: run_wrk, and the gateway requests per answered request
# (the other server is idle meanwhile: the counter is the gateway's total).
s3_counted_wrk() {
  local srv=$1 fig=$2 a b
  a=$(rgw_requests)
  run_wrk "$@"
  b=$(rgw_requests)
  if [ -n "$a" ] && [ -n "$b" ] && [ "${LAST_WRK_REQUESTS:-0}" -gt 0 ]; then
    rec "$CFG" "${fig}_gwreq" per_req "gw req/req" "$srv" "$ROUND" \
      "$(awk -v d=$((b - a)) -v n="$LAST_WRK_REQUESTS" 'BEGIN { printf "%.4f", d / n }')"
    log "$CFG r$ROUND $fig $srv: $((b - a)) gateway requests for $LAST_WRK_REQUESTS answers"
  fi
}

# s3_hol MIB: Onsen on the gateway behind s3_proxy.py (every call S3_DELAY_MS late), hol.py's probe
# idle and under HOL_PUSHERS pushes of MIB MiB; p50/p99 over both paths and per path. With a Redis
# of its own (redis-server on a free loopback port), as replicas run: subscribed to it, Onsen keeps
# its read cache entries 60 s instead of 1 s (docs/ARCHITECTURE.md, "Read cache"), so the probe's
# manifest GET is not a round trip to the slow store once a second.
s3_hol() {
  local mib=$1 dir=$TMP/s3hol port pport ppid opid rport rpid i code out fig=s3hol_$1 a b
  mkdir -p "$dir"
  rport=$(free_port)
  start_bg "$dir/redis.log" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no
  rpid=$LAST_PID
  wait_port "$rport" "$rpid" 10 || { note "$CFG" "$fig" onsen "$ROUND" "redis-server did not start: $(tail -n 2 "$dir/redis.log")"; return 0; }
  pport=$(free_port)
  start_bg "$dir/proxy.log" python3 "$BENCH_DIR/s3_proxy.py" --port "$pport" --upstream "${S3_ENDPOINT#http://}" \
    --delay-ms "$S3_DELAY_MS"
  ppid=$LAST_PID
  wait_port "$pport" "$ppid" 10 || { note "$CFG" "$fig" onsen "$ROUND" "s3_proxy.py did not start: $(tail -n 2 "$dir/proxy.log")"; return 0; }
  port=$(free_port)
  s3_write_config "$dir/config.yml" onsen-hol "http://127.0.0.1:$pport"
  printf 'redis:\n  addr: 127.0.0.1:%s\n' "$rport" >>"$dir/config.yml"
  start_bg "$dir/onsen.log" env -i "PATH=$CLEAN_PATH" HOME=/root LANG=C "REGISTRY_HTTP_ADDR=127.0.0.1:$port" \
    "REGISTRY_LOG_LEVEL=$LOG_LEVEL" "$ONSEN_BIN" serve "$dir/config.yml"
  opid=$LAST_PID
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null) || true
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  for ((i = 0; i < 50; i++)); do grep -q "subscribed to" "$dir/onsen.log" && break; sleep 0.1; done
  if [ "$code" = 200 ]; then
    a=$(curl -s -m 5 "http://127.0.0.1:$pport/__proxy/stats" | jq -r .requests)
    if out=$(timeout $((XFER_TIMEOUT + 120)) python3 "$BENCH_DIR/hol.py" "http://127.0.0.1:$port" --blob "$BLOB" \
        --bytes $((mib * 1048576)) --pushers "$HOL_PUSHERS" --idle "$HOL_IDLE" --timeout "$XFER_TIMEOUT" \
        --repo bench/s3hol-r$ROUND 2>"$TMP/logs/s3hol.err"); then
      b=$(curl -s -m 5 "http://127.0.0.1:$pport/__proxy/stats" | jq -r .requests)
      local k
      for k in idle load; do
        local f=s3hol_idle; [ $k = load ] && f=$fig
        rec "$CFG" "$f" p50 ms onsen "$ROUND" "$(jq -r ".$k.p50_ms" <<<"$out")"
        rec "$CFG" "$f" p99 ms onsen "$ROUND" "$(jq -r ".$k.p99_ms" <<<"$out")"
        rec "$CFG" "${f}_v2" p50 ms onsen "$ROUND" "$(jq -r ".$k.paths.v2.p50_ms" <<<"$out")"
        rec "$CFG" "${f}_v2" p99 ms onsen "$ROUND" "$(jq -r ".$k.paths.v2.p99_ms" <<<"$out")"
        rec "$CFG" "${f}_manifest" p50 ms onsen "$ROUND" "$(jq -r ".$k.paths.manifest.p50_ms" <<<"$out")"
        rec "$CFG" "${f}_manifest" p99 ms onsen "$ROUND" "$(jq -r ".$k.paths.manifest.p99_ms" <<<"$out")"
      done
      rec "$CFG" "$fig" max ms onsen "$ROUND" "$(jq -r .load.max_ms <<<"$out")"
      rec "$CFG" s3hol_store_calls calls calls onsen "$ROUND" "$((b - a))"
      local errs ok
      errs=$(jq -r '.idle.errors + .load.errors' <<<"$out")
      ok=$(jq -r .push.ok <<<"$out")
      [ "$errs" = 0 ] || note "$CFG" "$fig" onsen "$ROUND" "$errs probe requests failed (not 200 or connection error)"
      [ "$ok" = "$HOL_PUSHERS" ] || note "$CFG" "$fig" onsen "$ROUND" "$ok of $HOL_PUSHERS pushes answered 201: $(jq -c .push.statuses <<<"$out")"
      log "$CFG r$ROUND $fig (store +$S3_DELAY_MS ms): $(jq -c '{idle: .idle, load: .load, push: .push.seconds}' <<<"$out"); $((b - a)) store calls"
    else
      note "$CFG" "$fig" onsen "$ROUND" "hol.py failed: $(tail -n 2 "$TMP/logs/s3hol.err" | tr '\n' ' ')"
    fi
  else
    note "$CFG" "$fig" onsen "$ROUND" "Onsen behind the delay proxy did not answer GET /v2/: $(tail -n 3 "$dir/onsen.log" | tr '\n' ' ')"
  fi
  stop_pid "$opid"
  stop_pid "$ppid"
  stop_pid "$rpid"
  cp "$dir/onsen.log" "$TMP/logs/server-s3hol-onsen-r$ROUND.log" 2>/dev/null || true
  rm -rf "$dir"
}

# s3_put_empty_blob BUCKET REPO DIGEST: the zero-length blob (the HEAD figure's) written straight
# into the bucket in Distribution's layout (blob data + the repository's layer link):
# docker-registry 2.8's s3 driver answers 500 to a zero-length upload.
s3_put_empty_blob() {
  local v2=$S3_ENDPOINT/$1/registry/docker/registry/v2 hex=${3#sha256:} a b
  a=$(s3curl -o /dev/null -w '%{http_code}' -X PUT --data-binary '' "$v2/blobs/sha256/${hex:0:2}/$hex/data")
  b=$(printf '%s' "$3" | s3curl -o /dev/null -w '%{http_code}' -X PUT --data-binary @- "$v2/repositories/$2/_layers/sha256/$hex/link")
  [ "$a" = 200 ] && [ "$b" = 200 ] || die "writing the empty blob into bucket $1: $a $b"
}

# s3_single_get SRV FIGURE PATH: one GET alone, timed (capped at XFER_TIMEOUT), and the gateway
# requests it cost: for a listing whose wrk run completes few or none (docker-registry walks the
# bucket for every _catalog).
s3_single_get() {
  local srv=$1 fig=$2 path=$3 a b res
  a=$(rgw_requests)
  res=$(curl -s -o /dev/null -m "$XFER_TIMEOUT" -w '%{http_code} %{time_total}' "${SURL[$srv]}$path") || true
  b=$(rgw_requests)
  if [ "${res%% *}" != 200 ]; then
    note "$CFG" "${fig}_single" "$srv" "$ROUND" "one GET $path alone: '$res'"
    return 0
  fi
  rec "$CFG" "${fig}_single" ms ms "$srv" "$ROUND" "$(awk -v t="${res#* }" 'BEGIN { printf "%.1f", t * 1000 }')"
  [ -n "$a" ] && [ -n "$b" ] && rec "$CFG" "${fig}_single_gwreq" requests "gw req" "$srv" "$ROUND" "$((b - a))"
  log "$CFG r$ROUND $fig $srv, one GET alone: ${res#* } s, $((b - a)) gateway requests"
}
