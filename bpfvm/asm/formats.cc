// The numeric forms (-dd, -ddd/golden numbers, JSON) and form detection.
#include <cctype>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "bpfvm/asm/text.h"
#include "bpfvm/asm/text_util.h"

namespace bpfvm {
namespace {

using text::trim;

Expected<Instruction, std::string> from_numbers(const std::uint32_t (&v)[4]) {
  if (v[0] > 0xffff) return unexpected(std::string("code does not fit in 16 bits"));
  if (v[1] > 0xff || v[2] > 0xff) return unexpected(std::string("jt/jf do not fit in 8 bits"));
  return Instruction{static_cast<std::uint16_t>(v[0]), static_cast<std::uint8_t>(v[1]),
                     static_cast<std::uint8_t>(v[2]), v[3]};
}

// Splits on any of `seps`, dropping empty pieces.
std::vector<std::string_view> fields(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = s.find_first_not_of(seps, i);
    if (b == std::string_view::npos) break;
    const auto e = s.find_first_of(seps, b);
    out.push_back(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    i = e == std::string_view::npos ? s.size() : e;
  }
  return out;
}

Expected<Instruction, std::string> four(const std::vector<std::string_view>& f) {
  if (f.size() != 4) return unexpected("expected 4 numbers (code jt jf k), got " + std::to_string(f.size()));
  std::uint32_t v[4];
  for (int i = 0; i < 4; ++i) {
    auto n = text::parse_unsigned(f[static_cast<std::size_t>(i)]);
    if (!n) return unexpected(text::concat("\"", f[static_cast<std::size_t>(i)], "\" is not a number"));
    v[i] = *n;
  }
  return from_numbers(v);
}

bool all_numeric(std::string_view line) {
  for (char c : line)
    if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == 'x' || c == ' ' || c == '\t' || c == '\r'))
      return false;
  return true;
}

}  // namespace

std::string format_dd(const Program& p) {
  std::string out;
  for (const Instruction& in : p) {
    char line[64];
    std::snprintf(line, sizeof line, "{ 0x%x, %u, %u, 0x%08x },\n", in.code, in.jt, in.jf, in.k);
    out += line;
  }
  return out;
}

std::string format_numbers(const Program& p) {
  std::string out;
  for (const Instruction& in : p)
    out += std::to_string(in.code) + " " + std::to_string(in.jt) + " " + std::to_string(in.jf) + " " +
           std::to_string(in.k) + "\n";
  return out;
}

std::string format_json(const Program& p) {
  std::string out = "[";
  for (std::size_t i = 0; i < p.size(); ++i)
    out += (i ? ", [" : "[") + std::to_string(p[i].code) + ", " + std::to_string(p[i].jt) + ", " +
           std::to_string(p[i].jf) + ", " + std::to_string(p[i].k) + "]";
  return out + "]";
}

Expected<Program, TextError> parse_dd(std::string_view src) {
  Program p;
  const auto lines = text::split_lines(src);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    std::string_view s = lines[li];
    // Every innermost "{ ... }" is one instruction; wrappers such as "struct sock_filter f[] = {"
    // hold a '{' with no '}' on the same line and are skipped.
    for (auto open = s.find('{'); open != std::string_view::npos; open = s.find('{', open + 1)) {
      const auto close = s.find('}', open);
      if (close == std::string_view::npos) {
        if (!trim(s.substr(open + 1)).empty())
          return unexpected(TextError{static_cast<std::uint32_t>(li + 1), "'{' without '}' on the same line"});
        break;
      }
      const auto body = s.substr(open + 1, close - open - 1);
      if (body.find('{') != std::string_view::npos) continue;
      auto in = four(fields(body, ", \t"));
      if (!in) return unexpected(TextError{static_cast<std::uint32_t>(li + 1), in.error()});
      p.push_back(*in);
    }
  }
  return p;
}

Expected<Program, TextError> parse_numbers(std::string_view src) {
  Program p;
  auto lines = text::split_lines(src);
  // bpf_asm's default output: "count,code jt jf k,code jt jf k,..." on one line.
  std::vector<std::pair<std::uint32_t, std::string_view>> rows;
  for (std::size_t li = 0; li < lines.size(); ++li)
    for (std::string_view piece : fields(lines[li], ","))
      if (!trim(piece).empty()) rows.emplace_back(static_cast<std::uint32_t>(li + 1), trim(piece));
  std::size_t first = 0;
  std::optional<std::uint32_t> count;
  if (!rows.empty() && fields(rows[0].second, " \t").size() == 1) {  // tcpdump -ddd's count line
    count = text::parse_unsigned(rows[0].second);
    if (!count) return unexpected(TextError{rows[0].first, text::concat("\"", rows[0].second, "\" is not a count")});
    first = 1;
  }
  for (std::size_t i = first; i < rows.size(); ++i) {
    auto in = four(fields(rows[i].second, " \t"));
    if (!in) return unexpected(TextError{rows[i].first, in.error()});
    p.push_back(*in);
  }
  if (count && *count != p.size())
    return unexpected(TextError{rows[0].first, "count " + std::to_string(*count) + " but " +
                                                   std::to_string(p.size()) + " instructions"});
  return p;
}

Expected<Program, TextError> parse_json(std::string_view src) {
  const auto j = nlohmann::json::parse(src.begin(), src.end(), nullptr, false);
  if (j.is_discarded()) return unexpected(TextError{1, "not valid JSON"});
  if (!j.is_array()) return unexpected(TextError{1, "expected an array of [code, jt, jf, k]"});
  Program p;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& row = j[i];
    auto bad = [&](const std::string& m) {
      return unexpected(TextError{1, "instruction " + std::to_string(i) + ": " + m});
    };
    if (!row.is_array() || row.size() != 4) return bad("expected [code, jt, jf, k]");
    std::uint32_t v[4];
    for (std::size_t f = 0; f < 4; ++f) {
      if (!row[f].is_number_unsigned() || row[f].get<std::uint64_t>() > 0xffffffffu)
        return bad("fields must be integers 0..2^32-1");
      v[f] = static_cast<std::uint32_t>(row[f].get<std::uint64_t>());
    }
    auto in = from_numbers(v);
    if (!in) return bad(in.error());
    p.push_back(*in);
  }
  return p;
}

// Order: '[' JSON; any '{' the -dd array; "(NNN)" the listing; lines of bare numbers (golden,
// -ddd, bpf_asm's comma output); anything else is bpf_asm source.
TextForm detect_form(std::string_view src) {
  const std::string_view t = trim(src);
  if (!t.empty() && t[0] == '[') return TextForm::kJson;
  if (t.find('{') != std::string_view::npos) return TextForm::kDd;
  if (!t.empty() && t[0] == '(') return TextForm::kListing;
  bool numeric = !t.empty();
  for (std::string_view line : text::split_lines(t)) {
    std::string cleaned(line);
    for (char& c : cleaned) if (c == ',') c = ' ';
    if (!all_numeric(cleaned)) { numeric = false; break; }
  }
  return numeric ? TextForm::kNumbers : TextForm::kAsm;
}

Expected<Program, TextError> parse_any(std::string_view src) {
  switch (detect_form(src)) {
    case TextForm::kJson: return parse_json(src);
    case TextForm::kDd: return parse_dd(src);
    case TextForm::kListing: return parse_listing(src);
    case TextForm::kNumbers: return parse_numbers(src);
    case TextForm::kAsm: return parse_asm(src);
  }
  return parse_asm(src);
}

std::string_view form_name(TextForm f) {
  switch (f) {
    case TextForm::kListing: return "listing";
    case TextForm::kDd: return "dd";
    case TextForm::kNumbers: return "numbers";
    case TextForm::kJson: return "json";
    case TextForm::kAsm: return "asm";
  }
  return "asm";
}

}  // namespace bpfvm
