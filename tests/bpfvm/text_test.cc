// Text forms: the listing matches libpcap's own bpf_image(); bpf_asm source as the kernel's
// tools/bpf/bpf_asm reads it; detection; errors name their line.
#include <catch2/catch.hpp>

#include <pcap/pcap.h>

#include <random>

#include "bpfvm/asm/text.h"
#include "bpfvm/validator.h"

using bpfvm::Instruction;
using bpfvm::Program;

namespace {

std::string libpcap_listing(const Program& p) {
  std::string out;
  for (std::size_t n = 0; n < p.size(); ++n) {
    bpf_insn in{p[n].code, p[n].jt, p[n].jf, p[n].k};
    out += bpf_image(&in, static_cast<int>(n));
    out += "\n";
  }
  return out;
}

// The fields an opcode does not use, zeroed: what listing and asm can carry.
Program canonical(Program p) {
  for (Instruction& in : p) {
    const auto cls = bpfvm::bpf_class(in.code);
    if (cls != bpfvm::kJmp || in.code == (bpfvm::kJmp | bpfvm::kJa)) in.jt = in.jf = 0;
    const bool uses_k = !(in.code == (bpfvm::kRet | bpfvm::kA) || in.code == (bpfvm::kMisc | bpfvm::kTax) ||
                          in.code == (bpfvm::kMisc | bpfvm::kTxa) || in.code == (bpfvm::kAlu | bpfvm::kNeg) ||
                          in.code == (bpfvm::kLd | bpfvm::kW | bpfvm::kLen) ||
                          in.code == (bpfvm::kLdx | bpfvm::kW | bpfvm::kLen) ||
                          ((cls == bpfvm::kAlu || cls == bpfvm::kJmp) && bpfvm::bpf_src(in.code) == bpfvm::kX &&
                           in.code != (bpfvm::kJmp | bpfvm::kJa)));
    if (!uses_k) in.k = 0;
  }
  return p;
}

}  // namespace

TEST_CASE("the listing is byte for byte libpcap's bpf_image for every 9-bit opcode", "[text][listing]") {
  std::mt19937 rng(7);
  Program p;
  for (std::uint32_t code = 0; code < 0x200; ++code)
    for (std::uint32_t k : {0u, 12u, 0xfffff000u, 0xfffff03cu, 0xfff00010u, 0x80000000u, static_cast<std::uint32_t>(rng())})
      p.push_back({static_cast<std::uint16_t>(code), static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()), k});
  CHECK(bpfvm::format_listing(p) == libpcap_listing(p));
}

TEST_CASE("listing and asm round-trip every kernel opcode", "[text][roundtrip]") {
  std::mt19937 rng(11);
  Program p;
  for (std::uint32_t code = 0; code <= 0xffff; ++code) {
    if (!bpfvm::opcode_allowed(static_cast<std::uint16_t>(code))) continue;
    for (int i = 0; i < 8; ++i)
      p.push_back({static_cast<std::uint16_t>(code), static_cast<std::uint8_t>(rng() % 4),
                   static_cast<std::uint8_t>(rng() % 4), i < 4 ? static_cast<std::uint32_t>(rng() % 8) : static_cast<std::uint32_t>(rng())});
  }
  for (int i = 0; i < 4; ++i) p.push_back({bpfvm::kRet | bpfvm::kK, 0, 0, 0});
  // ja targets must stay inside the program for asm labels.
  for (Instruction& in : p)
    if (in.code == (bpfvm::kJmp | bpfvm::kJa)) in.k %= 4;
  p = canonical(p);
  auto listed = bpfvm::parse_listing(bpfvm::format_listing(p));
  REQUIRE(listed.has_value());
  CHECK(*listed == p);
  auto source = bpfvm::format_asm(p);
  REQUIRE(source.has_value());
  auto assembled = bpfvm::parse_asm(*source);
  REQUIRE(assembled.has_value());
  CHECK(*assembled == p);
}

TEST_CASE("bpf_asm: the kernel documentation's ARP filter", "[text][asm]") {
  const char* src =
      "  ldh [12]\n"
      "  jne #0x806, drop\n"
      "  ret #-1\n"
      "  drop: ret #0\n";
  auto p = bpfvm::parse_asm(src);
  REQUIRE(p.has_value());
  const Program want = {{0x28, 0, 0, 12}, {0x15, 0, 1, 0x806}, {0x06, 0, 0, 0xffffffff}, {0x06, 0, 0, 0}};
  CHECK(*p == want);
}

TEST_CASE("bpf_asm: addressing modes, ancillary keywords, negated jumps, comments", "[text][asm]") {
  const char* src =
      "; IPv4 TCP with header length\n"
      "start:  ld #proto          ; with '#'\n"
      "        ld proto           /* and without */\n"
      "        ldb #type\n"
      "        ldh [x + 2]\n"
      "        ldb [%x+3]\n"
      "        ld #len\n"
      "        ldx #len\n"
      "        ldx 4*([14]&0xf)\n"
      "        ldxb 4*([0x0e]&0xf)\n"
      "        ld M[3]\n"
      "        ldi #7\n"
      "        ldxi #8\n"
      "        add %x\n"
      "        rsh #4\n"
      "        ld #vlan_avail\n"
      "        jlt #10, a, b\n"
      "        jle x, a\n"
      "a:      jset #0x1fff, b\n"
      "b:      ret %a\n";
  auto p = bpfvm::parse_asm(src);
  REQUIRE(p.has_value());
  const std::uint32_t ad = 0xfffff000;
  const Program want = {
      {0x20, 0, 0, ad}, {0x20, 0, 0, ad}, {0x30, 0, 0, ad + 4}, {0x48, 0, 0, 2}, {0x50, 0, 0, 3},
      {0x80, 0, 0, 0}, {0x81, 0, 0, 0}, {0xb1, 0, 0, 14}, {0xb1, 0, 0, 14}, {0x60, 0, 0, 3},
      {0x00, 0, 0, 7}, {0x01, 0, 0, 8}, {0x0c, 0, 0, 0}, {0x74, 0, 0, 4}, {0x20, 0, 0, ad + 48},
      {0x35, 2, 1, 10},  // jlt: jge with the targets swapped
      {0x2d, 0, 0, 0},   // jle x, a: jgt x, next, a
      {0x45, 0, 0, 0x1fff}, {0x16, 0, 0, 0}};
  CHECK(*p == want);
}

TEST_CASE("parse errors name the line", "[text][errors]") {
  auto unknown_label = bpfvm::parse_asm("ld [0]\n\njeq #1, nowhere\nret #0\n");
  REQUIRE_FALSE(unknown_label.has_value());
  CHECK(unknown_label.error().line == 3);
  CHECK(unknown_label.error().message.find("nowhere") != std::string::npos);

  auto backwards = bpfvm::parse_asm("top: ld [0]\njmp top\nret #0\n");
  REQUIRE_FALSE(backwards.has_value());
  CHECK(backwards.error().line == 2);

  auto bad_insn = bpfvm::parse_asm("ld [0]\nfrob #1\n");
  REQUIRE_FALSE(bad_insn.has_value());
  CHECK(bad_insn.error().line == 2);

  auto bad_listing = bpfvm::parse_listing("(000) ldh      [12]\n(002) ret      #0\n");
  REQUIRE_FALSE(bad_listing.has_value());
  CHECK(bad_listing.error().line == 2);

  auto bad_dd = bpfvm::parse_dd("{ 0x28, 0, 0, 0x0c },\n{ 0x6, 0, 0 },\n");
  REQUIRE_FALSE(bad_dd.has_value());
  CHECK(bad_dd.error().line == 2);

  auto unterminated = bpfvm::parse_dd("{ 0x28, 0, 0, 0x0c },\n{ 0x6, 0, 0,\n");
  REQUIRE_FALSE(unterminated.has_value());
  CHECK(unterminated.error().line == 2);

  auto wide_jump = bpfvm::parse_numbers("21 256 0 0\n6 0 0 0\n");
  REQUIRE_FALSE(wide_jump.has_value());
  CHECK(wide_jump.error().line == 1);

  auto bad_json = bpfvm::parse_json("[[40, 0, 0, 12], [6, 0, -1, 0]]");
  REQUIRE_FALSE(bad_json.has_value());
  CHECK(bad_json.error().message.find("instruction 1") != std::string::npos);
}

TEST_CASE("every form is detected and read back to the same program", "[text][detect]") {
  const Program p = {{0x28, 0, 0, 12}, {0x15, 0, 1, 0x800}, {0x06, 0, 0, 0xffff}, {0x06, 0, 0, 0}};
  CHECK(bpfvm::detect_form(bpfvm::format_listing(p)) == bpfvm::TextForm::kListing);
  CHECK(bpfvm::detect_form(bpfvm::format_dd(p)) == bpfvm::TextForm::kDd);
  CHECK(bpfvm::detect_form(bpfvm::format_json(p)) == bpfvm::TextForm::kJson);
  CHECK(bpfvm::detect_form(bpfvm::format_numbers(p)) == bpfvm::TextForm::kNumbers);
  CHECK(bpfvm::detect_form(*bpfvm::format_asm(p)) == bpfvm::TextForm::kAsm);
  for (const std::string& text : {bpfvm::format_listing(p), bpfvm::format_dd(p), bpfvm::format_json(p),
                                  bpfvm::format_numbers(p), *bpfvm::format_asm(p),
                                  std::string("4\n40 0 0 12\n21 0 1 2048\n6 0 0 65535\n6 0 0 0\n"),  // tcpdump -ddd
                                  std::string("4,40 0 0 12,21 0 1 2048,6 0 0 65535,6 0 0 0,\n"),      // bpf_asm
                                  "struct sock_filter code[] = {\n" + bpfvm::format_dd(p) + "};\n"}) {
    INFO(text);
    auto back = bpfvm::parse_any(text);
    REQUIRE(back.has_value());
    CHECK(*back == p);
  }
  CHECK(bpfvm::format_dd(p).substr(0, 27) == "{ 0x28, 0, 0, 0x0000000c },");
  CHECK_FALSE(bpfvm::parse_numbers("3\n6 0 0 0\n").has_value());  // count disagrees
}
