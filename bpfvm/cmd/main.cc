// `bpfvm`: run, validate, assemble and disassemble classic BPF programs; `batch` answers JSON
// lines for scripted cross-checks. Exit status: 0 success, 1 a refused or unreadable program,
// 2 bad usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bpfvm_version.h"  // generated: BPFVM_GIT_COMMIT

#include "bpfvm/asm/text.h"
#include "bpfvm/compile.h"
#include "bpfvm/ebpf/test_run.h"
#include "bpfvm/interpreter.h"
#include "bpfvm/io.h"
#include "bpfvm/oracle/frame_gen.h"
#include "bpfvm/oracle/loopback.h"
#include "bpfvm/oracle/program_gen.h"
#include "bpfvm/oracle/seccomp_gen.h"
#include "bpfvm/oracle/seccomp_probe.h"
#include "bpfvm/seccomp/builder.h"
#include "bpfvm/seccomp/run.h"

namespace {

constexpr int kRefused = 1;

struct Options {
  std::string prog, packet, net, ll, ctx, format, linktype = "raw";
  bool socket = false, ebpf = false, seccomp = false;
  std::uint64_t count = 10000, seed = 1;
  // Seccomp mode: `--mode seccomp`, the seccomp_data fields, and seccomp-build's list and actions.
  std::string mode = "socket", arch = "x86_64", action = "notify", default_action = "allow",
              bad_arch = "kill_process", x32 = "kill_process";
  std::int64_t nr = 0;
  std::uint64_t ip = 0;
  std::vector<std::uint64_t> args;
  std::vector<std::uint32_t> numbers;
};

constexpr int kSkipped = 77;  // the automake/meson "skipped" status

// PROG is a file name or "-" for standard input, in any text form (auto-detected).
std::optional<std::string> slurp(const std::string& name) {
  if (name == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(name, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<bpfvm::Program> load(const std::string& name) {
  auto src = slurp(name);
  if (!src) { std::cerr << "bpfvm: cannot read " << name << "\n"; return std::nullopt; }
  const bpfvm::TextForm form = bpfvm::detect_form(*src);
  auto p = bpfvm::parse_any(*src);
  if (!p) {
    std::cerr << name << ":" << p.error().line << ": " << p.error().message << " (read as "
              << bpfvm::form_name(form) << ")\n";
    return std::nullopt;
  }
  return *p;
}

void print_refusal(const bpfvm::BpfError& e) {
  std::cerr << "invalid: instruction " << e.insn_index << ": " << bpfvm::reason(e.code) << "\n";
}

// run --mode seccomp: prints the return value in hex and what the kernel does with it.
int cmd_run_seccomp(const Options& o) {
  auto p = load(o.prog);
  if (!p) return kRefused;
  auto arch = bpfvm::seccomp::parse_arch(o.arch);
  if (!arch) { std::cerr << "bpfvm: --arch: expected x86_64, i386, aarch64 or a number\n"; return 2; }
  if (o.args.size() > 6) { std::cerr << "bpfvm: --args: at most 6 values\n"; return 2; }
  bpfvm::seccomp::Data d;
  d.nr = static_cast<std::int32_t>(o.nr);
  d.arch = *arch;
  d.instruction_pointer = o.ip;
  std::copy(o.args.begin(), o.args.end(), d.args.begin());
  auto v = bpfvm::seccomp::validate_seccomp(std::move(*p));
  if (!v) { print_refusal(v.error()); return kRefused; }
  const std::uint32_t ret = bpfvm::seccomp::run(*v, d);
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", ret);
  std::cout << hex << " " << bpfvm::seccomp::describe_action(ret) << "\n";
  return 0;
}

int cmd_run(const Options& o) {
  if (o.mode == "seccomp") return cmd_run_seccomp(o);
  if (o.packet.empty() && o.mode == "socket") { std::cerr << "bpfvm: run: --packet is required\n"; return 2; }
  auto p = load(o.prog);
  if (!p) return kRefused;
  auto packet = bpfvm::parse_hex(o.packet);
  if (!packet) { std::cerr << "bpfvm: --packet: " << packet.error() << "\n"; return 2; }
  std::optional<std::vector<std::uint8_t>> net, ll;
  for (auto [text, out, flag] : {std::tuple{&o.net, &net, "--net"}, std::tuple{&o.ll, &ll, "--ll"}}) {
    if (text->empty()) continue;
    auto bytes = bpfvm::parse_hex(*text);
    if (!bytes) { std::cerr << "bpfvm: " << flag << ": " << bytes.error() << "\n"; return 2; }
    *out = std::move(*bytes);
  }
  bpfvm::Context ctx;
  if (!o.ctx.empty()) {
    const auto j = nlohmann::json::parse(o.ctx, nullptr, false);
    if (j.is_discarded()) { std::cerr << "bpfvm: --ctx: not valid JSON\n"; return 2; }
    auto anc = bpfvm::ancillaries_from_json(j);
    if (!anc) { std::cerr << "bpfvm: --ctx: " << anc.error() << "\n"; return 2; }
    ctx.anc = *anc;
  }
  ctx.packet = *packet;
  if (net) ctx.net = std::span<const std::uint8_t>(*net);
  if (ll) ctx.ll = std::span<const std::uint8_t>(*ll);
  auto v = bpfvm::validate(std::move(*p));
  if (!v) { print_refusal(v.error()); return kRefused; }
  std::cout << bpfvm::run(*v, ctx) << "\n";
  return 0;
}

int print_as(const bpfvm::Program& p, const std::string& format);

int cmd_validate(const Options& o) {
  auto p = load(o.prog);
  if (!p) return kRefused;
  const std::size_t n = p->size();
  if (o.mode == "seccomp") {
    auto v = bpfvm::seccomp::validate_seccomp(std::move(*p));
    if (!v) { print_refusal(v.error()); return kRefused; }
  } else {
    auto v = bpfvm::validate(std::move(*p));
    if (!v) { print_refusal(v.error()); return kRefused; }
  }
  std::cout << "ok: " << n << " instructions\n";
  return 0;
}

// seccomp-build: the builder's allow-list filter for the numbers given, in any output form.
int cmd_seccomp_build(const Options& o) {
  namespace sc = bpfvm::seccomp;
  sc::SyscallFilterSpec spec;
  auto arch = sc::parse_arch(o.arch);
  if (!arch) { std::cerr << "bpfvm: --arch: expected x86_64, i386, aarch64 or a number\n"; return 2; }
  spec.arch = *arch;
  for (auto [text, out, flag] : {std::tuple{&o.default_action, &spec.default_action, "--default"},
                                 std::tuple{&o.bad_arch, &spec.bad_arch_action, "--bad-arch"},
                                 std::tuple{&o.x32, &spec.x32_action, "--x32"}}) {
    auto a = sc::parse_action(*text);
    if (!a) { std::cerr << "bpfvm: " << flag << ": not an action: " << *text << "\n"; return 2; }
    *out = *a;
  }
  auto action = sc::parse_action(o.action);
  if (!action) { std::cerr << "bpfvm: --action: not an action: " << o.action << "\n"; return 2; }
  for (std::uint32_t nr : o.numbers) spec.actions[nr] = *action;
  auto built = sc::build_syscall_filter(spec);
  if (!built) { std::cerr << "bpfvm: " << sc::reason(built.error()) << "\n"; return kRefused; }
  return print_as(built->program(), o.format);
}

int cmd_asm(const Options& o) {
  auto src = slurp(o.prog);
  if (!src) { std::cerr << "bpfvm: cannot read " << o.prog << "\n"; return kRefused; }
  auto p = bpfvm::parse_asm(*src);
  if (!p) { std::cerr << o.prog << ":" << p.error().line << ": " << p.error().message << "\n"; return kRefused; }
  if (o.format == "json") std::cout << bpfvm::format_json(*p) << "\n";
  else if (o.format == "numbers") std::cout << bpfvm::format_numbers(*p);
  else std::cout << bpfvm::format_dd(*p);
  return 0;
}

int cmd_disasm(const Options& o) {
  auto p = load(o.prog);
  if (!p) return kRefused;
  if (o.format == "asm") {
    auto text = bpfvm::format_asm(*p);
    if (!text) { std::cerr << "instruction " << text.error().line - 1 << ": " << text.error().message << "\n"; return kRefused; }
    std::cout << *text;
  } else {
    std::cout << bpfvm::format_listing(*p);
  }
  return 0;
}

int print_as(const bpfvm::Program& p, const std::string& format) {
  if (format == "json") std::cout << bpfvm::format_json(p) << "\n";
  else if (format == "listing") std::cout << bpfvm::format_listing(p);
  else if (format == "numbers") std::cout << bpfvm::format_numbers(p);
  else if (format == "asm") {
    auto text = bpfvm::format_asm(p);
    if (!text) { std::cerr << "instruction " << text.error().line - 1 << ": " << text.error().message << "\n"; return kRefused; }
    std::cout << *text;
  } else std::cout << bpfvm::format_dd(p);
  return 0;
}

int cmd_compile(const Options& o) {
  if (o.socket && o.linktype != "raw") { std::cerr << "bpfvm: --socket needs --linktype raw\n"; return 2; }
  auto p = bpfvm::compile(o.prog, o.linktype == "raw" ? bpfvm::Linktype::kRaw : bpfvm::Linktype::kEn10mb);
  if (!p) { std::cerr << "bpfvm: " << p.error().message << "\n"; return kRefused; }
  if (o.socket) {
    auto r = bpfvm::relocate_raw_to_socket(*p);
    if (!r) { std::cerr << "bpfvm: instruction " << r.error().insn_index << ": " << r.error().message << "\n"; return kRefused; }
    p = std::move(*r);
  }
  return print_as(*p, o.format);
}

std::string hex_of(const std::vector<std::uint8_t>& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t c : b) { out += kDigits[c >> 4]; out += kDigits[c & 0xf]; }
  return out;
}

// Random programs against the running kernel; each disagreement is printed as a JSON line that
// can become a golden regression case.
int cmd_crosscheck(const Options& o) {
  if (auto why = bpfvm::oracle::LoopbackOracle::unavailable()) {
    std::cerr << "bpfvm: crosscheck skipped: " << *why << "\n";
    return kSkipped;
  }
  auto opened = bpfvm::oracle::LoopbackOracle::open();
  if (!opened) { std::cerr << "bpfvm: " << opened.error() << "\n"; return kRefused; }
  bpfvm::oracle::LoopbackOracle& oracle = **opened;
  bpfvm::oracle::ProgramGen gen(o.seed);
  std::uint64_t refused = 0, disagreements = 0;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const auto payload = gen.payload();
    const bpfvm::Program p = gen.program(payload.size());
    auto kernel = oracle.kernel(p, payload);
    if (!kernel) { std::cerr << "bpfvm: " << kernel.error() << "\n"; return kRefused; }
    const auto vm = oracle.predict(p, payload);
    refused += kernel->refused;
    if (*kernel == vm && oracle.stray() == 0) continue;
    ++disagreements;
    std::cout << nlohmann::ordered_json{{"case", i}, {"prog", nlohmann::json::parse(bpfvm::format_json(p))},
                                        {"payload", hex_of(payload)}, {"kernel", to_string(*kernel)},
                                        {"bpfvm", to_string(vm)}, {"stray", oracle.stray()}}.dump()
              << "\n";
  }
  std::cerr << o.count << " programs (seed " << o.seed << "), " << refused << " refused by the kernel, "
            << disagreements << " disagreements\n";
  return disagreements == 0 ? 0 : kRefused;
}

// The same with the eBPF translation and BPF_PROG_TEST_RUN: valid programs only, each on three
// random Ethernet frames, comparing the full 32-bit return values.
int cmd_crosscheck_ebpf(const Options& o) {
  if (auto why = bpfvm::ebpf::TestRunOracle::unavailable()) {
    std::cerr << "bpfvm: crosscheck --ebpf skipped: " << *why << "\n";
    return kSkipped;
  }
  auto opened = bpfvm::ebpf::TestRunOracle::open();
  if (!opened) { std::cerr << "bpfvm: " << opened.error() << "\n"; return kRefused; }
  const bpfvm::ebpf::TestRunOracle& oracle = **opened;
  bpfvm::oracle::ProgramGen gen(o.seed, bpfvm::oracle::kTestRunAncillaries);
  bpfvm::oracle::FrameGen frames(o.seed);
  std::uint64_t runs = 0, disagreements = 0;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    std::vector<std::uint8_t> fs[3];
    std::uint32_t marks[3];
    for (int j = 0; j < 3; ++j) { fs[j] = frames.frame(); marks[j] = frames.mark(); }
    auto v = bpfvm::validate(gen.program(fs[0].size() - bpfvm::ebpf::kEthHeader));
    if (!v) continue;
    auto loaded = oracle.load(*v);
    if (!loaded) { std::cerr << "bpfvm: case " << i << ": " << loaded.error() << "\n"; return kRefused; }
    for (int j = 0; j < 3; ++j) {
      auto kernel = oracle.run(*loaded, fs[j], marks[j]);
      if (!kernel) { std::cerr << "bpfvm: case " << i << ": " << kernel.error() << "\n"; return kRefused; }
      const std::uint32_t vm = bpfvm::run(*v, oracle.context(fs[j], marks[j]));
      ++runs;
      if (*kernel == vm) continue;
      ++disagreements;
      std::cout << nlohmann::ordered_json{{"case", i}, {"prog", nlohmann::json::parse(bpfvm::format_json(v->program()))},
                                          {"frame", hex_of(fs[j])}, {"mark", marks[j]}, {"kernel", *kernel},
                                          {"bpfvm", vm}}.dump()
                << "\n";
    }
  }
  std::cerr << o.count << " programs (seed " << o.seed << "), " << runs << " valid-program runs through "
            << "BPF_PROG_TEST_RUN, " << disagreements << " disagreements\n";
  return disagreements == 0 ? 0 : kRefused;
}

// The seccomp oracle: random seccomp programs installed in child processes, their probe calls'
// verdicts (errno, SIGSYS trap, kill) against bpfvm's; disagreements as JSON lines.
int cmd_crosscheck_seccomp(const Options& o) {
  using bpfvm::oracle::SeccompOracle;
  if (auto why = SeccompOracle::unavailable()) {
    std::cerr << "bpfvm: crosscheck --seccomp skipped: " << *why << "\n";
    return kSkipped;
  }
  auto oracle = SeccompOracle::open();
  if (!oracle) { std::cerr << "bpfvm: " << oracle.error() << "\n"; return kRefused; }
  bpfvm::oracle::SeccompGen gen(o.seed, oracle->has_int80());
  std::uint64_t refused = 0, probes = 0, disagreements = 0;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const auto c = gen.next();
    auto kernel = oracle->kernel(c.program, c.probes);
    if (!kernel) { std::cerr << "bpfvm: case " << i << ": " << kernel.error() << "\n"; return kRefused; }
    auto v = bpfvm::seccomp::validate_seccomp(c.program);
    nlohmann::ordered_json diff = nlohmann::ordered_json::array();
    if (kernel->refused != !v.has_value()) {
      diff.push_back({{"kernel", kernel->refused ? "refused" : "accepted"}, {"bpfvm", v ? "accepted" : "refused"}});
    } else if (v) {
      for (std::size_t j = 0; j < c.probes.size(); ++j, ++probes) {
        const std::uint32_t ret = bpfvm::seccomp::run(*v, SeccompOracle::data(c.probes[j]));
        const auto want = SeccompOracle::predict(ret);
        if (want == kernel->verdicts[j]) continue;
        diff.push_back({{"probe", j}, {"nr", static_cast<std::int64_t>(c.probes[j].nr)}, {"int80", c.probes[j].int80},
                        {"args", c.probes[j].args}, {"bpfvm", ret}, {"expected", to_string(want)},
                        {"kernel", to_string(kernel->verdicts[j])}});
      }
    }
    refused += kernel->refused;
    if (diff.empty()) continue;
    ++disagreements;
    std::cout << nlohmann::ordered_json{{"case", i}, {"prog", nlohmann::json::parse(bpfvm::format_json(c.program))},
                                        {"disagreements", diff}}.dump()
              << "\n";
  }
  std::cerr << o.count << " seccomp programs (seed " << o.seed << "), " << refused << " refused by the kernel, "
            << probes << " probe calls, " << disagreements << " disagreements\n";
  return disagreements == 0 ? 0 : kRefused;
}

int cmd_batch() {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::cout << bpfvm::batch_line(line) << "\n" << std::flush;
  }
  return 0;
}

// "bpfvm 0.1.0 (git 0123456789ab)": meson.build's version, and the commit when built from git.
std::string version_text() {
  std::string v = "bpfvm " BPFVM_VERSION;
  if (const std::string commit = BPFVM_GIT_COMMIT; !commit.empty()) v += " (git " + commit + ")";
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bpfvm: a classic BPF machine with the Linux kernel's semantics", "bpfvm"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  Options o;
  const std::string prog_help = "Program file or - for stdin: tcpdump -d/-dd/-ddd, JSON, or bpf_asm (auto-detected)";

  auto* run = app.add_subcommand("run", "Validate and run a program on one packet; prints the return value");
  run->add_option("PROG", o.prog, prog_help)->required();
  run->add_option("--packet", o.packet, "Packet bytes from offset 0, in hex (required in socket mode)");
  run->add_option("--net", o.net, "Bytes from the network header to the end of the packet (SKF_NET_OFF), hex");
  run->add_option("--ll", o.ll, "Bytes from the link-layer header to the end of the packet (SKF_LL_OFF), hex");
  run->add_option("--ctx", o.ctx, "Ancillary values as JSON, e.g. {\"protocol\": 2048, \"ifindex\": 1}");
  const std::string mode_help = "socket (a socket filter, default) or seccomp (a seccomp filter: seccomp_check_filter's "
                                "rules, run over struct seccomp_data)";
  run->add_option("--mode", o.mode, mode_help)->check(CLI::IsMember({"socket", "seccomp"}));
  run->add_option("--nr", o.nr, "seccomp: the system call number (seccomp_data.nr)");
  run->add_option("--arch", o.arch, "seccomp: x86_64 (default), i386, aarch64 or an AUDIT_ARCH_* number");
  run->add_option("--ip", o.ip, "seccomp: the instruction pointer");
  run->add_option("--args", o.args, "seccomp: up to six arguments, comma-separated")->delimiter(',');

  auto* val = app.add_subcommand("validate", "Check a program against the kernel's acceptance rules");
  val->add_option("PROG", o.prog, prog_help)->required();
  val->add_option("--mode", o.mode, mode_help)->check(CLI::IsMember({"socket", "seccomp"}));

  auto* sbuild = app.add_subcommand("seccomp-build",
      "Build a seccomp filter that gives the listed system call numbers ACTION and every other number "
      "--default, after checking the arch field and (x86_64) the x32 bit; prints it like compile");
  sbuild->add_option("NR", o.numbers, "System call numbers, e.g. 41 42 43 (x86_64: socket connect accept)");
  const std::string action_help = "allow, log, notify, kill_process, kill_thread, trap[:N], errno:N, trace[:N] or a number";
  sbuild->add_option("--action", o.action, "For the listed numbers (default notify): " + action_help);
  sbuild->add_option("--default", o.default_action, "For every other number (default allow)");
  sbuild->add_option("--bad-arch", o.bad_arch, "When seccomp_data.arch is not --arch (default kill_process)");
  sbuild->add_option("--x32", o.x32, "x86_64: numbers with the x32 bit, except -1 (default kill_process)");
  sbuild->add_option("--arch", o.arch, "x86_64 (default), i386, aarch64 or an AUDIT_ARCH_* number");
  sbuild->add_option("--format", o.format, "dd (default), listing, json, numbers or asm")
      ->check(CLI::IsMember({"dd", "listing", "json", "numbers", "asm"}));

  auto* as = app.add_subcommand("asm", "Assemble bpf_asm source into the -dd array (or JSON, numbers)");
  as->add_option("FILE", o.prog, "bpf_asm source file or -")->required();
  as->add_option("--format", o.format, "dd (default), json or numbers")
      ->check(CLI::IsMember({"dd", "json", "numbers"}));

  auto* dis = app.add_subcommand("disasm", "Print a program as a tcpdump -d listing (or bpf_asm source)");
  dis->add_option("PROG", o.prog, prog_help)->required();
  dis->add_option("--format", o.format, "listing (default) or asm")->check(CLI::IsMember({"listing", "asm"}));

  auto* comp = app.add_subcommand("compile", "Compile a tcpdump expression with libpcap");
  comp->add_option("EXPR", o.prog, "tcpdump filter expression, e.g. 'udp dst port 53'")->required();
  comp->add_option("--linktype", o.linktype, "raw (IP packets, default) or en10mb (Ethernet)")
      ->check(CLI::IsMember({"raw", "en10mb"}));
  comp->add_flag("--socket", o.socket,
                 "Relocate packet loads to SKF_NET_OFF so the program runs as a TCP/UDP socket filter (raw only)");
  comp->add_option("--format", o.format, "dd (default), listing, json, numbers or asm")
      ->check(CLI::IsMember({"dd", "listing", "json", "numbers", "asm"}));

  auto* cross = app.add_subcommand("crosscheck",
      "Run seeded random programs through bpfvm and the kernel (SO_ATTACH_FILTER on loopback UDP); "
      "prints disagreements as JSON lines; exit 77 if SO_ATTACH_FILTER is unavailable");
  cross->add_option("--count", o.count, "Number of programs (default 10000)");
  cross->add_option("--seed", o.seed, "Generator seed (default 1)");
  cross->add_flag("--ebpf", o.ebpf,
                  "Use the second oracle instead: translate to eBPF, run with BPF_PROG_TEST_RUN on random "
                  "Ethernet frames and compare full 32-bit return values (valid programs only; needs libbpf, root)");
  cross->add_flag("--seccomp", o.seccomp,
                  "Seccomp filters instead: install random programs with seccomp(2) in child processes and compare "
                  "their probe calls' verdicts (errno, SIGSYS trap, kill) with bpfvm's (x86-64; no root needed)");

  auto* batch = app.add_subcommand("batch",
      "JSON lines in, JSON lines out: {\"prog\": [[c,jt,jf,k],...], \"packet\": \"hex\", \"net\", \"ll\", \"ctx\"}"
      " → {\"valid\": true, \"ret\": N} or {\"valid\": false, \"error\": R, \"index\": I}; bad lines get {\"error\": ...}");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (run->parsed()) return cmd_run(o);
  if (val->parsed()) return cmd_validate(o);
  if (as->parsed()) return cmd_asm(o);
  if (dis->parsed()) return cmd_disasm(o);
  if (comp->parsed()) return cmd_compile(o);
  if (sbuild->parsed()) return cmd_seccomp_build(o);
  if (cross->parsed()) {
    if (o.ebpf && o.seccomp) { std::cerr << "bpfvm: crosscheck: --ebpf or --seccomp, not both\n"; return 2; }
    return o.seccomp ? cmd_crosscheck_seccomp(o) : o.ebpf ? cmd_crosscheck_ebpf(o) : cmd_crosscheck(o);
  }
  if (batch->parsed()) return cmd_batch();
  return 2;
}
