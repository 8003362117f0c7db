# Shared helpers of the shell tests on the S3 gateway (sourced after tests/interop/lib.sh and
# interop_init): the gateway's variables, signed requests to it with curl, a bucket per test, and
# registry configurations on that bucket.

if [ -n "${ONSEN_TEST_S3_ENV:-}" ]; then
  # shellcheck disable=SC1090
  source "$ONSEN_TEST_S3_ENV" || abort "read $ONSEN_TEST_S3_ENV"
fi
[ -n "${S3_ENDPOINT:-}" ] || abort "no S3 gateway (S3_ENDPOINT unset)"

# s3curl CURL-ARGS...: curl signing with the gateway's credentials. curl 7.88's SigV4 needs the
# payload hash header given (see start-ceph-rgw.sh).
s3curl() {
  curl -s -m 30 --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# s3_make_bucket PREFIX: creates a fresh bucket and sets BUCKET to its name.
s3_make_bucket() {
  BUCKET=$1-$$-$RANDOM
  [ "$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$BUCKET")" = 200 ] ||
    abort "create bucket $BUCKET"
}

# s3_config ROLE PORT [REDIRECT_DISABLE [EXTRA_S3_LINES]]: the path of a registry configuration on
# $BUCKET listening on PORT. regionendpoint without forcepathstyle: path style, as docker-registry
# 2.8 does it. REDIRECT_DISABLE (storage.redirect.disable) is true unless given; EXTRA_S3_LINES are
# more storage.s3 parameters, one "key: value" a line.
s3_config() {
  local role=$1 port=$2 redirect_disable=${3:-true} extra=${4:-} cfg
  cfg=$(mktemp "$TMP_ROOT/$role-$port.XXXXXX.yml")
  cat >"$cfg" <<CFG
version: 0.1
log:
  level: info
storage:
  s3:
    accesskey: $AWS_ACCESS_KEY_ID
    secretkey: $AWS_SECRET_ACCESS_KEY
    region: ${S3_REGION:-us-east-1}
    regionendpoint: $S3_ENDPOINT
    bucket: $BUCKET
    rootdirectory: /registry
    secure: false
    v4auth: true
$(sed 's/^/    /' <<<"$extra")
  delete:
    enabled: true
  redirect:
    disable: $redirect_disable
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: s3-test-secret
CFG
  echo "$cfg"
}

# s3_start ROLE [REDIRECT_DISABLE [EXTRA_S3_LINES]]: onsen or distribution (docker-registry) on
# $BUCKET at a fresh port; sets CFG, REG (host:port) and PID.
s3_start() {
  local role=$1 port
  port=$(free_port)
  CFG=$(s3_config "$role" "$port" "${@:2}")
  if [ "$role" = onsen ]; then
    _launch onsen "${CFG%.yml}.log" "$ONSEN_BIN" serve "$CFG"
  else
    _launch distribution "${CFG%.yml}.log" docker-registry serve "$CFG"
  fi
  wait_ready "$LAST_PID" "$port" 30 || { tail -n 30 "$LAST_LOG" >&2; abort "start $role on s3"; }
  REG=127.0.0.1:$port
  PID=$LAST_PID
}
