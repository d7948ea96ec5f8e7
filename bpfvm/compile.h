// tcpdump expressions to classic BPF through libpcap's own compiler, and the relocation that
// lets a program written for raw IP packets run as a socket filter on a TCP or UDP socket,
// where offset 0 is the transport header and the IP header sits at SKF_NET_OFF.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bpfvm/expected.h"
#include "bpfvm/program.h"

namespace bpfvm {

enum class Linktype : std::uint8_t { kRaw, kEn10mb };  // DLT_RAW, DLT_EN10MB

struct CompileError {
  std::uint32_t insn_index;  // for relocation; 0 for libpcap's syntax errors
  std::string message;
};

// pcap_compile with optimisation on and an unknown netmask; accepted packets return `snaplen`.
Expected<Program, CompileError> compile(std::string_view expression, Linktype linktype,
                                        std::uint32_t snaplen = 262144);

// Moves every packet load of a DLT_RAW program to SKF_NET_OFF: ld/ldh/ldb [k], [x + k] and
// ldx 4*([k]&0xf). Refuses `len` loads (a socket filter's length starts at the transport
// header, so no rewrite keeps their meaning) and offsets beyond the SKF_NET_OFF window.
Expected<Program, CompileError> relocate_raw_to_socket(const Program& raw);

// A tcpdump expression as the match program of a socket filter on a TCP or UDP socket:
// compile() for raw IP packets, relocate_raw_to_socket(), then the kernel's acceptance rules
// (validate()). What a rule's `filter` becomes (docs/filters.md).
Expected<Program, CompileError> compile_socket_match(std::string_view expression);
// The same as a plain function, the shape filters::set_expression_compiler takes (the rule
// loader compiles `filter` through it): false with the reason in `error`.
bool compile_socket_match_to(std::string_view expression, Program& out, std::string& error);

}  // namespace bpfvm
