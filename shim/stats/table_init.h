// A SegmentInit for a rule table: the rule names and start-disabled flags the segment's rule
// slots get, and the text and seed that make the table's identity. Points into the table, text
// and file it was given, so those must outlive the create_segment call. For `sockshim run` and
// the preload object's constructor, which both create segments; not for wrapped calls (about
// 9 KiB of arrays: a constructor's stack holds it, a signal handler's might not).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "filters/table.h"
#include "shim/stats/segment.h"

namespace shim::stats {

class TableInit {
 public:
  // table may be null (no rules); text is the rule file as read, file its name for the report.
  TableInit(const filters::Table* table, std::string_view text, const char* file, std::uint64_t seed) noexcept {
    static_assert(filters::kMaxRules <= kMaxRules);
    std::uint32_t n = 0;
    for (std::size_t i = 0; table && i < table->rules().size() && i < filters::kMaxRules; ++i, ++n) {
      disabled_[i] = !table->rules()[i].enabled;
      names_[i] = table->rules()[i].name.c_str();
    }
    init_.seed = seed;
    init_.rules_file = file ? file : "";
    init_.rule_count = n;
    init_.rule_names = names_.data();
    init_.rule_disabled = disabled_.data();
    init_.rules_text = text.data();
    init_.rules_text_len = text.size();
    if (table) {
      init_.compiled = table->image().data();
      init_.compiled_len = table->image().size();
    }
  }
  SegmentInit& init() noexcept { return init_; }

 private:
  std::array<const char*, filters::kMaxRules> names_{};
  std::array<bool, filters::kMaxRules> disabled_{};
  SegmentInit init_;
};

}  // namespace shim::stats
