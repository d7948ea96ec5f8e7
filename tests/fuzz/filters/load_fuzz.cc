// libFuzzer target: arbitrary bytes as a rule file through load_table_text(). A LoadError is the
// loader's answer to a bad file; any other exception, a crash, a sanitizer report, a hang or
// memory beyond -rss_limit_mb is a bug. A file that loads is also described (`sockshim check`)
// and matched against a few sockets, as the shim would.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "filters/table.h"

namespace {

void match_some(const filters::Table& t) {
  filters::SocketFacts tcp;
  tcp.family = AF_INET;
  tcp.type = SOCK_STREAM;
  tcp.protocol = IPPROTO_TCP;
  tcp.service_port = tcp.peer_port = 6379;
  tcp.local_port = 40000;
  tcp.role = filters::Role::kClient;
  tcp.path = "/run/app.sock";
  tcp.host = "db.internal";
  filters::SocketFacts unknown;
  for (std::size_t i = 0; i < filters::kCallTypeCount; ++i) {
    const auto type = static_cast<filters::CallType>(i);
    for (const filters::SocketFacts* f : {&tcp, &unknown}) {
      for (int at = t.first_match(type, *f); at >= 0; at = t.first_match(type, *f, at)) {
        (void)t.rules()[static_cast<std::size_t>(at)].when.selects(filters::Hit{}, t.seed(),
                                                                   static_cast<std::uint32_t>(at));
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    filters::Table t = filters::load_table_text(text, "fuzz.json");
    (void)filters::describe(t);
    match_some(t);
    t.select_program("redis-server");
    match_some(t);
  } catch (const filters::LoadError&) {
  }
  return 0;
}
