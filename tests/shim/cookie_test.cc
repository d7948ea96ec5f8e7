// shim/cookie.h: socktest's family << 48 | type << 16 | protocol, and the names the report prints.
#include "shim/cookie.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <string>
#include <tuple>

namespace {

using shim::Cookie;
using shim::cookie_family;
using shim::cookie_protocol;
using shim::cookie_type;
using shim::make_cookie;

// Encoding is constexpr: the layout is part of the segment format, so pin it at compile time too.
static_assert(make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP) == 0x0002000000010006ull);
static_assert(make_cookie(0, 0, 0) == 0);
static_assert(cookie_family(make_cookie(0xffff, 0, 0)) == 0xffff);

std::string name(const char* p) { return p ? p : "(null)"; }

}  // namespace

TEST_CASE("cookie packs family, type and protocol like socktest", "[cookie]") {
  CHECK(make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP) == 0x0002000000010006ull);
  CHECK(make_cookie(AF_INET6, SOCK_DGRAM, IPPROTO_UDP) == 0x000a000000020011ull);
  CHECK(make_cookie(AF_UNIX, SOCK_SEQPACKET, 0) == 0x0001000000050000ull);
}

TEST_CASE("cookie decodes what it encodes, including edge values", "[cookie]") {
  const int families[] = {0, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, 0x7fff, 0xffff};
  const int types[] = {0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 0xffff, 0x7fffffff};
  const int protocols[] = {0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_RAW, 0xfffe, 0xffff};
  for (int f : families) {
    for (int t : types) {
      for (int p : protocols) {
        const Cookie c = make_cookie(f, t, p);
        INFO("family " << f << " type " << t << " protocol " << p << " cookie " << std::hex << c);
        CHECK(cookie_family(c) == f);
        CHECK(cookie_type(c) == t);
        CHECK(cookie_protocol(c) == p);
      }
    }
  }
}

TEST_CASE("cookie fields do not bleed into each other", "[cookie]") {
  const Cookie c = make_cookie(0xffff, 0, 0);
  CHECK(c == 0xffff000000000000ull);
  CHECK(cookie_type(c) == 0);
  CHECK(cookie_protocol(c) == 0);

  const Cookie t = make_cookie(0, SOCK_STREAM, 0);   // a type without SOCK_NONBLOCK/SOCK_CLOEXEC
  CHECK(t == 0x10000ull);
  CHECK(cookie_family(t) == 0);
  CHECK(cookie_protocol(t) == 0);

  const Cookie p = make_cookie(0, 0, 0xffff);
  CHECK(p == 0xffffull);
  CHECK(cookie_family(p) == 0);
  CHECK(cookie_type(p) == 0);
}

TEST_CASE("cookie keeps the family and protocol to 16 bits", "[cookie]") {
  // Out-of-range values wrap instead of corrupting the neighbouring field.
  CHECK(cookie_family(make_cookie(-1, SOCK_STREAM, 6)) == 0xffff);
  CHECK(cookie_type(make_cookie(-1, SOCK_STREAM, 6)) == SOCK_STREAM);
  CHECK(cookie_protocol(make_cookie(AF_INET, SOCK_STREAM, 0x10006)) == 6);
  CHECK(cookie_type(make_cookie(AF_INET, SOCK_STREAM, 0x10006)) == SOCK_STREAM);
}

TEST_CASE("cookie names the usual families, types and protocols", "[cookie]") {
  using std::make_tuple;
  const auto fams = {make_tuple(AF_UNIX, "unix"), make_tuple(AF_INET, "inet"),
                     make_tuple(AF_INET6, "inet6"), make_tuple(AF_NETLINK, "netlink"),
                     make_tuple(AF_PACKET, "packet"), make_tuple(AF_UNSPEC, "unspec")};
  for (const auto& [f, want] : fams) CHECK(name(shim::family_name(f)) == want);

  const auto types = {make_tuple(SOCK_STREAM, "stream"), make_tuple(SOCK_DGRAM, "dgram"),
                      make_tuple(SOCK_SEQPACKET, "seqpacket"), make_tuple(SOCK_RAW, "raw"),
                      make_tuple(SOCK_RDM, "rdm")};
  for (const auto& [t, want] : types) CHECK(name(shim::type_name(t)) == want);

  CHECK(name(shim::protocol_name(AF_INET, IPPROTO_TCP)) == "tcp");
  CHECK(name(shim::protocol_name(AF_INET6, IPPROTO_UDP)) == "udp");
  CHECK(name(shim::protocol_name(AF_INET, 0)) == "default");
  CHECK(name(shim::protocol_name(AF_UNIX, 0)) == "default");
}

TEST_CASE("cookie names are null for values without a name", "[cookie]") {
  CHECK(shim::family_name(0xffff) == nullptr);
  CHECK(shim::family_name(-1) == nullptr);
  CHECK(shim::type_name(0) == nullptr);
  CHECK(shim::type_name(SOCK_STREAM | SOCK_NONBLOCK) == nullptr);   // flags are not a type
  CHECK(shim::protocol_name(AF_INET, 0xffff) == nullptr);
  // IP protocol numbers mean nothing outside inet/inet6: AF_UNIX protocol 6 is not "tcp".
  CHECK(shim::protocol_name(AF_UNIX, IPPROTO_TCP) == nullptr);
  CHECK(shim::protocol_name(AF_NETLINK, 15) == nullptr);
}
