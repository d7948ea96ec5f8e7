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
