#include "golden.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bpfvm/asm/text.h"
#include "bpfvm/io.h"

namespace bpfvm::testing {

Context GoldenCase::context() const {
  Context c;
  c.packet = packet;
  if (net) c.net = std::span<const std::uint8_t>(*net);
  if (ll) c.ll = std::span<const std::uint8_t>(*ll);
  c.anc = anc;
  return c;
}

GoldenCase load_golden(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  GoldenCase g;
  g.name = file.stem().string();
  std::string section, line, prog_text, hex;
  int lineno = 0;
  auto fail = [&](const std::string& m) {
    throw std::runtime_error(file.string() + ":" + std::to_string(lineno) + ": " + m);
  };
  auto bytes = [&](const std::string& text) {
    auto b = parse_hex(text);
    if (!b) fail(b.error());
    return *b;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("#", 0) == 0) continue;
    if (line.rfind("-- ", 0) == 0) {
      section = line.substr(3);
      if (section.rfind("reject ", 0) == 0) {
        const std::string rest = section.substr(7);
        const auto at = rest.rfind(" @ ");
        if (at == std::string::npos) fail("reject needs \"<reason> @ <index>\"");
        g.reject_reason = rest.substr(0, at);
        g.reject_index = static_cast<std::uint32_t>(std::stoul(rest.substr(at + 3)));
        section = "reject";
      }
      if (section == "packet") g.packet.clear();
      continue;
    }
    if (section == "prog") prog_text += line + "\n";
    else if (section == "packet") { auto b = bytes(line); g.packet.insert(g.packet.end(), b.begin(), b.end()); }
    else if (section == "net") g.net = bytes(line);
    else if (section == "ll") g.ll = bytes(line);
    else if (section == "ctx") {
      auto a = ancillaries_from_json(nlohmann::json::parse(line));
      if (!a) fail(a.error());
      g.anc = *a;
      g.has_ctx = true;
    } else if (section == "expect") {
      if (!line.empty()) g.expect = static_cast<std::uint32_t>(std::stoul(line));
    } else if (!line.empty()) {
      fail("text outside a section");
    }
  }
  auto p = parse_numbers(prog_text);
  if (!p) fail("prog line " + std::to_string(p.error().line) + ": " + p.error().message);
  g.prog = *p;
  if (g.expect.has_value() == g.reject_reason.has_value()) fail("need exactly one of expect/reject");
  return g;
}

std::vector<GoldenCase> load_all_golden() {
  std::vector<GoldenCase> out;
  for (const auto& e : std::filesystem::directory_iterator(BPFVM_GOLDEN_DIR))
    if (e.path().extension() == ".txt") out.push_back(load_golden(e.path()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace bpfvm::testing
