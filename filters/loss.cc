// The socket filter an inbound_loss rule attaches (bpfvm/loss_filter.h): built per socket by the
// preload object, into the caller's buffer.
#include <algorithm>
#include <span>

#include "bpfvm/loss_filter.h"
#include "filters/table.h"

namespace filters {

std::size_t loss_program(const Action& a, std::span<bpfvm::Instruction> out) noexcept {
  if (a.filter_len > 0) {
    const std::size_t n = std::min<std::size_t>(a.filter_len, a.filter.size());
    return bpfvm::compose_loss_filter(std::span(a.filter).first(n), a.loss_threshold, out);
  }
  if (out.size() < bpfvm::kLossFilterSize) return 0;
  const bpfvm::LossFilter f = bpfvm::build_loss_filter(a.loss_threshold);
  std::copy(f.begin(), f.end(), out.begin());
  return f.size();
}

}  // namespace filters
