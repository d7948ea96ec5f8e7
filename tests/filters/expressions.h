// The rule loader compiles `filter` expressions only through a compiler its user registers
// (filters/table.h); the tests register bpfvm's, as the `sockshim` command does.
#pragma once

#include "bpfvm/compile.h"
#include "filters/table.h"

namespace filters::test {

inline void register_expression_compiler() { set_expression_compiler(&bpfvm::compile_socket_match_to); }

}  // namespace filters::test
