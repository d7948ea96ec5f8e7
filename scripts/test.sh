#!/usr/bin/env bash
# Builds and runs every test: all suites in build/ (-Werror: the project's own build stays
# warning-free; it is not a default, so other people's builds are not); meanwhile, at the lowest
# CPU priority, the Debian package (scripts/deb-check.sh: CI's one release build, with
# dpkg-buildflags, counted for warnings and linted), build-asan/ (AddressSanitizer +
# UndefinedBehaviorSanitizer) and build-fuzz/ (clang's libFuzzer). Then the package is installed
# and run, the unit suite runs again in build-asan/, and every libFuzzer target (suite 'fuzz') in
# build-fuzz/. Arguments go to the first `meson test`, e.g.
#   scripts/test.sh --suite unit
# The last line is always `N passed, N failed, N skipped`, summed over all runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

scripts/setup.sh

passed=0 failed=0 skipped=0
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_tests DIR ARGS...: `meson test -C DIR ARGS...`, adds its summary to the totals.
# Timeout and Unexpected Pass count as failed; Expected Fail counts as passed.
run_tests() {
  local dir=$1 out="$tmp/test-$1.log" rc=0
  shift
  log "meson test -C $dir $*"
  meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$out" || rc=$?
  local ok xfail fail xpass skip timeout
  read -r ok xfail fail xpass skip timeout < <(awk '
      /^Ok:/              { ok = $2 }
      /^Expected Fail:/   { xfail = $3 }
      /^Fail:/            { fail = $2 }
      /^Unexpected Pass:/ { xpass = $3 }
      /^Skipped:/         { skip = $2 }
      /^Timeout:/         { timeout = $2 }
      END { print ok+0, xfail+0, fail+0, xpass+0, skip+0, timeout+0 }' "$out")
  passed=$((passed + ok + xfail))
  failed=$((failed + fail + xpass + timeout))
  skipped=$((skipped + skip))
  if ((rc != 0)); then
    # meson also fails without a summary (bad arguments, a test that could not be built).
    if ((fail + xpass + timeout == 0)); then
      failed=$((failed + 1))
    fi
    status=1
  fi
}

# count_status RC: adds one check's exit status to the totals (77: skipped).
count_status() {
  case $1 in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); status=1 ;;
  esac
}

# suite_executables DIR SUITE: the executables DIR builds for its tests in SUITE and what they
# depend on (e.g. the bpfvm command its CLI test runs), relative to DIR, one a line.
suite_executables() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, os, subprocess, sys
build, suite = sys.argv[1], sys.argv[2]
def introspect(what):
    return json.loads(subprocess.check_output(["meson", "introspect", build, what]))
files = {t["id"]: t["filename"][0] for t in introspect("--targets")}
outputs = set(files.values())
wanted = set()
for t in introspect("--tests"):
    if any(s.endswith(":" + suite) for s in t["suite"]):
        if t["cmd"][0] in outputs:   # not an interpreter such as /usr/bin/python3
            wanted.add(t["cmd"][0])
        wanted.update(files[d] for d in t.get("depends", []) if d in files)
for f in sorted(wanted):
    print(os.path.relpath(f, build))
PY
}

# build_asan: the sanitizer build (-O0: quicker to compile; these tests are short) only needs what
# the unit suite runs: those executables alone (the preload object and the commands are exercised
# by the main run).
build_asan() {
  configure_only build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false || return 1
  local targets
  mapfile -t targets < <(suite_executables build-asan unit)
  log "building build-asan: ${targets[*]}"
  ninja -C build-asan "${targets[@]}"
}

# build_fuzz: clang's libFuzzer with ASan+UBSan, the executables of suite 'fuzz' (one test per
# libFuzzer target, whatever the module). Exit 77 without clang.
build_fuzz() {
  if ! command -v clang++ >/dev/null; then
    log "no clang++: the fuzz suite cannot run"
    return 77
  fi
  CXX=clang++ configure_only build-fuzz -Dwerror=true -Dfuzz=true -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false || return 1
  # Re-runs meson if a meson.build changed, so the introspection below sees tests added since
  # the directory was configured.
  ninja -C build-fuzz build.ninja || return 1
  local targets
  mapfile -t targets < <(suite_executables build-fuzz fuzz)
  if ((${#targets[@]} == 0)); then
    log "build-fuzz has no test in suite 'fuzz'"
    return 1
  fi
  log "building build-fuzz: ${targets[*]}"
  ninja -C build-fuzz "${targets[@]}"
}

# background_builds: the three other builds, one after the other, each with its log and exit
# status in $tmp (deb-build, asan, fuzz).
background_builds() {
  local step
  for step in deb-build asan fuzz; do
    local start=$SECONDS rc=0
    case $step in
      deb-build) scripts/deb-check.sh --build-only "$tmp/deb" ;;
      asan) build_asan ;;
      fuzz) build_fuzz ;;
    esac >"$tmp/$step.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - start))" >"$tmp/$step.rc"
  done
}

# finish_background STEP WHAT: reports a background step; prints its log when it failed (all of
# it for the package: lintian's warnings belong in the CI log). Returns the step's exit status.
finish_background() {
  local rc secs
  read -r rc secs <"$tmp/$1.rc"
  log "$2: exit $rc after $secs s (at low priority, during the main suites)"
  if [[ $1 == deb-build ]]; then
    cat "$tmp/$1.log" >&2
  elif ((rc != 0 && rc != 77)); then
    tail -n 80 "$tmp/$1.log" >&2
  fi
  return "$rc"
}

configure_and_build build -Dwerror=true

# build/ is what the main suites need; the package (CI's one release build, with dpkg-buildflags),
# build-asan and build-fuzz are built meanwhile at the lowest CPU priority: those suites mostly
# wait on sockets, timers and child programs, so the builds take idle time rather than theirs.
log "building the package, build-asan and build-fuzz in the background (nice 19)"
(renice -n 19 -p "$BASHPID" >/dev/null && background_builds) &
background=$!
run_tests build --num-processes 2 "$@"
log "waiting for the background builds"
wait "$background" || true

# The package: built and linted above; installed and run now that nothing else runs (an
# installed /usr/bin/sockshim must not be there while other tests run). 77: not root.
rc=0
finish_background deb-build "package build (deb-check.sh --build-only)" || rc=$?
if ((rc == 0)); then
  log "scripts/deb-check.sh --install-from $tmp/deb"
  scripts/deb-check.sh --install-from "$tmp/deb" || rc=$?
fi
count_status "$rc"

# The unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
if finish_background asan "build-asan"; then
  # Make UBSan findings fail the test instead of only printing; keep what the caller chose.
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  run_tests build-asan --no-rebuild --num-processes 2 --timeout-multiplier 3 --suite unit
else
  count_status 1
fi

# Every libFuzzer target, for the fuzz_seconds option (40 s by default), two at a time.
rc=0
finish_background fuzz "build-fuzz" || rc=$?
if ((rc == 0)); then
  run_tests build-fuzz --no-rebuild --num-processes 2 --suite fuzz
else
  count_status "$rc"
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
