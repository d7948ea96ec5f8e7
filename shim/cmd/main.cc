// `sockshim`: parses the command line into the option structs of commands.h and runs one
// subcommand. Exit status 2 for bad usage and for anything unexpected; otherwise the subcommand's.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "bpfvm/compile.h"
#include "filters/table.h"
#include "shim/cmd/commands.h"
#include "shim/env_values.h"

#include "sockshim_version.h"  // generated: SOCKSHIM_GIT_COMMIT

namespace shim::cmd {
namespace {

constexpr int kUsageError = 2;

// CLI11 converts with strtoull(…, 0): "-1" would wrap, "010" be octal and overflow saturate.
// SOCKSHIM_SEED is read by the same parser (shim/env_values.h).
std::uint64_t parse_seed(const std::string& text) {
  std::uint64_t value = 0;
  if (!shim::parse_seed(text, value))
    throw CLI::ValidationError("--seed", std::string("expected ") + shim::kSeedSyntax + ", got \"" + text + "\"");
  return value;
}

void add_run(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Run a command with the shim preloaded and count its sockets");
  run->add_option("-c,--rules", o.rules_file, "Filter table (JSON) of faults to inject")
      ->type_name("FILE");
  run->add_option("--name", o.name,
                  "Stats segment name (/dev/shm/sockshim-NAME); default: $SOCKSHIM_STATS or generated")
      ->type_name("NAME");
  run->add_option_function<std::string>(
         "--seed", [&o](const std::string& text) { o.seed = parse_seed(text); },
         "Seed for probabilistic rules (decimal or 0x hex); overrides the file's seed")
      ->type_name("N");
  run->add_flag("--summary", o.summary, "Print the stats to stderr when the command ends");
  run->add_option("--json-out", o.json_out, "Write the stats as JSON to FILE when the command ends")
      ->type_name("FILE");
  run->add_flag("--keep", o.keep, "Keep the stats segment for `sockshim stats NAME`");
  run->add_flag("--allow-unattached", o.allow_unattached,
                "Do not fail (exit 3) when the command never loaded the shim (e.g. static binaries)");
  run->add_option("--preload", o.preload,
                  "The preload object to use (default: $SOCKSHIM_LIB, else the one installed with "
                  "this command)")
      ->type_name("PATH");
  run->add_option("--expect-fired", o.expect_fired,
                  "Fail the run (exit 4) when rule RULE never fired; may be repeated")
      ->type_name("RULE")
      ->take_first();
  run->add_option("--junit", o.junit,
                  "Write the verdicts as JUnit XML to FILE: one test case per --expect-fired rule "
                  "and one for the command's exit status")
      ->type_name("FILE");
  run->add_option("--intercept", o.intercept,
                  "How to reach the program: preload (LD_PRELOAD), seccomp (a seccomp filter and a "
                  "supervisor: static and Go binaries), or auto (default: seccomp for static ELF "
                  "and Go binaries, preload otherwise)")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "preload", "seccomp"}));
  run->add_option("--pcap", o.pcap,
                  "Write what every TCP and UDP socket of the run sent and received to FILE as "
                  "packets (pcap, raw IPv4/IPv6; readable while the run is live; preload mode only; "
                  "docs/capture.md)")
      ->type_name("FILE");
  run->add_option("--pcap-slots", o.pcap_slots,
                  "Records the capture ring holds (4 KiB each; a power of two, default 4096): a "
                  "full ring loses records, counted, and never blocks the program")
      ->type_name("N")
      ->check(CLI::Range(16, 1 << 20));
  run->add_flag("--seccomp-rw", o.seccomp_rw,
                "Seccomp mode: hand read, write, readv and writev to the supervisor too, so bytes a "
                "program moves on sockets with them (Go, busybox) are counted; on by itself when a "
                "rule is on send or recv. Every read and write of any fd then costs a round trip");
  // Everything from the first positional (or after `--`) is the command's, unparsed: with
  // positionals_at_end, `sockshim run python3 -c x --foo` hands -c and --foo to python3.
  run->add_option("CMD", o.command, "The command and its arguments")->required();
  run->positionals_at_end();
  run->footer(
      "Exit status: the command's own (128+signal when killed), 2 for bad usage or rules,\n"
      "3 when the command never loaded the shim or seccomp mode cannot start, 4 when an --expect-fired rule never fired,\n"
      "127 when it cannot be executed.\n\n"
      "Example:\n"
      "  sockshim run -c docs/examples/refuse-connect.json --summary -- curl -sS http://127.0.0.1:8000/\n"
      "  sockshim run --pcap out.pcap -- curl -sS http://127.0.0.1:8000/ && tshark -r out.pcap");
}

void add_stats(CLI::App& app, StatsOptions& o) {
  CLI::App* stats = app.add_subcommand("stats", "Print a stats segment, live or after the run ended");
  stats->add_option("NAME", o.name, "Segment name (/dev/shm/sockshim-NAME)");
  stats->add_flag("--json", o.json, "Print the JSON document (docs/stats.md): --format json");
  stats->add_option("--format", o.format,
                    "text (default), json, or prometheus (text exposition format, for "
                    "node_exporter's textfile collector)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json", "prometheus"}));
  stats->add_flag("--remove", o.remove, "Remove the segment after printing it");
  stats->add_flag("--events", o.events,
                  "Also list the decision log: every fault fired (the JSON always has it)");
  stats->add_flag("--gc", o.gc,
                  "Remove your segments that no live process uses and no `run --keep` kept "
                  "(e.g. left by a run killed with SIGKILL); takes no NAME");
  stats->footer(
      "Examples:\n"
      "  sockshim run --name ci --keep -- ./client && sockshim stats ci --json --remove\n"
      "  sockshim stats ci --format prometheus > /var/lib/node_exporter/sockshim-ci.prom");
}

void add_check(CLI::App& app, CheckOptions& o) {
  CLI::App* check = app.add_subcommand("check", "Validate a filter table and list its rules");
  check->add_option("RULES", o.rules_file, "Filter table (JSON)")->required()->type_name("FILE");
  check->add_option("--intercept", o.intercept,
                    "seccomp: also refuse, by name, the rules seccomp mode cannot carry out yet; "
                    "auto or preload: the rule file alone")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "preload", "seccomp"}));
  check->footer(
      "Exit status 0 when the table is valid; 2 with FILE:LINE:COL: KEY: message otherwise.\n\n"
      "Example:\n"
      "  sockshim check docs/examples/refuse-connect.json");
}

void add_ctl(CLI::App& app, CtlOptions& o) {
  CLI::App* ctl = app.add_subcommand("ctl", "Switch rules of a running program on and off");
  ctl->add_option("NAME", o.name, "Segment name of the run (sockshim run --name NAME)")->required();
  ctl->add_option("ACTION", o.action, "list, enable or disable")
      ->required()
      ->check(CLI::IsMember({"list", "enable", "disable"}));
  ctl->add_option("RULE", o.rule, "The rule to enable or disable (its \"name\")");
  ctl->footer(
      "The change takes effect at the program's next matching call.\n\n"
      "Example (partition the database for 5 s):\n"
      "  sockshim ctl ci enable partition-db; sleep 5; sockshim ctl ci disable partition-db");
}

// "sockshim 0.1.0 (git 0123456789ab)": meson.build's version, and the commit when built from git.
std::string version_text() {
  std::string v = "sockshim " SOCKSHIM_VERSION;
  if (const std::string commit = SOCKSHIM_GIT_COMMIT; !commit.empty()) v += " (git " + commit + ")";
  return v;
}

int run_main(int argc, char** argv) {
  CLI::App app{"sockshim: count and fault-inject the socket calls of unmodified programs", "sockshim"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  app.footer(
      "Run `sockshim SUBCOMMAND --help` for its options.\n\n"
      "Example:\n"
      "  sockshim run --summary -- python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:8000/\")'");

  RunOptions run;
  StatsOptions stats;
  CheckOptions check;
  CtlOptions ctl;
  add_run(app, run);
  add_stats(app, stats);
  add_check(app, check);
  add_ctl(app, ctl);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here as "errors" with exit code 0.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageError;
  }

  if (app.got_subcommand("run")) return run_command(run);
  if (app.got_subcommand("stats")) return stats_command(stats);
  if (app.got_subcommand("check")) return check_command(check);
  if (app.got_subcommand("ctl")) return ctl_command(ctl);
  return kUsageError;   // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace shim::cmd

int main(int argc, char** argv) {
  // Rules' tcpdump expressions ("filter") are compiled here, in the command, never in the
  // program's process: the preload object does not link libpcap, so a program that links its
  // own cannot clash with ours. The instructions reach it inside the rule table in the segment.
  filters::set_expression_compiler(&bpfvm::compile_socket_match_to);
  try {
    return shim::cmd::run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sockshim: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "sockshim: unknown exception\n");
  }
  return 2;
}
