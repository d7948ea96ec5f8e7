#include "bpfvm/io.h"

#include <array>
#include <optional>

#include <nlohmann/json.hpp>

#include "bpfvm/asm/text.h"
#include "bpfvm/interpreter.h"

namespace bpfvm {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Field {
  std::string_view name;
  std::uint32_t Ancillaries::*member;
};
constexpr std::array<Field, 13> kFields = {{
    {"protocol", &Ancillaries::protocol}, {"pkttype", &Ancillaries::pkttype},
    {"ifindex", &Ancillaries::ifindex},   {"mark", &Ancillaries::mark},
    {"queue", &Ancillaries::queue},       {"hatype", &Ancillaries::hatype},
    {"rxhash", &Ancillaries::rxhash},     {"cpu", &Ancillaries::cpu},
    {"vlan_tag", &Ancillaries::vlan_tag}, {"vlan_tag_present", &Ancillaries::vlan_tag_present},
    {"vlan_tpid", &Ancillaries::vlan_tpid}, {"pay_offset", &Ancillaries::pay_offset},
    {"random", &Ancillaries::random},
}};

std::optional<std::vector<std::uint8_t>> optional_hex(const nlohmann::json& j, const char* key,
                                                      std::string& error) {
  if (!j.contains(key)) return std::nullopt;
  if (!j[key].is_string()) { error = std::string("\"") + key + "\" must be a hex string"; return std::nullopt; }
  auto bytes = parse_hex(j[key].get<std::string>());
  if (!bytes) { error = std::string("\"") + key + "\": " + bytes.error(); return std::nullopt; }
  return *bytes;
}

std::string error_json(const std::string& message) {
  return nlohmann::ordered_json{{"error", message}}.dump();
}

}  // namespace

Expected<std::vector<std::uint8_t>, std::string> parse_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    const int v = hex_value(c);
    if (v < 0) return unexpected(std::string("not a hex digit: '") + c + "'");
    if (high < 0) { high = v; continue; }
    out.push_back(static_cast<std::uint8_t>(high << 4 | v));
    high = -1;
  }
  if (high >= 0) return unexpected(std::string("odd number of hex digits"));
  return out;
}

Expected<Ancillaries, std::string> ancillaries_from_json(const nlohmann::json& j) {
  Ancillaries a;
  if (!j.is_object()) return unexpected(std::string("ctx must be an object"));
  for (const auto& [key, value] : j.items()) {
    const Field* f = nullptr;
    for (const Field& c : kFields) if (c.name == key) f = &c;
    if (!f) return unexpected("unknown ctx key \"" + key + "\"");
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0xffffffffu)
      return unexpected("ctx \"" + key + "\" must be an integer 0..2^32-1");
    a.*(f->member) = static_cast<std::uint32_t>(value.get<std::uint64_t>());
  }
  return a;
}

std::string batch_line(std::string_view line) {
  const auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return error_json("not valid JSON");
  if (!j.is_object()) return error_json("expected a JSON object");
  if (!j.contains("prog")) return error_json("missing \"prog\"");
  auto prog = parse_json(j["prog"].dump());
  if (!prog) return error_json("prog: " + prog.error().message);
  std::string error;
  std::vector<std::uint8_t> packet;
  if (j.contains("packet")) {
    auto p = optional_hex(j, "packet", error);
    if (!error.empty()) return error_json(error);
    packet = std::move(*p);
  }
  const auto net = optional_hex(j, "net", error);
  if (!error.empty()) return error_json(error);
  const auto ll = optional_hex(j, "ll", error);
  if (!error.empty()) return error_json(error);
  Context ctx;
  if (j.contains("ctx")) {
    auto anc = ancillaries_from_json(j["ctx"]);
    if (!anc) return error_json(anc.error());
    ctx.anc = *anc;
  }
  ctx.packet = packet;
  if (net) ctx.net = std::span<const std::uint8_t>(*net);
  if (ll) ctx.ll = std::span<const std::uint8_t>(*ll);
  auto valid = validate(std::move(*prog));
  if (!valid)
    return nlohmann::ordered_json{{"valid", false}, {"error", std::string(reason(valid.error().code))},
                          {"index", valid.error().insn_index}}.dump();
  return nlohmann::ordered_json{{"valid", true}, {"ret", run(*valid, ctx)}}.dump();
}

}  // namespace bpfvm
