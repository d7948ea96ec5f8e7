// Name tables: errno and EAI names from this platform's headers, call types, and the
// "did you mean" helper that every misspelling message relies on.
#include "filters/names.h"

#include <netdb.h>

#include <cerrno>
#include <set>
#include <string>

#include "filters/call_type.h"
#include "filters/errno_names.h"
#include "tests/catch.h"

namespace filters {
namespace {

std::string or_null(const char* s) { return s != nullptr ? s : "(null)"; }

TEST_CASE("errno names map to this platform's numbers", "[filters]") {
  CHECK(errno_from_name("EPERM") == EPERM);
  CHECK(errno_from_name("ECONNREFUSED") == ECONNREFUSED);
  CHECK(errno_from_name("EHWPOISON") == EHWPOISON);
  CHECK(errno_from_name("EWOULDBLOCK") == EAGAIN);
  CHECK(errno_from_name("EDEADLOCK") == EDEADLK);
  CHECK(errno_from_name("ENOTSUP") == EOPNOTSUPP);
  CHECK_FALSE(errno_from_name("econnrefused"));
  CHECK_FALSE(errno_from_name("EAI_AGAIN"));
  CHECK_FALSE(errno_from_name(""));
}

TEST_CASE("errno_name gives the canonical spelling, not an alias", "[filters]") {
  CHECK(or_null(errno_name(EAGAIN)) == "EAGAIN");
  CHECK(or_null(errno_name(EDEADLK)) == "EDEADLK");
  CHECK(or_null(errno_name(EOPNOTSUPP)) == "EOPNOTSUPP");
  CHECK(or_null(errno_name(ECONNRESET)) == "ECONNRESET");
  CHECK(errno_name(0) == nullptr);
  CHECK(errno_name(100000) == nullptr);
}

TEST_CASE("the errno table is complete and consistent", "[filters]") {
  // Linux numbers its errnos 1..133 without gaps except 41 and 58 (where the aliases sit).
  std::set<int> values;
  for (const NamedValue& e : errno_table()) {
    INFO(e.name);
    CHECK(errno_from_name(e.name) == e.value);
    CHECK(errno_from_name(errno_name(e.value)) == e.value);
    values.insert(e.value);
  }
  for (int err = 1; err <= EHWPOISON; ++err) {
    INFO("errno " << err);
    if (err == 41 || err == 58) continue;
    CHECK(values.count(err) == 1);
  }
  CHECK(errno_table().size() == 131u + 3u);
}

TEST_CASE("EAI names", "[filters]") {
  CHECK(eai_from_name("EAI_NONAME") == EAI_NONAME);
  CHECK(eai_from_name("EAI_AGAIN") == EAI_AGAIN);
  CHECK(eai_from_name("EAI_ADDRFAMILY") == EAI_ADDRFAMILY);
  CHECK(eai_from_name("EAI_NODATA") == EAI_NODATA);
  CHECK_FALSE(eai_from_name("ECONNREFUSED"));
  CHECK(or_null(eai_name(EAI_SYSTEM)) == "EAI_SYSTEM");
  CHECK(eai_name(0) == nullptr);
  CHECK(eai_table().size() == 12u);
}

TEST_CASE("call type names round-trip", "[filters]") {
  for (std::size_t i = 0; i < kCallTypeCount; ++i) {
    const auto t = static_cast<CallType>(i);
    INFO(call_type_name(t));
    CHECK(parse_call_type(call_type_name(t)) == t);
  }
  CHECK(std::string(call_type_name(CallType::kGetaddrinfo)) == "getaddrinfo");
  CHECK_FALSE(parse_call_type("Connect"));
  CHECK_FALSE(parse_call_type("sendto"));
}

TEST_CASE("edit distance counts a swap of neighbours as one edit and ignores case", "[filters]") {
  CHECK(edit_distance("", "") == 0u);
  CHECK(edit_distance("abc", "") == 3u);
  CHECK(edit_distance("connect", "conect") == 1u);
  CHECK(edit_distance("ECONNREFSUED", "ECONNREFUSED") == 1u);
  CHECK(edit_distance("tcp", "TCP") == 0u);
  CHECK(edit_distance("kitten", "sitting") == 3u);
}

TEST_CASE("suggestions", "[filters]") {
  CHECK(or_null(suggest_errno_name("ECONREFUSED", false)) == "ECONNREFUSED");
  CHECK(or_null(suggest_errno_name("econnreset", false)) == "ECONNRESET");
  CHECK(or_null(suggest_errno_name("ETIMEOUT", false)) == "ETIMEDOUT");
  CHECK(or_null(suggest_errno_name("EAI_NONAM", true)) == "EAI_NONAME");
  CHECK(suggest_errno_name("EAI_NONAM", false) == nullptr);
  CHECK(suggest_errno_name("SOMETHING", true) == nullptr);

  constexpr const char* kKeys[] = {"family", "type", "protocol", "port"};
  CHECK(or_null(closest_name("famly", kKeys)) == "family");
  CHECK(closest_name("x", kKeys) == nullptr);  // too short to guess
  CHECK(closest_name("address", kKeys) == nullptr);
  CHECK(did_you_mean("tcp") == " (did you mean tcp?)");
  CHECK(did_you_mean(nullptr).empty());
  CHECK(join_names(kKeys) == "family, type, protocol, port");
}

}  // namespace
}  // namespace filters
