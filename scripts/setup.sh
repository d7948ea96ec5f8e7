#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages sockshim builds and tests with — only those that are
# missing. Silent when everything is there; safe to run any number of times. As root it installs
# directly, otherwise through sudo when available; without either it lists what to install and fails.
set -euo pipefail

# The one list of packages. Keep it sorted by purpose; DESIGN.md explains each dependency.
PACKAGES=(
  # build
  meson ninja-build pkg-config g++ clang libclang-rt-14-dev
  # libraries (pkg-config)
  nlohmann-json3-dev catch2 libpcap-dev libcli11-dev libbpf-dev
  # integration tests: real programs under `sockshim run`
  curl socat python3 libpython3.11-testsuite redis-server redis-tools
  # diagnostics and test tooling (libseccomp-dev: the second oracle of bpfvm's seccomp builder)
  valgrind strace file procps iproute2 python3-jsonschema libseccomp-dev
  # seccomp mode (issue 16): Go programs built in the test (static and cgo), a static busybox
  golang-go busybox-static
  # reports: promtool checks `sockshim stats --format prometheus` (tests/integration/test_reports.py)
  prometheus
  # the Debian package (scripts/deb-check.sh): its build and its lint
  dpkg-dev debhelper lintian
  # netstack against the kernel over TUN: the kernel's tools, and tshark to judge captures
  iputils-ping netcat-openbsd tshark tcpdump
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != ii* ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup.sh: not root and no sudo; please install: ${missing[*]}" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
