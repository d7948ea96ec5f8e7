// The `sockshim` command's subcommands. main.cc parses the command line (CLI11) into these
// option structs; each subcommand returns the process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shim::cmd {

struct RunOptions {
  std::string rules_file;              // -c; empty: no rules
  std::string name;                    // --name; empty: SOCKSHIM_STATS or a generated name
  std::optional<std::uint64_t> seed;   // --seed overrides the file's seed
  bool summary = false;                // --summary: print the stats table to stderr at the end
  std::string json_out;                // --json-out FILE
  bool keep = false;                   // --keep: leave the segment for `sockshim stats NAME`
  bool allow_unattached = false;       // --allow-unattached
  std::string preload;                 // --preload PATH: this libsockshim.so, not the installed one
  std::vector<std::string> expect_fired;  // --expect-fired RULE: fail the run if RULE never fired
  std::string junit;                   // --junit FILE: the verdicts as JUnit XML
  std::string intercept = "auto";      // --intercept auto|preload|seccomp (docs/shim.md)
  std::string pcap;                    // --pcap FILE: capture (docs/capture.md)
  std::uint64_t pcap_slots = 4096;     // --pcap-slots N: the capture ring's records
  bool seccomp_rw = false;             // --seccomp-rw: read/write/readv/writev to the supervisor too
  std::vector<std::string> command;    // CMD ARGS...
};
// Exit status: CMD's own, 128+signal when CMD was killed, 2 for a bad rule file or bad usage,
// 3 when CMD never attached the shim (unless allowed) or seccomp mode cannot start, 4 when an --expect-fired rule never
// fired (and CMD itself succeeded), 127 when CMD cannot be executed.
int run_command(const RunOptions& o);

struct StatsOptions {
  std::string name;
  bool json = false;
  std::string format;    // --format text|json|prometheus; empty: text (json with --json)
  bool remove = false;   // --remove: delete the segment after printing
  bool events = false;   // --events: add the decision log to the text
  bool gc = false;       // --gc: remove this user's segments that nobody uses or kept
};
int stats_command(const StatsOptions& o);

struct CheckOptions {
  std::string rules_file;
  std::string intercept = "auto";   // seccomp: also refuse rules seccomp mode cannot carry out
};
int check_command(const CheckOptions& o);

struct CtlOptions {
  std::string name;     // the stats segment of the run
  std::string action;   // list, enable, disable
  std::string rule;     // enable/disable: the rule's name
};
// 0 done, 1 no such segment or rule, 2 bad usage.
int ctl_command(const CtlOptions& o);

}  // namespace shim::cmd
