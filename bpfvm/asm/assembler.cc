// The kernel's bpf_asm syntax (tools/bpf/bpf_exp.y, Documentation/networking/filter.rst):
// "label: op operand[, jt[, jf]]", ';' comments, ancillary keywords with or without '#'.
#include <cctype>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bpfvm/asm/text.h"
#include "bpfvm/asm/text_util.h"

namespace bpfvm {
namespace {

using text::parse_u32;
using text::trim;

struct Pending {  // a jump whose labels resolve once every label is known
  std::size_t index;
  std::uint32_t line;
  std::string t, f;  // empty: the next instruction
  bool ja;
};

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t depth = 0, start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[' || s[i] == '(') ++depth;
    if ((s[i] == ']' || s[i] == ')') && depth > 0) --depth;
    if (s[i] == ',' && depth == 0) { out.push_back(trim(s.substr(start, i - start))); start = i + 1; }
  }
  if (!trim(s.substr(start)).empty() || !out.empty()) out.push_back(trim(s.substr(start)));
  return out;
}

std::string strip_spaces(std::string_view s) {
  std::string out;
  for (char c : s) if (c != ' ' && c != '\t') out += c;
  return out;
}

bool is_x(std::string_view s) { return s == "x" || s == "%x"; }
bool is_a(std::string_view s) { return s == "a" || s == "%a"; }

std::optional<std::uint32_t> imm(std::string_view s) {
  if (s.size() < 2 || s[0] != '#') return std::nullopt;
  return parse_u32(s.substr(1));
}

std::optional<std::uint32_t> inside(std::string_view s, std::string_view pre, std::string_view post) {
  if (s.size() < pre.size() + post.size() || s.substr(0, pre.size()) != pre ||
      s.substr(s.size() - post.size()) != post)
    return std::nullopt;
  return parse_u32(s.substr(pre.size(), s.size() - pre.size() - post.size()));
}

// Loads and stores, ALU, ret, tax/txa: everything but jumps. `arg` has no spaces.
std::optional<Instruction> simple(std::string_view op, const std::string& arg) {
  const std::string_view a = arg;
  std::string_view bare = a.size() > 1 && a[0] == '#' ? a.substr(1) : a;
  if (op == "ld" || op == "ldh" || op == "ldb" || op == "ldi") {
    const std::uint16_t size = op == "ldh" ? kH : op == "ldb" ? kB : kW;
    const auto c = [&](std::uint16_t mode) { return static_cast<std::uint16_t>(kLd | size | mode); };
    if (op == "ldi") { if (auto v = imm(a)) return Instruction{kLd | kImm, 0, 0, *v}; return std::nullopt; }
    if (op == "ld" && bare == "len") return Instruction{kLd | kW | kLen, 0, 0, 0};
    if (auto anc = text::ancillary_from_name(bare)) return Instruction{c(kAbs), 0, 0, *anc};
    if (op == "ld") {
      if (auto v = imm(a)) return Instruction{kLd | kImm, 0, 0, *v};
      if (auto v = inside(a, "M[", "]")) return Instruction{kLd | kMem, 0, 0, *v};
    }
    if (a == "[x]" || a == "[%x]") return Instruction{c(kInd), 0, 0, 0};
    if (auto v = inside(a, "[x+", "]")) return Instruction{c(kInd), 0, 0, *v};
    if (auto v = inside(a, "[%x+", "]")) return Instruction{c(kInd), 0, 0, *v};
    if (auto v = inside(a, "[", "]")) return Instruction{c(kAbs), 0, 0, *v};
    return std::nullopt;
  }
  if (op == "ldx" || op == "ldxi" || op == "ldxb") {
    if (auto v = inside(a, "4*([", "]&0xf)"); v && op != "ldxi") return Instruction{kLdx | kB | kMsh, 0, 0, *v};
    if (op == "ldxb") return std::nullopt;
    if (op == "ldx" && bare == "len") return Instruction{kLdx | kW | kLen, 0, 0, 0};
    if (auto v = imm(a)) return Instruction{kLdx | kImm, 0, 0, *v};
    if (auto v = inside(a, "M[", "]"); v && op == "ldx") return Instruction{kLdx | kMem, 0, 0, *v};
    return std::nullopt;
  }
  if (op == "st" || op == "stx") {
    if (auto v = inside(a, "M[", "]")) return Instruction{op == "st" ? kSt : kStx, 0, 0, *v};
    return std::nullopt;
  }
  if (op == "ret") {
    if (is_a(a)) return Instruction{kRet | kA, 0, 0, 0};
    if (is_x(a)) return Instruction{kRet | kX, 0, 0, 0};  // bpf_asm spells it; the kernel refuses it
    if (auto v = imm(a)) return Instruction{kRet | kK, 0, 0, *v};
    return std::nullopt;
  }
  if (a.empty()) {
    if (op == "tax") return Instruction{kMisc | kTax, 0, 0, 0};
    if (op == "txa") return Instruction{kMisc | kTxa, 0, 0, 0};
    if (op == "neg") return Instruction{kAlu | kNeg, 0, 0, 0};
  }
  static const std::map<std::string_view, std::uint16_t> kAluOps = {
      {"add", kAdd}, {"sub", kSub}, {"mul", kMul}, {"div", kDiv}, {"mod", kMod},
      {"and", kAnd}, {"or", kOr},   {"xor", kXor}, {"lsh", kLsh}, {"rsh", kRsh}};
  if (auto it = kAluOps.find(op); it != kAluOps.end()) {
    if (is_x(a)) return Instruction{static_cast<std::uint16_t>(kAlu | it->second | kX), 0, 0, 0};
    if (auto v = imm(a)) return Instruction{static_cast<std::uint16_t>(kAlu | it->second | kK), 0, 0, *v};
  }
  return std::nullopt;
}

// Strips a ';' or "//" comment and one-line "/* */" comments.
std::string_view strip_comment(std::string_view s) {
  if (auto c = s.find(';'); c != std::string_view::npos) s = s.substr(0, c);
  if (auto c = s.find("//"); c != std::string_view::npos) s = s.substr(0, c);
  if (auto c = s.find("/*"); c != std::string_view::npos) s = s.substr(0, c);
  return trim(s);
}

bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

Expected<Program, TextError> parse_asm(std::string_view src) {
  Program p;
  std::map<std::string, std::size_t, std::less<>> labels;
  std::vector<Pending> jumps;
  const auto lines = text::split_lines(src);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    const auto lineno = static_cast<std::uint32_t>(li + 1);
    auto err = [&](std::string m) { return unexpected(TextError{lineno, std::move(m)}); };
    std::string_view s = strip_comment(lines[li]);
    if (const auto colon = s.find(':'); colon != std::string_view::npos &&
                                        is_label_name(trim(s.substr(0, colon)))) {
      const std::string name(trim(s.substr(0, colon)));
      if (!labels.emplace(name, p.size()).second) return err("label \"" + name + "\" defined twice");
      s = trim(s.substr(colon + 1));
    }
    if (s.empty()) continue;
    const auto sp = s.find_first_of(" \t");
    const std::string_view op = s.substr(0, sp);
    const std::string_view rest = sp == std::string_view::npos ? std::string_view{} : trim(s.substr(sp));
    if (op == "jmp" || op == "ja") {
      if (!is_label_name(rest)) return err("jmp needs a label");
      jumps.push_back({p.size(), lineno, std::string(rest), "", true});
      p.push_back({kJmp | kJa, 0, 0, 0});
      continue;
    }
    static const std::map<std::string_view, std::uint16_t> kJumps = {
        {"jeq", kJeq}, {"jneq", kJeq}, {"jne", kJeq}, {"jgt", kJgt}, {"jge", kJge},
        {"jlt", kJge}, {"jle", kJgt}, {"jset", kJset}};
    if (auto it = kJumps.find(op); it != kJumps.end()) {
      const auto parts = split_commas(rest);
      if (parts.size() < 2 || parts.size() > 3) return err(std::string(op) + " needs: operand, label[, label]");
      Instruction in{static_cast<std::uint16_t>(kJmp | it->second), 0, 0, 0};
      const std::string operand = strip_spaces(parts[0]);
      if (is_x(operand)) in.code |= kX;
      else if (auto v = imm(operand)) in.k = *v;
      else return err("cannot read the operand \"" + operand + "\"");
      for (std::size_t i = 1; i < parts.size(); ++i)
        if (!is_label_name(parts[i])) return err("\"" + std::string(parts[i]) + "\" is not a label");
      std::string t(parts[1]), f(parts.size() == 3 ? parts[2] : "");
      // jneq/jlt/jle branch when the kernel's jeq/jge/jgt is false: swap the targets.
      const bool negated = op == "jneq" || op == "jne" || op == "jlt" || op == "jle";
      if (negated && parts.size() == 3 && (op == "jneq" || op == "jne"))
        return err(std::string(op) + " takes one label");
      if (negated) std::swap(t, f);
      jumps.push_back({p.size(), lineno, t, f, false});
      p.push_back(in);
      continue;
    }
    auto in = simple(op, strip_spaces(rest));
    if (!in) return err("cannot read \"" + std::string(s) + "\"");
    p.push_back(*in);
  }
  for (const Pending& j : jumps) {
    auto target = [&](const std::string& label) -> Expected<std::uint32_t, TextError> {
      if (label.empty()) return 0u;
      auto it = labels.find(label);
      if (it == labels.end()) return unexpected(TextError{j.line, "unknown label \"" + label + "\""});
      if (it->second <= j.index) return unexpected(TextError{j.line, "label \"" + label + "\" is not ahead of the jump"});
      const std::size_t off = it->second - j.index - 1;
      if (!j.ja && off > 255) return unexpected(TextError{j.line, "label \"" + label + "\" is more than 256 instructions ahead"});
      return static_cast<std::uint32_t>(off);
    };
    auto t = target(j.t);
    if (!t) return unexpected(t.error());
    auto f = target(j.f);
    if (!f) return unexpected(f.error());
    if (j.ja) { p[j.index].k = *t; continue; }
    p[j.index].jt = static_cast<std::uint8_t>(*t);
    p[j.index].jf = static_cast<std::uint8_t>(*f);
  }
  return p;
}

Expected<std::string, TextError> format_asm(const Program& p) {
  std::vector<bool> target(p.size(), false);
  auto err = [](std::size_t i, std::string m) {
    return unexpected(TextError{static_cast<std::uint32_t>(i + 1), std::move(m)});
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    const Instruction& in = p[i];
    if (bpf_class(in.code) != kJmp) continue;
    const std::uint64_t a = i + 1 + (in.code == (kJmp | kJa) ? in.k : in.jt);
    const std::uint64_t b = i + 1 + (in.code == (kJmp | kJa) ? in.k : in.jf);
    if (a >= p.size() || b >= p.size()) return err(i, "jump leaves the program");
    target[a] = target[b] = true;
  }
  auto label = [](std::uint64_t t) { return text::concat("L", std::to_string(t)); };
  auto hex = [](std::uint32_t v) { char b[16]; std::snprintf(b, sizeof b, "0x%x", v); return std::string(b); };
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const Instruction& in = p[i];
    const std::uint16_t c = in.code;
    const std::string k = text::concat("#", hex(in.k));
    const char* sz = bpf_size(c) == kH ? "ldh" : bpf_size(c) == kB ? "ldb" : "ld";
    std::string line;
    if (c == (kLd | kW | kAbs) || c == (kLd | kH | kAbs) || c == (kLd | kB | kAbs)) {
      auto name = text::bpf_asm_ancillary_name(in.k);
      line = std::string(sz) + " " + (name ? "#" + std::string(*name) : "[" + hex(in.k) + "]");
    } else if (c == (kLd | kW | kInd) || c == (kLd | kH | kInd) || c == (kLd | kB | kInd)) {
      line = std::string(sz) + " [x + " + hex(in.k) + "]";
    } else if (c == (kLd | kW | kLen)) line = "ld #len";
    else if (c == (kLdx | kW | kLen)) line = "ldx #len";
    else if (c == (kLd | kImm)) line = "ld " + k;
    else if (c == (kLdx | kImm)) line = "ldx " + k;
    else if (c == (kLd | kMem)) line = "ld M[" + std::to_string(in.k) + "]";
    else if (c == (kLdx | kMem)) line = "ldx M[" + std::to_string(in.k) + "]";
    else if (c == kSt) line = "st M[" + std::to_string(in.k) + "]";
    else if (c == kStx) line = "stx M[" + std::to_string(in.k) + "]";
    else if (c == (kLdx | kB | kMsh)) line = "ldx 4*([" + hex(in.k) + "]&0xf)";
    else if (c == (kRet | kK)) line = "ret " + k;
    else if (c == (kRet | kA)) line = "ret a";
    else if (c == (kRet | kX)) line = "ret x";
    else if (c == (kMisc | kTax)) line = "tax";
    else if (c == (kMisc | kTxa)) line = "txa";
    else if (c == (kAlu | kNeg)) line = "neg";
    else if (c == (kJmp | kJa)) line = "jmp " + label(i + 1 + in.k);
    else {
      static const std::map<std::uint16_t, std::string_view> kNames = {
          {kAdd, "add"}, {kSub, "sub"}, {kMul, "mul"}, {kDiv, "div"}, {kMod, "mod"}, {kAnd, "and"},
          {kOr, "or"}, {kXor, "xor"}, {kLsh, "lsh"}, {kRsh, "rsh"}};
      static const std::map<std::uint16_t, std::string_view> kJmpNames = {
          {kJeq, "jeq"}, {kJgt, "jgt"}, {kJge, "jge"}, {kJset, "jset"}};
      const std::string operand = bpf_src(c) == kX ? "x" : k;
      if ((c & ~0xf8u) == kAlu && kNames.count(bpf_op(c)))
        line = std::string(kNames.at(bpf_op(c))) + " " + operand;
      else if ((c & ~0xf8u) == kJmp && kJmpNames.count(bpf_op(c)))
        line = std::string(kJmpNames.at(bpf_op(c))) + " " + operand + ", " + label(i + 1 + in.jt) +
               ", " + label(i + 1 + in.jf);
      else
        return err(i, "opcode " + hex(c) + " has no bpf_asm spelling");
    }
    out += (target[i] ? label(i) + ": " : std::string("\t")) + line + "\n";
  }
  return out;
}

}  // namespace bpfvm
