#include "bpfvm/compile.h"

#include <pcap/pcap.h>

#include "bpfvm/validator.h"

namespace bpfvm {
namespace {

// Offsets from SKF_NET_OFF up to SKF_AD_OFF (exclusive) address the network header.
constexpr std::uint32_t kNetWindow = static_cast<std::uint32_t>(kSkfAdOff - kSkfNetOff);

}  // namespace

Expected<Program, CompileError> compile(std::string_view expression, Linktype linktype,
                                        std::uint32_t snaplen) {
  const int dlt = linktype == Linktype::kRaw ? DLT_RAW : DLT_EN10MB;
  pcap_t* handle = pcap_open_dead(dlt, static_cast<int>(snaplen));
  if (handle == nullptr) return unexpected(CompileError{0, "pcap_open_dead failed"});
  const std::string expr(expression);
  bpf_program bp{};
  if (pcap_compile(handle, &bp, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    CompileError e{0, pcap_geterr(handle)};
    pcap_close(handle);
    return unexpected(std::move(e));
  }
  Program p;
  for (unsigned i = 0; i < bp.bf_len; ++i)
    p.push_back({bp.bf_insns[i].code, bp.bf_insns[i].jt, bp.bf_insns[i].jf, bp.bf_insns[i].k});
  pcap_freecode(&bp);
  pcap_close(handle);
  return p;
}

Expected<Program, CompileError> relocate_raw_to_socket(const Program& raw) {
  Program out = raw;
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    Instruction& in = out[i];
    const std::uint16_t c = in.code;
    const bool packet_load = (bpf_class(c) == kLd && (bpf_mode(c) == kAbs || bpf_mode(c) == kInd)) ||
                             c == (kLdx | kB | kMsh);
    if (c == (kLd | kW | kLen) || c == (kLdx | kW | kLen))
      return unexpected(CompileError{i, "a length load cannot be relocated to a socket filter"});
    if (!packet_load) continue;
    if (in.k >= kNetWindow)
      return unexpected(CompileError{i, "offset " + std::to_string(in.k) + " is beyond the SKF_NET_OFF window"});
    in.k += static_cast<std::uint32_t>(kSkfNetOff);
  }
  return out;
}

Expected<Program, CompileError> compile_socket_match(std::string_view expression) {
  auto raw = compile(expression, Linktype::kRaw);
  if (!raw) return unexpected(std::move(raw.error()));
  auto moved = relocate_raw_to_socket(*raw);
  if (!moved) return unexpected(std::move(moved.error()));
  if (auto valid = validate(*moved); !valid) {
    return unexpected(CompileError{valid.error().insn_index, std::string(reason(valid.error().code))});
  }
  return moved;
}

bool compile_socket_match_to(std::string_view expression, Program& out, std::string& error) {
  auto match = compile_socket_match(expression);
  if (!match) {
    error = match.error().message;
    return false;
  }
  out = std::move(*match);
  return true;
}

}  // namespace bpfvm
