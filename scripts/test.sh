#!/usr/bin/env bash
# Builds and runs every test: all suites in build/ (-Werror: the project's own build stays
# warning-free; it is not a default, so other people's builds are not), then the Debian package
# (scripts/deb-check.sh: CI's one release build, with dpkg-buildflags, counted for warnings,
# linted, installed and run), then the unit suite again in build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer), then every libFuzzer target (suite 'fuzz') in
# build-fuzz/ (clang). Arguments go to the first `meson test`, e.g.
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

configure_and_build build -Dwerror=true
run_tests build --num-processes 2 "$@"

# The package: one build with the distribution's flags serves the warning count, lintian and the
# installed-copy checks. Skipped (77) only for the part that needs root.
log "scripts/deb-check.sh"
deb_start=$SECONDS
deb_rc=0
scripts/deb-check.sh || deb_rc=$?
log "scripts/deb-check.sh: exit $deb_rc after $((SECONDS - deb_start)) s"
case $deb_rc in
  0) passed=$((passed + 1)) ;;
  77) skipped=$((skipped + 1)) ;;
  *) failed=$((failed + 1)); status=1 ;;
esac

# The sanitizer build (-O0: quicker to compile; these tests are short) only needs what the unit
# suite runs: build those executables alone (the preload object and the commands are exercised
# by the first run) to keep CI within its time.
configure_only build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
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
mapfile -t unit_targets < <(suite_executables build-asan unit)
log "building build-asan: ${unit_targets[*]}"
if ! ninja -C build-asan "${unit_targets[@]}" >&2; then
  failed=$((failed + 1))
  status=1
fi
# Make UBSan findings fail the test instead of only printing; keep what the caller chose.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
run_tests build-asan --no-rebuild --num-processes 2 --timeout-multiplier 3 --suite unit


# The fuzz build: clang's libFuzzer with ASan+UBSan. Every test of suite 'fuzz' (one per
# libFuzzer target, whatever the module) runs for the fuzz_seconds option (40 s by default), two
# at a time, so the stage takes about targets/2 × 40 s plus the build of those executables.
if command -v clang++ >/dev/null; then
  if CXX=clang++ configure_only build-fuzz -Dwerror=true -Dfuzz=true -Dbuildtype=debugoptimized \
      -Db_sanitize=address,undefined -Db_lundef=false &&
      ninja -C build-fuzz build.ninja >&2; then  # re-runs meson if a meson.build changed, so the
    # introspection below sees tests added since the directory was configured.
    mapfile -t fuzz_targets < <(suite_executables build-fuzz fuzz)
    log "building build-fuzz: ${fuzz_targets[*]}"
    if ((${#fuzz_targets[@]} == 0)); then
      log "build-fuzz has no test in suite 'fuzz'"
      failed=$((failed + 1))
      status=1
    elif ! ninja -C build-fuzz "${fuzz_targets[@]}" >&2; then
      failed=$((failed + 1))
      status=1
    else
      run_tests build-fuzz --no-rebuild --num-processes 2 --suite fuzz
    fi
  else
    failed=$((failed + 1))
    status=1
  fi
else
  log "no clang++: the fuzz suite did not run"
  skipped=$((skipped + 1))
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
