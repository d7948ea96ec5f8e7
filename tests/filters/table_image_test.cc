// The compiled table image (filters/table_image.h): a Table viewed from a copy of another's image
// answers exactly as the original, and both answer as a plain scan of the rules in file order
// would; damaged images are refused with a reason, and bytes changed under a view never make it
// read outside the image.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

// An aligned private copy of an image, as the stats segment holds it.
struct Copy {
  explicit Copy(std::span<const std::byte> image) : bytes(new std::uint64_t[image.size() / 8 + 1]()), size(image.size()) {
    std::memcpy(bytes.get(), image.data(), image.size());
  }
  std::byte* data() { return reinterpret_cast<std::byte*>(bytes.get()); }
  image::Header& header() { return *reinterpret_cast<image::Header*>(bytes.get()); }
  image::TypeIndex& type(CallType t) {
    return reinterpret_cast<image::TypeIndex*>(data() + header().types)[static_cast<int>(t)];
  }
  std::unique_ptr<std::uint64_t[]> bytes;
  std::size_t size;
};

// The answer first_match must give: the first rule after `after`, in file order, on t, not left
// out by argv0, whose match accepts f.
int scan(const std::vector<Rule>& rules, CallType t, const SocketFacts& f, int after, const char* argv0) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (static_cast<int>(i) <= after || !r.on_call(t)) continue;
    if (argv0 && r.match.argv0 && !glob_match(*r.match.argv0, argv0)) continue;
    if (r.match.matches(f)) return static_cast<int>(i);
  }
  return -1;
}

constexpr int kFamilies[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, 60, -1};
constexpr int kTypes[] = {SOCK_STREAM, SOCK_DGRAM, -1};
constexpr int kPorts[] = {53, 80, 443, 6379, 20000, 20001, 65535, 0, -1};

// "r<i>", appended rather than `"r" + std::to_string(i)`: GCC 12 at -O3 reports a false
// -Wrestrict overlap in the latter (char_traits.h), which fails a release -Werror build.
std::string rule_name(std::size_t i) {
  std::string s = "r";
  s += std::to_string(i);
  return s;
}

std::vector<Rule> random_rules(std::mt19937& rng, std::size_t n) {
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };
  std::vector<Rule> rules;
  for (std::size_t i = 0; i < n; ++i) {
    Rule r;
    r.name = rule_name(i);
    r.on = static_cast<std::uint32_t>(rng()) & ((1u << kCallTypeCount) - 1);
    if (rng() % 3 == 0) r.match.family = pick(kFamilies) < 0 ? AF_INET : pick(kFamilies);
    if (rng() % 4 == 0) r.match.type = SOCK_STREAM;
    if (rng() % 2 == 0) {
      const int p = pick(kPorts) < 0 ? 80 : pick(kPorts);
      r.match.port = rng() % 3 == 0 ? PortRange{static_cast<std::uint16_t>(p), 65535}
                                    : PortRange{static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(p)};
    }
    if (rng() % 8 == 0) r.match.argv0 = rng() % 2 ? "cur*" : "python?";
    if (rng() % 8 == 0) r.match.host = "*.example";
    rules.push_back(r);
  }
  return rules;
}

SocketFacts random_facts(std::mt19937& rng) {
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };
  SocketFacts f;
  f.family = pick(kFamilies);
  f.type = pick(kTypes);
  f.service_port = pick(kPorts);
  f.host = rng() % 2 ? "db.example" : nullptr;
  return f;
}

TEST_CASE("a viewed image answers as the table it came from, and as a scan", "[filters][image]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 60; ++round) {
    const std::vector<Rule> rules = random_rules(rng, 1 + rng() % 40);
    Table owned(42, rules);
    Copy copy(owned.image());
    const char* why = "";
    std::optional<Table> view = Table::view(copy.data(), copy.size, &why);
    REQUIRE(view);
    CHECK(view->seed() == 42u);
    REQUIRE(view->rules().size() == rules.size());
    const char* argv0 = round % 3 == 0 ? nullptr : (round % 3 == 1 ? "curl" : "python3");
    if (argv0) {
      owned.select_program(argv0);
      view->select_program(argv0);
    }
    for (int k = 0; k < 200; ++k) {
      const SocketFacts f = random_facts(rng);
      const auto t = static_cast<CallType>(rng() % kCallTypeCount);
      const int after = static_cast<int>(rng() % 4) - 1;
      const int want = scan(rules, t, f, after, argv0);
      INFO("round " << round << " call type " << call_type_name(t) << " family " << f.family << " port " << f.service_port);
      CHECK(owned.first_match(t, f, after) == want);
      CHECK(view->first_match(t, f, after) == want);
      if (want >= 0) CHECK(view->may_match(t, f.family, f.service_port));
      CHECK(view->has_rules_for(t) == owned.has_rules_for(t));
      CHECK(view->needs(t) == owned.needs(t));
    }
  }
}

TEST_CASE("an image is refused when it is not one of this build's", "[filters][image]") {
  Table owned(1, random_rules(*std::make_unique<std::mt19937>(3), 20));
  const char* why = "";
  SECTION("too short") {
    Copy c(owned.image());
    CHECK_FALSE(Table::view(c.data(), 16, &why));
    CHECK(std::string_view(why) == "shorter than a table header");
  }
  SECTION("not a table") {
    Copy c(owned.image());
    c.header().magic[0] = 'x';
    CHECK_FALSE(Table::view(c.data(), c.size, &why));
    CHECK(std::string_view(why) == "not a compiled rule table");
  }
  SECTION("another layout") {
    Copy c(owned.image());
    c.header().rule_size += 8;
    CHECK_FALSE(Table::view(c.data(), c.size, &why));
    CHECK(std::string_view(why) == "compiled by another build of sockshim");
  }
  SECTION("cut short") {
    Copy c(owned.image());
    CHECK_FALSE(Table::view(c.data(), c.size - 1, &why));
    CHECK(std::string_view(why) == "size out of range");
  }
  SECTION("rules past the end") {
    Copy c(owned.image());
    c.header().rule_count = kMaxRules;
    CHECK_FALSE(Table::view(c.data(), c.size, &why));
    CHECK(std::string_view(why) == "rules out of range");
  }
  SECTION("more rules than a table holds") {
    Copy c(owned.image());
    c.header().rule_count = kMaxRules + 1;
    CHECK_FALSE(Table::view(c.data(), c.size, &why));
    CHECK(std::string_view(why) == "too many rules");
  }
  SECTION("the call-type index past the end") {
    Copy c(owned.image());
    c.header().types = static_cast<std::uint32_t>(c.size - 8);
    CHECK_FALSE(Table::view(c.data(), c.size, &why));
    CHECK(std::string_view(why) == "index out of range");
  }
  SECTION("misaligned") {
    std::vector<std::uint64_t> buf(owned.image().size() / 8 + 2);
    auto* odd = reinterpret_cast<std::byte*>(buf.data()) + 4;
    std::memcpy(odd, owned.image().data(), owned.image().size());
    CHECK_FALSE(Table::view(odd, owned.image().size(), &why));
    CHECK(std::string_view(why) == "not aligned");
  }
  SECTION("this build's image is taken") {
    Copy c(owned.image());
    CHECK(Table::view(c.data(), c.size, &why));
  }
}

TEST_CASE("bytes changed under a view change answers, never reads outside the image", "[filters][image]") {
  std::vector<Rule> rules(3);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    rules[i].name = rule_name(i);
    rules[i].on = 1u << static_cast<unsigned>(CallType::kConnect);
  }
  Table owned(0, rules);
  Copy c(owned.image());
  std::optional<Table> view = Table::view(c.data(), c.size);
  REQUIRE(view);
  SocketFacts f;
  f.family = AF_INET;
  f.service_port = 80;
  CHECK(view->first_match(CallType::kConnect, f) == 0);
  image::TypeIndex& ti = c.type(CallType::kConnect);
  // The header was copied when viewed: a later change of its counts is not seen.
  c.header().rule_count = 60000;
  c.header().pool_count = 1u << 30;
  CHECK(view->first_match(CallType::kConnect, f) == 0);
  // A list that reaches past the pool is no list.
  const image::List saved = ti.portless_by_family[AF_INET];
  ti.portless_by_family[AF_INET].count = 1u << 30;
  CHECK(view->first_match(CallType::kConnect, f) == -1);
  ti.portless_by_family[AF_INET].first = 1u << 31;
  ti.portless_by_family[AF_INET].count = 1;
  CHECK(view->first_match(CallType::kConnect, f) == -1);
  ti.portless_by_family[AF_INET] = saved;
  CHECK(view->first_match(CallType::kConnect, f) == 0);
  // A port bitmap said to lie past the end is not read (port rules then cannot match).
  ti.ports = static_cast<std::uint32_t>(c.size - 8);
  CHECK(view->first_match(CallType::kConnect, f) == 0);
  // A pool entry naming a rule that is not there is skipped.
  auto* pool = reinterpret_cast<std::uint16_t*>(c.data() + c.header().pool);
  for (std::uint32_t i = 0; i < 3; ++i) pool[i] = 65000;
  CHECK(view->first_match(CallType::kConnect, f) == -1);
}

TEST_CASE("lists with the same rules share the pool", "[filters][image]") {
  // 100 port rules without a family key: every family slot holds the same list.
  std::vector<Rule> rules(100);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    rules[i].name = "port-" + std::to_string(i);
    rules[i].on = (1u << static_cast<unsigned>(CallType::kConnect)) | (1u << static_cast<unsigned>(CallType::kSend));
    rules[i].match.port = PortRange{static_cast<std::uint16_t>(20000 + i), static_cast<std::uint16_t>(20000 + i)};
  }
  Table t(0, rules);
  const auto& h = *reinterpret_cast<const image::Header*>(t.image().data());
  CHECK(h.pool_count == 100u);   // one list, shared by both call types and every family slot
  CHECK(t.image().size() < 100 * sizeof(Rule) + 2 * 8192 + sizeof(image::Header) +
                               kCallTypeCount * sizeof(image::TypeIndex) + 512);
}

TEST_CASE("the largest table fits the bound the stats segment reserves", "[filters][image]") {
  // Every rule on every call type with its own family and port: no two lists alike.
  std::vector<Rule> rules(kMaxRules);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    rules[i].name = rule_name(i);
    rules[i].on = (1u << kCallTypeCount) - 1;
    rules[i].match.family = static_cast<int>(i % image::kFamilySlots);
    if (i % 2) rules[i].match.port = PortRange{static_cast<std::uint16_t>(i), static_cast<std::uint16_t>(i)};
  }
  Table t(0, rules);
  CHECK(t.image().size() <= Table::max_image_size(kMaxRules));
}

}  // namespace
}  // namespace filters
