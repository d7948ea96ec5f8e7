# shellcheck shell=bash
# What scripts/netns-tun.sh and scripts/netns-tcp.sh share: the checks before a run, and
# --check-pcap. Source it after defining check_pcap FILE; it only defines functions.

# netns_check_only SCRIPT FILE: runs check_pcap on FILE alone (no root needed) and exits with
# its status; 77 without tshark, 2 when FILE cannot be read.
netns_check_only() {
  local script=$1 file=$2
  command -v tshark >/dev/null || { echo "SKIP: tshark is not installed"; exit 77; }
  [[ -r $file ]] || { echo "$script: --check-pcap $file: cannot read" >&2; exit 2; }
  check_pcap "$file"
  exit $?
}

# netns_require SCRIPT PCAP TOOL...: exits 77 with a one-line reason unless this process can make
# a network namespace with a TUN device, has every TOOL, and has tshark when PCAP is not empty.
netns_require() {
  local script=$1 pcap=$2 tool
  shift 2
  if [[ $(id -u) -ne 0 ]]; then echo "SKIP: $script needs root (network namespace, TUN device)"; exit 77; fi
  if [[ ! -c /dev/net/tun ]]; then echo "SKIP: /dev/net/tun is missing"; exit 77; fi
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
  done
  if [[ -n $pcap ]] && ! command -v tshark >/dev/null; then echo "SKIP: tshark is not installed"; exit 77; fi
  return 0
}
