// describe(): what `sockshim check` prints, in the rule file's own words.
#include <catch2/catch.hpp>

#include <string>

#include "filters/table.h"

namespace filters {
namespace {

TEST_CASE("describe lists the seed and one line per rule", "[filters]") {
  const Table t = load_table_text(R"({"seed": 7,
 "rules": [
   {"name": "refuse-redis", "on": ["connect"],
    "match": {"family": "inet", "type": "stream", "protocol": "tcp", "port": 6379},
    "when": {"nth": 2, "times": 1},
    "do": {"fail": "ECONNREFUSED"}},
   {"name": "dns", "on": "getaddrinfo", "do": {"fail": "EAI_NONAME"}},
   {"name": "dns-errno", "on": "getaddrinfo", "do": {"fail": "ETIMEDOUT"}},
   {"name": "io", "on": ["recv", "send"], "match": {"family": 99, "port": "1024-65535"},
    "when": {"times": 3}, "do": {"fail": "EWOULDBLOCK"}}]})",
                                  "r.json");
  CHECK(describe(t) ==
        "seed 7, 4 rules\n"
        "refuse-redis  on connect  match family=inet type=stream protocol=tcp port=6379"
        "  when nth=2 times=1  do fail ECONNREFUSED\n"
        "dns  on getaddrinfo  do fail EAI_NONAME\n"
        "dns-errno  on getaddrinfo  do fail ETIMEDOUT\n"
        "io  on send,recv  match family=99 port=1024-65535  when times=3  do fail EAGAIN\n");
}

TEST_CASE("describe counts one rule and no rules in words", "[filters]") {
  CHECK(describe(load_table_text(R"({"rules": []})", "r.json")) == "seed 0, 0 rules\n");
  CHECK(describe(load_table_text(
            R"({"seed": 1, "rules": [{"name": "x", "on": "close", "do": {"fail": "EBADF"}}]})",
            "r.json")) == "seed 1, 1 rule\nx  on close  do fail EBADF\n");
}

TEST_CASE("describe's output names are accepted back by the loader", "[filters]") {
  const Table t = load_table_text(
      R"({"rules": [{"name": "u", "on": "socket",
          "match": {"family": "unix", "type": "seqpacket", "protocol": "default"},
          "do": {"fail": "EACCES"}}]})",
      "r.json");
  CHECK(describe(t) ==
        "seed 0, 1 rule\n"
        "u  on socket  match family=unix type=seqpacket protocol=default  do fail EACCES\n");
}

}  // namespace
}  // namespace filters
