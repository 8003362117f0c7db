# The `gc` group of bench/run.sh (sourced by it; uses its helpers), in configuration plain:
#   gc_offline: one store of GC_REPOS repositories written in Distribution's layout
#     (tests/gc/make_store.py: shared layers, moved tags, unreferenced blobs), copied twice each
#     round; docker-registry's `garbage-collect` on one copy and Onsen's on the other, same flags
#     (GC_FLAGS), back to back (the order alternates by round), their output to a file; the time
#     of each, and the blobs left on both copies compared with what the store was made to keep.
#   gc_offline_dry: the same with --dry-run, on the template (the mark and listings alone).
#   gc_offline_mix: gc_offline on a second store of GC_REPOS repositories where only GC_MIX of
#     the tags were moved and of the repositories hold an orphan upload (a store mostly kept, as
#     a registry collected regularly is); empty GC_MIX: no such row.
#   gc_online: Onsen serving a third copy; manifest GETs every 5 ms, idle, then while collections
#     started by POST /admin/gc run back to back (bench/gc_probe.py): p99 of each and their ratio.

GC_REPOS=${BENCH_GC_REPOS:-$(q 100 1000)}
GC_FLAGS=${BENCH_GC_FLAGS:---delete-untagged}
GC_PROBE_SECONDS=${BENCH_GC_PROBE_SECONDS:-$(q 3 10)}   # each phase of the online probe
GC_MIX=${BENCH_GC_MIX-0.03}
GC_DIR=""
GC_DONE=""   # the servers whose collection of this round succeeded: only their copies are compared

# gc_config ROOT FILE: a config.yml with filesystem storage at ROOT (deletes enabled: both
# collectors delete through the storage driver).
gc_config() {
  cat >"$2" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$(free_port)
EOF
}

# gc_store [SUFFIX MAKE_STORE_FLAGS...]: the template store (template$SUFFIX, made$SUFFIX.json,
# counts$SUFFIX.json), made once per run.
gc_store() {
  local sfx=${1:-}
  [ $# -gt 0 ] && shift
  GC_DIR=$TMP/gc
  [ -d "$GC_DIR/template$sfx" ] && return 0
  mkdir -p "$GC_DIR"
  log "gc: writing a store$sfx of $GC_REPOS repositories"
  python3 "$REPO_ROOT/tests/gc/make_store.py" "$GC_DIR/template$sfx" --repos "$GC_REPOS" "$@" \
    --json "$GC_DIR/made$sfx.json" >"$GC_DIR/counts$sfx.json" || die "make_store.py failed"
  log "gc: store$sfx $(cat "$GC_DIR/counts$sfx.json")"
}

# gc_copy NAME [SUFFIX]: a fresh copy of template$SUFFIX at $GC_DIR/NAME/data with its
# config.yml, written back.
gc_copy() {
  rm -rf "${GC_DIR:?}/$1"
  mkdir -p "$GC_DIR/$1"
  cp -a "$GC_DIR/template${2:-}" "$GC_DIR/$1/data"
  gc_config "$GC_DIR/$1/data" "$GC_DIR/$1/config.yml"
  sync
}

# gc_run SRV FIGURE CONFIG FLAGS...: one timed `garbage-collect FLAGS CONFIG`; true when it exited 0.
gc_run() {
  local srv=$1 fig=$2 cfg=$3 t0 t1 rc=0 out=$TMP/logs/$2-$1-r$ROUND.txt
  shift 3
  t0=$(now_ns)
  env -i "PATH=$CLEAN_PATH" HOME=/root LANG=C timeout 1800 "$(server_bin "$srv")" garbage-collect "$@" "$cfg" \
    >"$out" 2>&1 || rc=$?
  t1=$(now_ns)
  if [ "$rc" != 0 ]; then
    note "$CFG" "$fig" "$srv" "$ROUND" "garbage-collect exited $rc: $(tail -n 2 "$out" | tr '\n' ' ')"
    return 1
  fi
  rec "$CFG" "$fig" seconds s "$srv" "$ROUND" "$(secs $((t1 - t0)))"
  log "$CFG r$ROUND $fig $srv: $(secs $((t1 - t0))) s ($(wc -l <"$out") output lines)"
}

# gc_offline_one SRV FIGURE [SUFFIX]
gc_offline_one() {
  gc_copy "$1" "${3:-}"
  # shellcheck disable=SC2086  # GC_FLAGS: the flags, word-split on purpose
  gc_run "$1" "$2" "$GC_DIR/$1/config.yml" $GC_FLAGS && GC_DONE="$GC_DONE $1"
}

# gc_compare FIGURE [SUFFIX]: notes what the collectors of GC_DONE left that differs from what
# store$SUFFIX was made to keep; then removes their copies.
gc_compare() {
  local res
  res=$(cd "$REPO_ROOT/tests/gc" && python3 -c '
import json, sys, make_store
d, flags, done, sfx = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
made = json.load(open(d + "/made" + sfx + ".json"))
want = set(made["kept"] if ("-m" in flags.split() or "--delete-untagged" in flags.split()) else made["kept_untagged"])
out = []
for srv in done:
    left = make_store.blobs_in(d + "/" + srv + "/data")
    if left != want:
        out.append("%s left %d blobs, expected %d (%d unexpected, %d missing)" % (srv, len(left), len(want), len(left - want), len(want - left)))
print("; ".join(out))' "$GC_DIR" "$GC_FLAGS" "$GC_DONE" "${2:-}" 2>&1) || res="comparison failed: $res"
  [ -z "$res" ] || note "$CFG" "$1" all "$ROUND" "$res"
  rm -rf "${GC_DIR:?}/onsen" "${GC_DIR:?}/registry"
}

# gc_offline: both collectors on copies of the same store; then what each left is compared.
gc_offline() {
  local srv order=("${SERVERS[@]}")
  gc_store
  [ $((ROUND % 2)) = 0 ] && order=(registry onsen)
  GC_DONE=""
  for srv in "${order[@]}"; do gc_offline_one "$srv" gc_offline; done
  gc_compare gc_offline
  # The same flags with --dry-run, on the template itself (nothing is written): the mark and the
  # listings alone, without the deletions both collectors pay the filesystem alike for.
  [ -f "$GC_DIR/template.yml" ] || gc_config "$GC_DIR/template" "$GC_DIR/template.yml"
  # shellcheck disable=SC2086
  for srv in "${order[@]}"; do gc_run "$srv" gc_offline_dry "$GC_DIR/template.yml" --dry-run $GC_FLAGS || true; done
  [ -z "$GC_MIX" ] || gc_offline_mix "${order[@]}"
}

# gc_offline_mix SERVERS...: gc_offline on the store of few moved tags and orphans, in that order.
gc_offline_mix() {
  local srv
  gc_store -mix --moved "$GC_MIX" --orphans "$GC_MIX"
  GC_DONE=""
  for srv in "$@"; do gc_offline_one "$srv" gc_offline_mix -mix; done
  gc_compare gc_offline_mix -mix
}

# gc_online: Onsen alone (registry:2 cannot collect while serving).
gc_online() {
  local out pid port
  gc_store
  gc_copy online
  port=$(free_port)
  start_bg "$TMP/logs/gc-online-server.log" env -i "PATH=$CLEAN_PATH" HOME=/root LANG=C \
    "REGISTRY_HTTP_ADDR=127.0.0.1:$port" "$ONSEN_BIN" serve "$GC_DIR/online/config.yml"
  pid=$LAST_PID
  if ! wait_port "$port" "$pid" 30; then
    note "$CFG" gc_online onsen "$ROUND" "onsen did not start: $(tail -n 3 "$TMP/logs/gc-online-server.log" | tr '\n' ' ')"
    stop_pid "$pid"; return 0
  fi
  if ! out=$(timeout $((GC_PROBE_SECONDS * 2 + 600)) python3 "$BENCH_DIR/gc_probe.py" "http://127.0.0.1:$port" \
      --made "$GC_DIR/made.json" --seconds "$GC_PROBE_SECONDS" 2>"$TMP/logs/gc-probe.err"); then
    note "$CFG" gc_online onsen "$ROUND" "gc_probe.py failed: $(tail -n 2 "$TMP/logs/gc-probe.err" | tr '\n' ' ')"
    stop_pid "$pid"; rm -rf "${GC_DIR:?}/online"; return 0
  fi
  stop_pid "$pid"
  rm -rf "${GC_DIR:?}/online"
  local ip99 gp99 ratio runs errs n
  read -r ip99 gp99 ratio runs errs n <<<"$(jq -r '[.idle.p99_ms, .gc.p99_ms, .p99_ratio, .runs,
      (.idle.errors + .gc.errors), .gc.n] | @tsv' <<<"$out")"
  rec "$CFG" gc_idle p99 ms onsen "$ROUND" "$ip99"
  rec "$CFG" gc_online p99 ms onsen "$ROUND" "$gp99"
  rec "$CFG" gc_online_vs_idle ratio x onsen "$ROUND" "$ratio"
  [ "$errs" = 0 ] || note "$CFG" gc_online onsen "$ROUND" "$errs manifest GETs failed (not 200 or connection error)"
  log "$CFG r$ROUND gc_online: manifest GET p99 idle $ip99 ms, during $runs collections $gp99 ms ($n samples): ${ratio}x"
}
