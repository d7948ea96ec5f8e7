// `sockshim stats NAME [--json | --format text|json|prometheus] [--remove]`: prints a stats segment, live or after the run.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "shim/cmd/commands.h"
#include "shim/stats/prometheus.h"
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
                        std::uint32_t owner_uid, const char* type) {
  std::string msg = "sockshim: " + segment_label(name) + ": " + stats::describe(e);
  if ((e == stats::SegmentError::kOpen || e == stats::SegmentError::kMap) && sys_errno != 0)
    msg += std::string(": ") + std::strerror(sys_errno);
  if (e == stats::SegmentError::kNotRegular && type && *type) msg += std::string(": a ") + type + " is at its path";
  if (e == stats::SegmentError::kNotOwner)
    msg += " (owner uid " + std::to_string(owner_uid) + ", you are uid " +
           std::to_string(geteuid()) + ")";
  std::fprintf(stderr, "%s\n", msg.c_str());
}

constexpr char kShmDir[] = "/dev/shm";
constexpr char kPrefix[] = "sockshim-";

// `stats --gc`: removes this user's segments that nobody uses any more and nobody kept on
// purpose: what a `sockshim run` killed with SIGKILL, or a program preloaded by hand, left behind.
int collect_garbage() {
  DIR* dir = opendir(kShmDir);
  if (!dir) {
    std::fprintf(stderr, "sockshim: stats --gc: cannot read %s: %s\n", kShmDir, std::strerror(errno));
    return 1;
  }
  std::vector<std::string> names;
  while (const dirent* d = readdir(dir))
    if (std::strncmp(d->d_name, kPrefix, sizeof kPrefix - 1) == 0) names.emplace_back(d->d_name + sizeof kPrefix - 1);
  closedir(dir);
  std::sort(names.begin(), names.end());
  int removed = 0, kept = 0, used = 0, failed = 0;
  for (const std::string& name : names) {
    stats::Mapping m;
    int sys = 0;
    const stats::SegmentError e = stats::attach_segment(name.c_str(), false, 0, m, &sys);
    // Only sockshim segments of ours: whole ones, ones of another layout version, and ones
    // whose creator died before finishing them.
    if (e != stats::SegmentError::kNone && e != stats::SegmentError::kBadVersion &&
        e != stats::SegmentError::kNotReady && e != stats::SegmentError::kTruncated)
      continue;
    const bool keep = m && m.seg->header.kept.load(std::memory_order_relaxed) != 0;
    stats::unmap_segment(m);
    int pid = 0;
    if (keep) {
      ++kept;
      std::printf("kept %s (sockshim run --keep; remove it with: sockshim stats %s --remove)\n", name.c_str(), name.c_str());
    } else if (stats::segment_in_use(name.c_str(), &pid)) {
      ++used;
      std::printf("in use %s (pid %d)\n", name.c_str(), pid);
    } else if (const int rc = stats::remove_segment(name.c_str()); rc == 0) {
      ++removed;
      std::printf("removed %s\n", name.c_str());
    } else {
      ++failed;
      std::fprintf(stderr, "sockshim: cannot remove %s: %s\n", segment_label(name).c_str(), std::strerror(-rc));
    }
  }
  std::printf("%d removed, %d kept, %d in use\n", removed, kept, used);
  return failed ? 1 : 0;
}

}  // namespace

int stats_command(const StatsOptions& o) {
  if (o.gc) {
    if (!o.name.empty()) {
      std::fprintf(stderr, "sockshim: stats --gc takes no NAME (it looks at all of yours)\n");
      return 2;
    }
    return collect_garbage();
  }
  if (o.json && !o.format.empty() && o.format != "json") {
    std::fprintf(stderr, "sockshim: stats: --json and --format %s contradict each other\n", o.format.c_str());
    return 2;
  }
  const std::string format = o.json ? "json" : o.format.empty() ? "text" : o.format;
  if (o.name.empty()) {
    std::fprintf(stderr, "sockshim: stats: which segment? (sockshim stats NAME, or --gc)\n");
    return 2;
  }
  stats::Mapping m;
  int sys_errno = 0;
  const stats::SegmentError e =
      stats::attach_segment(o.name.c_str(), /*writable=*/false, kWaitReadyMs, m, &sys_errno);
  if (e != stats::SegmentError::kNone) {
    print_attach_error(o.name, e, sys_errno, m.owner_uid, m.file_type);
    return 1;
  }

  // Format fully before printing, so a failure leaves no half document behind.
  std::string out;
  try {
    if (format == "json") out = stats::to_json(*m.seg, o.name).dump(2) + "\n";
    else if (format == "prometheus") out = stats::to_prometheus(stats::to_json(*m.seg, o.name));
    else out = stats::to_text(*m.seg, o.name, o.events);
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
