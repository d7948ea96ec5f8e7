// tcpdump -d: libpcap's bpf_image() format, reproduced exactly (tests compare against the
// library), and its inverse.
#include <cstdio>
#include <string>

#include "bpfvm/asm/text.h"
#include "bpfvm/asm/text_util.h"

namespace bpfvm {
namespace {

using text::parse_u32;
using text::trim;

// libpcap prints k with "%d" (a signed view of the bits) or "0x%x".
std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}
std::string dec(std::uint32_t v) { return std::to_string(static_cast<std::int32_t>(v)); }

const char* size_op(std::uint16_t code) {
  return bpf_size(code) == kH ? "ldh" : bpf_size(code) == kB ? "ldb" : "ld";
}

const char* alu_name(std::uint16_t op) {
  switch (op) {
    case kAdd: return "add"; case kSub: return "sub"; case kMul: return "mul";
    case kDiv: return "div"; case kMod: return "mod"; case kAnd: return "and";
    case kOr: return "or";   case kXor: return "xor"; case kLsh: return "lsh";
    case kRsh: return "rsh";
    default: return nullptr;
  }
}

const char* jmp_name(std::uint16_t op) {
  switch (op) {
    case kJeq: return "jeq"; case kJgt: return "jgt"; case kJge: return "jge";
    case kJset: return "jset";
    default: return nullptr;
  }
}

bool is_listed_jump(std::uint16_t c) {
  return (c & ~0xf8u) == kJmp && bpf_op(c) != kJa && jmp_name(bpf_op(c)) != nullptr;
}

// op and operand as bpf_image chooses them; "unimp" for what libpcap does not know.
std::pair<std::string, std::string> image(const Instruction& in, std::size_t n) {
  const std::uint16_t c = in.code;
  const std::uint32_t k = in.k;
  switch (c) {
    case kRet | kK: return {"ret", std::string("#") + dec(k)};
    case kRet | kA: return {"ret", ""};
    case kLd | kW | kAbs: case kLd | kH | kAbs: case kLd | kB | kAbs:
      if (auto name = text::libpcap_ancillary_name(k)) return {size_op(c), text::concat("[", *name, "]")};
      return {size_op(c), std::string("[") + dec(k) + "]"};
    case kLd | kW | kInd: case kLd | kH | kInd: case kLd | kB | kInd:
      return {size_op(c), text::concat("[x + ", dec(k), "]")};
    case kLd | kW | kLen: return {"ld", "#pktlen"};
    case kLd | kImm: return {"ld", std::string("#") + hex(k)};
    case kLdx | kImm: return {"ldx", std::string("#") + hex(k)};
    case kLdx | kB | kMsh: return {"ldxb", std::string("4*([") + dec(k) + "]&0xf)"};
    case kLd | kMem: return {"ld", std::string("M[") + dec(k) + "]"};
    case kLdx | kMem: return {"ldx", std::string("M[") + dec(k) + "]"};
    case kSt: return {"st", std::string("M[") + dec(k) + "]"};
    case kStx: return {"stx", std::string("M[") + dec(k) + "]"};
    case kJmp | kJa: return {"ja", dec(static_cast<std::uint32_t>(n + 1 + k))};
    case kAlu | kNeg: return {"neg", ""};
    case kMisc | kTax: return {"tax", ""};
    case kMisc | kTxa: return {"txa", ""};
    default: break;
  }
  if (is_listed_jump(c))
    return {jmp_name(bpf_op(c)), bpf_src(c) == kX ? "x" : std::string("#") + hex(k)};
  if (bpf_class(c) == kAlu && (c & ~0xf8u) == kAlu && alu_name(bpf_op(c))) {
    const std::uint16_t op = bpf_op(c);
    if (bpf_src(c) == kX) return {alu_name(op), "x"};
    const bool as_hex = op == kAnd || op == kOr || op == kXor;
    return {alu_name(op), as_hex ? std::string("#") + hex(k) : std::string("#") + dec(k)};
  }
  return {"unimp", hex(c)};
}

Expected<Instruction, std::string> parse_operand(std::string_view op, std::string_view arg,
                                                 std::uint32_t n) {
  auto bad = [&] { return unexpected(std::string("cannot read \"") + std::string(op) + " " +
                                     std::string(arg) + "\""); };
  auto num = [](std::string_view s) { return parse_u32(s); };
  auto bracket = [&](std::string_view pre, std::string_view post) -> std::optional<std::string_view> {
    if (arg.size() < pre.size() + post.size() || arg.substr(0, pre.size()) != pre ||
        arg.substr(arg.size() - post.size()) != post)
      return std::nullopt;
    return arg.substr(pre.size(), arg.size() - pre.size() - post.size());
  };
  const std::uint16_t size = op == "ldh" ? kH : op == "ldb" ? kB : kW;
  if (op == "ld" || op == "ldh" || op == "ldb") {
    if (auto in = bracket("[x + ", "]")) {
      if (auto v = num(*in)) return Instruction{static_cast<std::uint16_t>(kLd | size | kInd), 0, 0, *v};
    } else if (auto m = bracket("M[", "]"); m && op == "ld") {
      if (auto v = num(*m)) return Instruction{kLd | kMem, 0, 0, *v};
    } else if (auto a = bracket("[", "]")) {
      if (auto anc = text::ancillary_from_name(*a))
        return Instruction{static_cast<std::uint16_t>(kLd | size | kAbs), 0, 0, *anc};
      if (auto v = num(*a)) return Instruction{static_cast<std::uint16_t>(kLd | size | kAbs), 0, 0, *v};
    } else if (op == "ld" && arg == "#pktlen") {
      return Instruction{kLd | kW | kLen, 0, 0, 0};
    } else if (auto i = bracket("#", ""); i && op == "ld") {
      if (auto v = num(*i)) return Instruction{kLd | kImm, 0, 0, *v};
    }
    return bad();
  }
  if (op == "ldx") {
    if (auto m = bracket("M[", "]")) { if (auto v = num(*m)) return Instruction{kLdx | kMem, 0, 0, *v}; }
    else if (auto i = bracket("#", "")) { if (auto v = num(*i)) return Instruction{kLdx | kImm, 0, 0, *v}; }
    return bad();
  }
  if (op == "ldxb") {
    if (auto m = bracket("4*([", "]&0xf)")) if (auto v = num(*m)) return Instruction{kLdx | kB | kMsh, 0, 0, *v};
    return bad();
  }
  if (op == "st" || op == "stx") {
    if (auto m = bracket("M[", "]")) if (auto v = num(*m)) return Instruction{op == "st" ? kSt : kStx, 0, 0, *v};
    return bad();
  }
  if (op == "ret") {
    if (arg.empty()) return Instruction{kRet | kA, 0, 0, 0};
    if (auto i = bracket("#", "")) if (auto v = num(*i)) return Instruction{kRet | kK, 0, 0, *v};
    return bad();
  }
  if (op == "ja") {
    auto t = num(arg);
    if (!t || *t < n + 1) return unexpected(std::string("ja target must lie after the jump"));
    return Instruction{kJmp | kJa, 0, 0, *t - n - 1};
  }
  if (op == "unimp") {
    auto v = num(arg);
    if (!v || *v > 0xffff) return bad();
    return Instruction{static_cast<std::uint16_t>(*v), 0, 0, 0};
  }
  if (arg.empty()) {
    if (op == "neg") return Instruction{kAlu | kNeg, 0, 0, 0};
    if (op == "tax") return Instruction{kMisc | kTax, 0, 0, 0};
    if (op == "txa") return Instruction{kMisc | kTxa, 0, 0, 0};
  }
  for (std::uint16_t o : {kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kLsh, kRsh}) {
    if (op != alu_name(o)) continue;
    if (arg == "x") return Instruction{static_cast<std::uint16_t>(kAlu | o | kX), 0, 0, 0};
    if (auto i = bracket("#", "")) if (auto v = num(*i)) return Instruction{static_cast<std::uint16_t>(kAlu | o | kK), 0, 0, *v};
    return bad();
  }
  return unexpected(std::string("unknown instruction \"") + std::string(op) + "\"");
}

}  // namespace

std::string format_listing(const Program& p) {
  std::string out;
  for (std::size_t n = 0; n < p.size(); ++n) {
    const auto [op, arg] = image(p[n], n);
    char line[160];
    // bpf_image's rule: any jump-class code but ja gets targets, even one it cannot name.
    if (bpf_class(p[n].code) == kJmp && bpf_op(p[n].code) != kJa) {
      std::snprintf(line, sizeof line, "(%03d) %-8s %-16s jt %d\tjf %d\n", static_cast<int>(n),
                    op.c_str(), arg.c_str(), static_cast<int>(n + 1 + p[n].jt),
                    static_cast<int>(n + 1 + p[n].jf));
    } else {
      std::snprintf(line, sizeof line, "(%03d) %-8s %s\n", static_cast<int>(n), op.c_str(), arg.c_str());
    }
    out += line;
  }
  return out;
}

Expected<Program, TextError> parse_listing(std::string_view src) {
  Program p;
  const auto lines = text::split_lines(src);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    const auto lineno = static_cast<std::uint32_t>(li + 1);
    auto err = [&](std::string m) { return unexpected(TextError{lineno, std::move(m)}); };
    std::string_view s = trim(lines[li]);
    if (s.empty()) continue;
    const auto close = s.find(')');
    if (s[0] != '(' || close == std::string_view::npos) return err("expected \"(NNN)\" at the start");
    auto n = text::parse_unsigned(s.substr(1, close - 1));
    if (!n || *n != p.size()) return err("instruction number " + std::string(s.substr(1, close - 1)) +
                                         " where " + std::to_string(p.size()) + " was due");
    s = trim(s.substr(close + 1));
    const auto sp = s.find_first_of(" \t");
    const std::string_view op = s.substr(0, sp);
    std::string_view arg = sp == std::string_view::npos ? std::string_view{} : trim(s.substr(sp));
    std::optional<std::uint32_t> jt, jf;
    if (const auto j = arg.find(" jt "); j != std::string_view::npos || arg.substr(0, 3) == "jt ") {
      const std::size_t at = j == std::string_view::npos ? 0 : j + 1;
      const std::string_view tail = arg.substr(at);
      arg = trim(arg.substr(0, at));
      const auto f = tail.find("jf");
      if (f == std::string_view::npos) return err("\"jt\" without \"jf\"");
      jt = text::parse_unsigned(tail.substr(2, f - 2));
      jf = text::parse_unsigned(tail.substr(f + 2));
      if (!jt || !jf) return err("cannot read the jump targets");
    }
    Instruction in;
    bool is_jump = false;
    for (std::uint16_t o : {kJeq, kJgt, kJge, kJset}) {
      if (op != jmp_name(o)) continue;
      is_jump = true;
      if (!jt) return err(std::string(op) + " needs \"jt N jf N\"");
      if (arg == "x") {
        in.code = static_cast<std::uint16_t>(kJmp | o | kX);
      } else if (auto v = arg.size() > 1 && arg[0] == '#' ? parse_u32(arg.substr(1)) : std::nullopt) {
        in.code = static_cast<std::uint16_t>(kJmp | o | kK);
        in.k = *v;
      } else {
        return err("cannot read the operand \"" + std::string(arg) + "\"");
      }
      const std::uint32_t base = *n + 1;
      if (*jt < base || *jf < base || *jt - base > 255 || *jf - base > 255)
        return err("jump targets must lie 1..256 instructions ahead");
      in.jt = static_cast<std::uint8_t>(*jt - base);
      in.jf = static_cast<std::uint8_t>(*jf - base);
    }
    if (!is_jump) {
      auto r = parse_operand(op, arg, *n);
      if (!r) return err(r.error());
      in = *r;
      if (jt.has_value() != (bpf_class(in.code) == kJmp && bpf_op(in.code) != kJa))
        return err(jt ? "only jump-class codes take jt/jf" : "a jump-class code needs jt/jf");
      if (jt) {
        const std::uint32_t base = *n + 1;
        if (*jt < base || *jf < base || *jt - base > 255 || *jf - base > 255)
          return err("jump targets must lie 1..256 instructions ahead");
        in.jt = static_cast<std::uint8_t>(*jt - base);
        in.jf = static_cast<std::uint8_t>(*jf - base);
      }
    }
    p.push_back(in);
  }
  return p;
}

}  // namespace bpfvm
