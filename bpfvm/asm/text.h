// Text forms of a classic BPF program, in and out:
//   listing  tcpdump -d (libpcap's bpf_image, byte for byte)   (000) ldh      [12]
//   dd       tcpdump -dd C array                               { 0x28, 0, 0, 0x0000000c },
//   numbers  tcpdump -ddd / golden files: "code jt jf k" a line (a leading count line is allowed)
//   json     [[code, jt, jf, k], ...]
//   asm      the kernel's tools/bpf/bpf_asm syntax, labels included
// dd, numbers and json keep every bit. listing and asm print only the fields an opcode uses, so
// they round-trip every program whose unused fields are zero (what compilers emit).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bpfvm/expected.h"
#include "bpfvm/program.h"

namespace bpfvm {

// Text tools run outside any hot path, so their errors carry a message for people.
struct TextError {
  std::uint32_t line;  // 1-based line of the input (of the program, for printers)
  std::string message;
};

enum class TextForm : std::uint8_t { kListing, kDd, kNumbers, kJson, kAsm };

std::string format_listing(const Program& p);
std::string format_dd(const Program& p);
std::string format_numbers(const Program& p);
std::string format_json(const Program& p);
// Fails for opcodes bpf_asm cannot spell and for jumps that leave the program.
Expected<std::string, TextError> format_asm(const Program& p);

Expected<Program, TextError> parse_listing(std::string_view text);
Expected<Program, TextError> parse_dd(std::string_view text);
Expected<Program, TextError> parse_numbers(std::string_view text);
Expected<Program, TextError> parse_json(std::string_view text);
Expected<Program, TextError> parse_asm(std::string_view text);

// Guesses the form from the first meaningful characters; see the .cc for the order.
TextForm detect_form(std::string_view text);
Expected<Program, TextError> parse_any(std::string_view text);

std::string_view form_name(TextForm f);

}  // namespace bpfvm
