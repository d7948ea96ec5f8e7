# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it only defines functions.

# log MSG...: a progress line on stderr, so stdout stays parseable.
log() {
  printf '==> %s\n' "$*" >&2
}

# configure_only DIR [MESON SETUP ARGS...]: `meson setup` DIR unless it is already configured.
configure_only() {
  local dir=$1
  shift
  if [[ -f "$dir/build.ninja" ]]; then
    return 0
  fi
  if [[ -d "$dir/meson-private" ]]; then
    log "meson setup --wipe $dir${*:+ $*}"
    meson setup --wipe "$dir" "$@" >&2
  else
    log "meson setup $dir${*:+ $*}"
    meson setup "$dir" "$@" >&2
  fi
}

# configure_and_build DIR [MESON SETUP ARGS...]: configures DIR once (`meson setup` when there is
# no DIR/build.ninja), then builds it. Ninja re-runs meson by itself when a meson.build changes, so
# an existing directory is reconfigured only when meson asks for it (e.g. made by another meson).
configure_and_build() {
  local dir=$1
  shift
  configure_only "$dir" "$@"
  log "building $dir"
  local out rc=0
  out=$(mktemp)
  meson compile -C "$dir" 2>&1 | tee "$out" >&2 || rc=$?
  if ((rc != 0)) && grep -q -e '--reconfigure' -e 'incompatible with the current version' "$out"; then
    log "meson setup --reconfigure $dir${*:+ $*}"
    meson setup --reconfigure "$dir" "$@" >&2
    rc=0
    meson compile -C "$dir" >&2 || rc=$?
  fi
  rm -f "$out"
  return "$rc"
}

# For the benchmarks (scripts/bench-*.sh): bench_workspace [FILE...] makes a temp dir ($tmp), the
# lists `segments` (names of /dev/shm/sockshim-* segments) and `pids` (processes still running)
# that bench_cleanup removes and stops on exit, and one snapshot of the build's shim in $tmp/bin
# ($lib, $sockshim; FILE... copied too): others may rebuild build/ while a benchmark runs, and a
# library replaced between two runs would make their difference meaningless.
bench_workspace() {
  tmp=$(mktemp -d)
  segments=()
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir "$tmp/bin"
  # The rule loader next to the preload object: it opens it from there for SOCKSHIM_RULES.
  cp "${BENCH_BUILD:-build}"/shim/libsockshim.so "${BENCH_BUILD:-build}"/shim/libsockshim-rules.so \
    "${BENCH_BUILD:-build}"/shim/sockshim "$@" "$tmp/bin/"
  lib=$tmp/bin/libsockshim.so
  sockshim=$tmp/bin/sockshim
}

# bench_stop_pids: stops what `pids` lists (TERM, then KILL after 10 s) and empties it.
bench_stop_pids() {
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  pids=()
}

bench_cleanup() {
  bench_stop_pids
  local s
  for s in "${segments[@]}"; do rm -f "/dev/shm/sockshim-$s"; done
  rm -rf "$tmp"
}

# write_doc_section NAME REPORT [DOC]: replaces what DOC (docs/performance.md) holds between its
# `<!-- NAME:begin` and `<!-- NAME:end` marker lines with the file REPORT; the markers stay. Fails
# with a message naming the markers when DOC lacks them. The benchmarks' --write-doc.
write_doc_section() {
  local name=$1 report=$2 doc=${3:-docs/performance.md}
  if ! grep -q "^<!-- $name:begin" "$doc" 2>/dev/null || ! grep -q "^<!-- $name:end" "$doc"; then
    echo "$doc has no $name:begin/end markers; not written" >&2
    return 1
  fi
  local out
  out=$(mktemp) || return 1
  awk -v report="$report" -v begin="^<!-- $name:begin" -v end="^<!-- $name:end" '
    $0 ~ begin { print; while ((getline line < report) > 0) print line; skip = 1; next }
    $0 ~ end   { skip = 0 }
    !skip' "$doc" >"$out" && cat "$out" >"$doc"
  local rc=$?
  rm -f "$out"
  return $rc
}
