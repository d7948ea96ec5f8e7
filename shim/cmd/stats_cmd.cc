// `sockshim stats NAME [--json] [--remove]`: prints a stats segment, live or after the run.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "shim/cmd/commands.h"
#include "shim/stats/report.h"
#include "shim/stats/segment.h"

namespace shim::cmd {
namespace {

// A creator that is still filling the segment in gets this long before we call it broken.
constexpr int kWaitReadyMs = 1000;

// "stats segment ci (/dev/shm/sockshim-ci)"; an invalid name gets no path, it would name nothing.
std::string segment_label(const std::string& name) {
  char path[512];
  if (!stats::segment_path(name.c_str(), path, sizeof path)) return "stats segment " + name;
  return "stats segment " + name + " (" + path + ")";
}

void print_attach_error(const std::string& name, stats::SegmentError e, int sys_errno,
                        std::uint32_t owner_uid) {
  std::string msg = "sockshim: " + segment_label(name) + ": " + stats::describe(e);
  if ((e == stats::SegmentError::kOpen || e == stats::SegmentError::kMap) && sys_errno != 0)
    msg += std::string(": ") + std::strerror(sys_errno);
  if (e == stats::SegmentError::kNotOwner)
    msg += " (owner uid " + std::to_string(owner_uid) + ", you are uid " +
           std::to_string(geteuid()) + ")";
  std::fprintf(stderr, "%s\n", msg.c_str());
}

}  // namespace

int stats_command(const StatsOptions& o) {
  stats::Mapping m;
  int sys_errno = 0;
  const stats::SegmentError e =
      stats::attach_segment(o.name.c_str(), /*writable=*/false, kWaitReadyMs, m, &sys_errno);
  if (e != stats::SegmentError::kNone) {
    print_attach_error(o.name, e, sys_errno, m.owner_uid);
    return 1;
  }

  // Format fully before printing, so a failure leaves no half document behind.
  std::string out;
  try {
    out = o.json ? stats::to_json(*m.seg, o.name).dump(2) + "\n" : stats::to_text(*m.seg, o.name, o.events);
  } catch (...) {
    stats::unmap_segment(m);
    throw;
  }
  stats::unmap_segment(m);
  std::cout << out << std::flush;
  if (!std::cout) {
    std::fprintf(stderr, "sockshim: cannot write the stats: %s\n", std::strerror(errno));
    return 1;
  }

  if (o.remove) {
    if (const int rc = stats::remove_segment(o.name.c_str()); rc != 0) {
      std::fprintf(stderr, "sockshim: cannot remove %s: %s\n", segment_label(o.name).c_str(),
                   std::strerror(-rc));
      return 1;
    }
  }
  return 0;
}

}  // namespace shim::cmd
