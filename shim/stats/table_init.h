// A SegmentInit for a rule table: the rule names and start-disabled flags the segment's rule
// slots get, and the text and seed that make the table's identity. Owns what the init points
// to (the table's image excepted: keep the table), so it must outlive the create_segment call. For `sockshim run` and the preload object,
// which both create segments; not for wrapped calls (it allocates).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "filters/table.h"
#include "shim/stats/segment.h"

namespace shim::stats {

class TableInit {
 public:
  // table may be null (no rules); text is the rule file as read, file its name for the report.
  TableInit(const filters::Table* table, std::string_view text, const char* file, std::uint64_t seed)
      : disabled_(new bool[table ? table->rules().size() + 1 : 1]()) {
    for (std::size_t i = 0; table && i < table->rules().size(); ++i) {
      disabled_[i] = !table->rules()[i].enabled;
      names_.push_back(table->rules()[i].name.c_str());
    }
    init_.seed = seed;
    init_.rules_file = file ? file : "";
    init_.rule_count = static_cast<std::uint32_t>(names_.size());
    init_.rule_names = names_.data();
    init_.rule_disabled = disabled_.get();
    init_.rules_text = text.data();
    init_.rules_text_len = text.size();
    if (table) {
      init_.compiled = table->image().data();
      init_.compiled_len = table->image().size();
    }
  }
  SegmentInit& init() noexcept { return init_; }

 private:
  std::vector<const char*> names_;
  std::unique_ptr<bool[]> disabled_;
  SegmentInit init_;
};

}  // namespace shim::stats
