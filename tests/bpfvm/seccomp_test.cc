// The seccomp mode without a kernel: seccomp_check_filter's rules on top of the classic ones,
// the interpreter over struct seccomp_data, and the allow-list builder held to its spec.
#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <type_traits>

#include "bpfvm/seccomp/builder.h"
#include "bpfvm/seccomp/run.h"

using bpfvm::Errc;
using bpfvm::Instruction;
using bpfvm::Program;
namespace sc = bpfvm::seccomp;

static_assert(!std::is_constructible_v<sc::ValidatedProgram, Program>,
              "only validate_seccomp() may create a seccomp ValidatedProgram");
static_assert(!std::is_constructible_v<sc::ValidatedProgram, bpfvm::ValidatedProgram>);

namespace {

constexpr std::uint16_t kLdW = bpfvm::kLd | bpfvm::kW | bpfvm::kAbs;
constexpr std::uint16_t kRetK = bpfvm::kRet | bpfvm::kK;
constexpr std::uint16_t kRetA = bpfvm::kRet | bpfvm::kA;

std::optional<bpfvm::BpfError> refusal(Program p) {
  auto v = sc::validate_seccomp(std::move(p));
  if (v) return std::nullopt;
  return v.error();
}

std::uint32_t run(Program p, const sc::Data& d) {
  auto v = sc::validate_seccomp(std::move(p));
  REQUIRE(v.has_value());
  return sc::run(*v, d);
}

sc::Data sample() {
  sc::Data d;
  d.nr = 41;
  d.arch = sc::kAuditArchX86_64;
  d.instruction_pointer = 0x0000'7f12'3456'789aull;
  for (std::size_t i = 0; i < 6; ++i) d.args[i] = 0x1111'1111'0000'0000ull * (i + 1) + i * 3 + 1;
  return d;
}

}  // namespace

TEST_CASE("seccomp opcodes: seccomp_check_filter's list within the classic table", "[seccomp][validator]") {
  int allowed = 0;
  for (std::uint32_t c = 0; c <= 0xffff; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    if (!sc::seccomp_opcode_allowed(code)) continue;
    ++allowed;
    INFO("code " << c);
    CHECK(bpfvm::opcode_allowed(code));  // the classic check runs first, so no more than it
  }
  CHECK(allowed == 41);
  CHECK_FALSE(sc::seccomp_opcode_allowed(bpfvm::kAlu | bpfvm::kMod | bpfvm::kK));
  CHECK_FALSE(sc::seccomp_opcode_allowed(bpfvm::kLd | bpfvm::kH | bpfvm::kAbs));
  CHECK_FALSE(sc::seccomp_opcode_allowed(bpfvm::kLd | bpfvm::kW | bpfvm::kInd));
  CHECK_FALSE(sc::seccomp_opcode_allowed(bpfvm::kLdx | bpfvm::kB | bpfvm::kMsh));
  CHECK(sc::seccomp_opcode_allowed(bpfvm::kAlu | bpfvm::kXor | bpfvm::kX));
}

TEST_CASE("seccomp loads: 32-bit, aligned, inside seccomp_data", "[seccomp][validator]") {
  for (std::uint32_t k = 0; k < 64; k += 4) CHECK_FALSE(refusal({{kLdW, 0, 0, k}, {kRetA, 0, 0, 0}}));
  for (std::uint32_t k : {1u, 2u, 3u, 62u, 64u, 68u, 0x7fffffffu}) {
    INFO("k " << k);
    CHECK(refusal({{kLdW, 0, 0, k}, {kRetA, 0, 0, 0}}) == bpfvm::BpfError{Errc::kSeccompLoad, 0});
  }
  // A known ancillary offset passes bpf_check_classic, then fails seccomp's bounds check.
  CHECK(refusal({{kLdW, 0, 0, bpfvm::ancillary_k(bpfvm::Ancillary::kProtocol)}, {kRetA, 0, 0, 0}}) ==
        bpfvm::BpfError{Errc::kSeccompLoad, 0});
  // An unknown one is bpf_check_classic's refusal.
  CHECK(refusal({{kLdW, 0, 0, 0xfffff001u}, {kRetA, 0, 0, 0}}) == bpfvm::BpfError{Errc::kUnknownAncillary, 0});
  CHECK(refusal({{bpfvm::kLd | bpfvm::kB | bpfvm::kAbs, 0, 0, 0}, {kRetA, 0, 0, 0}}) ==
        bpfvm::BpfError{Errc::kSeccompOpcode, 0});
  // BPF_LDX|BPF_W|BPF_ABS is what the kernel rewrites ld [k] into, but a user may not write it:
  // it is not in chk_code_allowed's table.
  CHECK(refusal({{bpfvm::kLdx | bpfvm::kW | bpfvm::kAbs, 0, 0, 0}, {kRetA, 0, 0, 0}}) ==
        bpfvm::BpfError{Errc::kUnknownOpcode, 0});
}

TEST_CASE("seccomp validation runs the whole classic check first", "[seccomp][validator]") {
  // mod at 0 (seccomp's refusal) and a jump out of range at 1 (classic): the classic one wins.
  CHECK(refusal({{bpfvm::kAlu | bpfvm::kMod | bpfvm::kK, 0, 0, 3}, {bpfvm::kJmp | bpfvm::kJa, 0, 0, 5},
                 {kRetA, 0, 0, 0}}) == bpfvm::BpfError{Errc::kJumpOutOfRange, 1});
  CHECK(refusal({}) == bpfvm::BpfError{Errc::kEmpty, 0});
  CHECK(refusal(Program(4097, {kRetK, 0, 0, 0})) == bpfvm::BpfError{Errc::kTooLong, 4097});
  CHECK_FALSE(refusal(Program(4096, {kRetK, 0, 0, 0})));
  CHECK(refusal({{bpfvm::kAlu | bpfvm::kMod | bpfvm::kX, 0, 0, 0}, {kRetA, 0, 0, 0}}) ==
        bpfvm::BpfError{Errc::kSeccompOpcode, 0});
  CHECK(bpfvm::reason(Errc::kSeccompLoad) == "load outside seccomp_data or unaligned");
}

TEST_CASE("ld [k] reads seccomp_data's words in the little-endian layout", "[seccomp][run]") {
  const sc::Data d = sample();
  CHECK(run({{kLdW, 0, 0, 0}, {kRetA, 0, 0, 0}}, d) == 41);
  CHECK(run({{kLdW, 0, 0, 4}, {kRetA, 0, 0, 0}}, d) == sc::kAuditArchX86_64);
  CHECK(run({{kLdW, 0, 0, 8}, {kRetA, 0, 0, 0}}, d) == 0x3456789au);
  CHECK(run({{kLdW, 0, 0, 12}, {kRetA, 0, 0, 0}}, d) == 0x00007f12u);
  for (std::uint32_t i = 0; i < 6; ++i) {
    CHECK(run({{kLdW, 0, 0, 16 + 8 * i}, {kRetA, 0, 0, 0}}, d) == static_cast<std::uint32_t>(d.args[i]));
    CHECK(run({{kLdW, 0, 0, 20 + 8 * i}, {kRetA, 0, 0, 0}}, d) == static_cast<std::uint32_t>(d.args[i] >> 32));
  }
  sc::Data neg;
  neg.nr = -1;
  CHECK(run({{kLdW, 0, 0, 0}, {kRetA, 0, 0, 0}}, neg) == 0xffffffffu);
  // ld len and ldx len: sizeof(struct seccomp_data), the constant the kernel substitutes.
  CHECK(run({{bpfvm::kLd | bpfvm::kW | bpfvm::kLen, 0, 0, 0}, {kRetA, 0, 0, 0}}, d) == 64);
  CHECK(run({{bpfvm::kLdx | bpfvm::kW | bpfvm::kLen, 0, 0, 0}, {bpfvm::kMisc | bpfvm::kTxa, 0, 0, 0},
             {kRetA, 0, 0, 0}}, d) == 64);
  // div by X = 0 ends with 0, i.e. SECCOMP_RET_KILL_THREAD.
  CHECK(run({{bpfvm::kLd | bpfvm::kImm, 0, 0, 7}, {bpfvm::kAlu | bpfvm::kDiv | bpfvm::kX, 0, 0, 0},
             {kRetK, 0, 0, sc::kRetAllow}}, d) == sc::kRetKillThread);
}

TEST_CASE("describe_action names what the kernel does with a return value", "[seccomp]") {
  CHECK(sc::describe_action(sc::kRetAllow) == "allow");
  CHECK(sc::describe_action(sc::kRetErrno | 13) == "errno 13");
  CHECK(sc::describe_action(sc::kRetKillThread) == "kill_thread");
  CHECK(sc::describe_action(0x12345678u) == "unknown 0x12340000");
}

namespace {

// Every number the tests probe: all of 0..1100, the x32 range's start, and the edges.
std::vector<std::uint32_t> probe_numbers() {
  std::vector<std::uint32_t> nrs;
  for (std::uint32_t nr = 0; nr <= 1100; ++nr) nrs.push_back(nr);
  for (std::uint32_t nr = 0; nr <= 600; nr += 7) nrs.push_back(sc::kX32SyscallBit | nr);
  for (std::uint32_t nr : {0x3fffffffu, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) nrs.push_back(nr);
  return nrs;
}

void check_against_spec(const sc::SyscallFilterSpec& spec) {
  auto built = sc::build_syscall_filter(spec);
  REQUIRE(built.has_value());
  sc::Data d = sample();
  for (std::uint32_t arch : {sc::kAuditArchX86_64, sc::kAuditArchI386, sc::kAuditArchAarch64}) {
    d.arch = arch;
    for (std::uint32_t nr : probe_numbers()) {
      d.nr = static_cast<std::int32_t>(nr);
      const std::uint32_t want = sc::expected_action(spec, d);
      const std::uint32_t got = sc::run(*built, d);
      if (want != got) FAIL("arch " << arch << " nr " << nr << ": spec " << want << ", program " << got);
    }
  }
}

}  // namespace

TEST_CASE("an argument rule sorts one number's calls by the low word of one argument", "[seccomp][builder]") {
  sc::SyscallFilterSpec spec;
  spec.default_action = sc::kRetErrno | 4000;
  spec.x32_action = sc::kRetErrno | 4002;
  spec.bad_arch_action = sc::kRetErrno | 4001;
  spec.actions = {{71, sc::kRetUserNotif}, {73, sc::kRetErrno | 7}, {300, sc::kRetUserNotif}};
  spec.arg_rules[72] = sc::ArgRule{1, {0, 1030}, sc::kRetUserNotif};         // fcntl's F_DUPFD, F_DUPFD_CLOEXEC
  spec.arg_rules[300] = sc::ArgRule{5, {7}, sc::kRetErrno | 9};              // a number with its own action too
  spec.arg_rules[0] = sc::ArgRule{0, {0xffffffffu}, sc::kRetErrno | 11};
  auto built = sc::build_syscall_filter(spec);
  REQUIRE(built.has_value());
  for (std::uint32_t nr : probe_numbers())
    for (std::uint64_t v : {0ull, 1ull, 3ull, 7ull, 1030ull, 0x100000000ull, 0x100000406ull, 0xffffffffull}) {
      for (unsigned arg = 0; arg < 6; ++arg) {
        sc::Data d = sample();
        d.arch = sc::kAuditArchX86_64;
        d.nr = static_cast<std::int32_t>(nr);
        d.args[arg] = v;
        const std::uint32_t want = sc::expected_action(spec, d), got = sc::run(*built, d);
        if (want != got) FAIL("nr " << nr << " args[" << arg << "] " << v << ": spec " << want << ", program " << got);
      }
    }
  // What the rule says, spelled out: only the listed low words of args[1] of 72 go to the listener.
  sc::Data d = sample();
  d.arch = sc::kAuditArchX86_64;
  d.nr = 72;
  d.args[1] = 1030;
  CHECK(sc::run(*built, d) == sc::kRetUserNotif);
  d.args[1] = 3;   // F_GETFL
  CHECK(sc::run(*built, d) == spec.default_action);
  d.args[1] = 0x100000000ull;   // the high word is not the kernel's int: 0
  CHECK(sc::run(*built, d) == sc::kRetUserNotif);
  spec.arg_rules[72].arg = 6;
  CHECK(sc::build_syscall_filter(spec).error() == sc::BuildError::kBadArgRule);
}

TEST_CASE("the builder's filter returns what its spec says for every number and arch", "[seccomp][builder]") {
  sc::SyscallFilterSpec spec;
  spec.default_action = sc::kRetErrno | 4000;  // distinct values, so a mix-up shows
  spec.bad_arch_action = sc::kRetErrno | 4001;
  spec.x32_action = sc::kRetErrno | 4002;
  check_against_spec(spec);  // no rules: one range
  for (std::uint32_t nr : {41u, 42u, 43u, 0u, 3u, 299u, 307u}) spec.actions[nr] = sc::kRetErrno | (nr + 1);
  check_against_spec(spec);
  std::mt19937 rng(16);
  for (int round = 0; round < 40; ++round) {
    spec.actions.clear();
    spec.arch = round % 4 == 3 ? sc::kAuditArchI386 : sc::kAuditArchX86_64;
    const int n = round < 30 ? static_cast<int>(rng() % 60) : 300 + static_cast<int>(rng() % 700);
    for (int i = 0; i < n; ++i) {
      const std::uint32_t nr = rng() % 1100;
      spec.actions[nr] = rng() % 3 == 0 ? spec.default_action : sc::kRetErrno | (rng() % 3 + 1);
    }
    INFO("round " << round << ", " << spec.actions.size() << " rules");
    check_against_spec(spec);
  }
}

TEST_CASE("long lists stay valid: far jumps go through ja", "[seccomp][builder]") {
  // Every other number listed: ~1000 ranges, so lower halves of the tree exceed jt's 255.
  std::vector<std::uint32_t> nrs;
  for (std::uint32_t nr = 0; nr < 1000; nr += 2) nrs.push_back(nr);
  auto built = sc::build_notify_list(nrs, sc::kRetErrno | 1);
  REQUIRE(built.has_value());
  std::size_t ja = 0;
  for (const Instruction& in : built->program()) ja += in.code == (bpfvm::kJmp | bpfvm::kJa);
  CHECK(ja > 0);
  CHECK(built->size() < 2100);
  sc::Data d = sample();
  for (std::uint32_t nr = 0; nr < 1200; ++nr) {
    d.nr = static_cast<std::int32_t>(nr);
    CHECK(sc::run(*built, d) == (nr < 1000 && nr % 2 == 0 ? (sc::kRetErrno | 1) : sc::kRetAllow));
  }
}

TEST_CASE("a short list is a search, not a chain", "[seccomp][builder]") {
  const std::uint32_t socket_calls[] = {41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 53, 54, 55, 288, 299, 307, 3};
  auto built = sc::build_notify_list(socket_calls);
  REQUIRE(built.has_value());
  // Instructions run for a number below the x32 bit: ld, jeq (arch), ld, jge (x32), then the
  // search: the list is 13 ranges, so at most ceil(log2(13)) = 4 compares. Walked here by hand.
  std::size_t longest = 0;
  for (std::uint32_t nr = 0; nr < 400; ++nr) {
    std::size_t steps = 0, pc = 0;
    std::uint32_t a = 0;
    for (;; ++steps) {
      const Instruction& in = built->program()[pc];
      if (in.code == kRetK) break;
      if (in.code == kLdW) a = in.k == 0 ? nr : sc::kAuditArchX86_64;
      if (in.code == (bpfvm::kJmp | bpfvm::kJa)) { pc += 1 + in.k; continue; }
      if (bpfvm::bpf_class(in.code) == bpfvm::kJmp) {
        const bool taken = bpfvm::bpf_op(in.code) == bpfvm::kJeq ? a == in.k : a >= in.k;
        pc += 1 + (taken ? in.jt : in.jf);
        continue;
      }
      ++pc;
    }
    longest = std::max(longest, steps);
  }
  CHECK(longest == 4 + 4);  // a chain of jeq would run up to 17
  CHECK(sc::build_notify_list(std::vector<std::uint32_t>{sc::kX32SyscallBit | 41}).error() ==
        sc::BuildError::kX32Number);
  // Other architectures have no x32 bit to refuse.
  CHECK(sc::build_notify_list(std::vector<std::uint32_t>{sc::kX32SyscallBit | 41}, sc::kRetUserNotif,
                              sc::kAuditArchAarch64).has_value());
}

TEST_CASE("actions and arches parse as the command line writes them", "[seccomp]") {
  CHECK(sc::parse_action("notify") == sc::kRetUserNotif);
  CHECK(sc::parse_action("errno:13") == (sc::kRetErrno | 13));
  CHECK(sc::parse_action("trap") == sc::kRetTrap);
  CHECK(sc::parse_action("trace:0x10") == (sc::kRetTrace | 16));
  CHECK(sc::parse_action("kill_process") == sc::kRetKillProcess);
  CHECK(sc::parse_action("0x7fff0000") == sc::kRetAllow);
  CHECK_FALSE(sc::parse_action("errno"));
  CHECK_FALSE(sc::parse_action("errno:65536"));
  CHECK_FALSE(sc::parse_action("allow:1"));
  CHECK_FALSE(sc::parse_action("deny"));
  CHECK(sc::parse_arch("i386") == sc::kAuditArchI386);
  CHECK(sc::parse_arch("0xc00000b7") == sc::kAuditArchAarch64);
  CHECK_FALSE(sc::parse_arch("mips"));
}
