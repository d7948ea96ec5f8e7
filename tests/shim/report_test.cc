// shim/stats/report.cc: the JSON document and the text of docs/stats.md, from hand-filled
// segments on the heap (no shared memory needed).
#include "shim/stats/report.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "shim/cookie.h"
#include "shim/stats/segment.h"

namespace {

using namespace shim::stats;
using nlohmann::json;
using shim::make_cookie;

constexpr std::int64_t kCreated = 1700000000123456789;   // 2023-11-14T22:13:20.123456789Z
constexpr std::int64_t kMs = 1000000;

const shim::Cookie kTcp = make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP);
const shim::Cookie kUnix = make_cookie(AF_UNIX, SOCK_STREAM, 0);
const shim::Cookie kOdd = make_cookie(99, 77, 1234);   // nothing has a name
const shim::Cookie kZero = make_cookie(AF_UNSPEC, 0, 0);

template <std::size_t N>
void set(char (&field)[N], const char* value) {
  std::strncpy(field, value, N - 1);
  field[N - 1] = 0;
}

std::unique_ptr<Segment> base_segment() {
  auto s = std::make_unique<Segment>();
  s->header.magic = kMagic;
  s->header.version = kLayoutVersion;
  s->header.header_size = sizeof(Header);
  s->header.total_size = sizeof(Segment);
  s->header.seed = 42;
  s->header.created_ns = kCreated;
  set(s->header.rules_file, "rules.json");
  s->header.ready.store(1);
  return s;
}

// socktest's example socket: one HTTP request over TCP.
void add_http_socket(Segment& s) {
  CookieSlot* tcp = cookie_slot(s, kTcp);
  add(tcp, kOpened);
  add(tcp, kConnected);
  add(tcp, kClosed);
  add(tcp, kSendCalls);
  add(tcp, kSendBytes, 78);
  add(tcp, kRecvCalls, 2);
  add(tcp, kRecvBytes, 500);
}

void add_rule(Segment& s, const char* name, std::uint64_t hits, std::uint64_t fired) {
  RuleSlot& r = s.rules[s.header.rule_count++];
  set(r.name, name);
  r.hits.store(hits);
  r.fired.store(fired);
}

ProcessRecord& add_record(Segment& s, int pid, int ppid, const char* argv0, ProcessState state) {
  ProcessRecord& r = s.processes[s.header.process_next.fetch_add(1)];
  r.pid = pid;
  r.ppid = ppid;
  set(r.argv0, argv0);
  r.start_ns = kCreated + 5 * kMs;
  r.state.store(state);
  return r;
}

void add_leak(ProcessRecord& r, int fd, shim::Cookie c, const char* local, const char* peer) {
  if (r.leak_count < kMaxLeaks) {
    LeakRecord& l = r.leaks[r.leak_count];
    l.fd = fd;
    l.cookie = c;
    set(l.local, local);
    set(l.peer, peer);
  }
  ++r.leak_count;
}

// A run of `sh -c 'exec python3 ...'` with a curl child and a killed helper.
std::unique_ptr<Segment> full_segment() {
  auto s = base_segment();
  add_http_socket(*s);
  add(cookie_slot(*s, kUnix), kOpened, 2);
  add(cookie_slot(*s, kUnix), kClosed, 2);
  add(cookie_slot(*s, kOdd), kOpenFailed, 5);
  add(cookie_slot(*s, kZero), kFaultsInjected, 1);
  add_rule(*s, "refuse-http", 3, 2);
  add_rule(*s, "drop-dns", 0, 0);
  set(s->rules[2].name, "not-counted");   // beyond rule_count: not reported
  s->rules[2].hits.store(9);

  ProcessRecord& sh = add_record(*s, 100, 1, "sh", kProcExeced);
  sh.end_ns = kCreated + 6 * kMs;
  ProcessRecord& py = add_record(*s, 100, 1, "python3", kProcExited);
  py.exit_status = 3;
  py.end_ns = kCreated + 1500 * kMs;
  add_leak(py, 5, kTcp, "127.0.0.1:40000", "127.0.0.1:80");
  add_leak(py, 6, kUnix, "", "/run/x.sock");
  s->header.process_next.fetch_add(1);   // a record claimed but not filled in yet: skipped
  add_record(*s, 101, 100, "curl", kProcRunning);
  ProcessRecord& killed = add_record(*s, 102, 100, "helper", kProcKilled);
  killed.exit_status = 128 + 9;
  killed.end_ns = kCreated + 2000 * kMs;
  for (int fd = 3; fd < 3 + 20; ++fd) add_leak(killed, fd, kTcp, "[::1]:1", "[::1]:2");

  s->header.cookie_overflow.store(3);
  s->header.process_overflow.store(1);
  return s;
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.insert(it.key());
  return k;
}

}  // namespace

TEST_CASE("report json: top level", "[report]") {
  const auto s = full_segment();
  const json j = to_json(*s, "ci-run");
  CHECK(keys(j) == std::set<std::string>{"version", "name", "layout_version", "seed", "rules_file",
                                         "created", "sockets", "rules", "processes", "events", "events_lost", "overflow",
                                         "raced"});
  CHECK(j["version"] == 1);
  CHECK(j["name"] == "ci-run");
  CHECK(j["layout_version"] == kLayoutVersion);
  CHECK(j["seed"] == 42);
  CHECK(j["rules_file"] == "rules.json");
  CHECK(j["created"] == "2023-11-14T22:13:20.123Z");
  CHECK(j["overflow"] == json{{"cookies", 3}, {"processes", 1}});
  CHECK(j["raced"] == json{{"calls", 0}, {"bytes", 0}});
  CHECK_NOTHROW(j.dump(2));
}

TEST_CASE("report json: sockets, sorted by cookie, every counter", "[report]") {
  const auto s = full_segment();
  const json sockets = to_json(*s, "x")["sockets"];
  REQUIRE(sockets.size() == 4);
  CHECK(sockets[0]["cookie"] == "0x0000000000000000");
  CHECK(sockets[1]["cookie"] == "0x0001000000010000");
  CHECK(sockets[2]["cookie"] == "0x0002000000010006");
  CHECK(sockets[3]["cookie"] == "0x00630000004d04d2");

  std::set<std::string> want_keys{"cookie", "family", "type", "protocol"};
  for (std::uint32_t i = 0; i < kCounterCount; ++i)
    want_keys.insert(counter_name(static_cast<Counter>(i)));
  for (const json& sock : sockets) CHECK(keys(sock) == want_keys);

  const json& tcp = sockets[2];
  CHECK(tcp["family"] == "inet");
  CHECK(tcp["type"] == "stream");
  CHECK(tcp["protocol"] == "tcp");
  const json want_tcp = {{"opened", 1},          {"connected", 1},      {"listened", 0},
                         {"accepted", 0},        {"closed", 1},         {"open_failed", 0},
                         {"connect_failed", 0},  {"listen_failed", 0},  {"accept_failed", 0},
                         {"close_failed", 0},    {"connect_pending", 0}, {"send_calls", 1},
                         {"send_bytes", 78},     {"recv_calls", 2},     {"recv_bytes", 500},
                         {"faults_injected", 0}};
  for (auto it = want_tcp.begin(); it != want_tcp.end(); ++it) {
    INFO("counter " << it.key());
    CHECK(tcp[it.key()] == it.value());
  }

  CHECK(sockets[1]["family"] == "unix");
  CHECK(sockets[1]["protocol"] == "default");
  CHECK(sockets[1]["opened"] == 2);

  // Unnamed values are numbers, not strings.
  CHECK(sockets[3]["family"] == 99);
  CHECK(sockets[3]["type"] == 77);
  CHECK(sockets[3]["protocol"] == 1234);
  CHECK(sockets[3]["open_failed"] == 5);

  CHECK(sockets[0]["family"] == "unspec");
  CHECK(sockets[0]["type"] == 0);
  CHECK(sockets[0]["faults_injected"] == 1);
}

TEST_CASE("report json: rules up to rule_count", "[report]") {
  const auto s = full_segment();
  const json rules = to_json(*s, "x")["rules"];
  CHECK(rules == json::array({{{"name", "refuse-http"}, {"enabled", true}, {"hits", 3}, {"fired", 2}, {"armed", 0}, {"lifted", 0}},
                              {{"name", "drop-dns"}, {"enabled", true}, {"hits", 0}, {"fired", 0}, {"armed", 0}, {"lifted", 0}}}));
  s->rules[1].disabled.store(1);
  CHECK(to_json(*s, "x")["rules"][1]["enabled"] == false);
  CHECK(to_text(*s, "x").find("drop-dns hits=0 fired=0 (disabled)") != std::string::npos);
  // inbound_loss rules' socket counts: in the text only once one is not 0.
  s->rules[0].armed.store(2);
  s->rules[0].lifted.store(1);
  CHECK(to_text(*s, "x").find("\trefuse-http hits=3 fired=2 armed=2 lifted=1\n") != std::string::npos);
  CHECK(to_json(*s, "x")["rules"][0]["armed"] == 2);
  CHECK(to_json(*s, "x")["rules"][0]["lifted"] == 1);
}

TEST_CASE("report json: processes and their leaks", "[report]") {
  const auto s = full_segment();
  const json procs = to_json(*s, "x")["processes"];
  REQUIRE(procs.size() == 4);   // the claimed-but-empty slot is left out
  for (const json& p : procs)
    CHECK(keys(p) == std::set<std::string>{"pid", "ppid", "argv0", "state", "exit", "start", "end",
                                           "leaked_count", "leaked", "intercept"});

  const json& sh = procs[0];
  CHECK(sh["pid"] == 100);
  CHECK(sh["argv0"] == "sh");
  CHECK(sh["state"] == "execed");
  CHECK(sh["exit"].is_null());
  CHECK(sh["start"] == "2023-11-14T22:13:20.128Z");
  CHECK(sh["end"] == "2023-11-14T22:13:20.129Z");
  CHECK(sh["leaked"] == json::array());

  const json& py = procs[1];
  CHECK(py["pid"] == 100);
  CHECK(py["ppid"] == 1);
  CHECK(py["argv0"] == "python3");
  CHECK(py["state"] == "exited");
  CHECK(py["exit"] == 3);
  CHECK(py["end"] == "2023-11-14T22:13:21.623Z");
  CHECK(py["leaked_count"] == 2);
  CHECK(py["leaked"] == json::array({{{"fd", 5},
                                      {"family", "inet"},
                                      {"type", "stream"},
                                      {"protocol", "tcp"},
                                      {"local", "127.0.0.1:40000"},
                                      {"peer", "127.0.0.1:80"}},
                                     {{"fd", 6},
                                      {"family", "unix"},
                                      {"type", "stream"},
                                      {"protocol", "default"},
                                      {"local", ""},
                                      {"peer", "/run/x.sock"}}}));

  const json& curl = procs[2];
  CHECK(curl["pid"] == 101);
  CHECK(curl["ppid"] == 100);
  CHECK(curl["state"] == "running");
  CHECK(curl["exit"].is_null());
  CHECK(curl["end"].is_null());
  CHECK(curl["leaked_count"] == 0);

  const json& killed = procs[3];
  CHECK(killed["state"] == "killed");
  CHECK(killed["exit"] == 137);
  CHECK(killed["leaked_count"] == 20);
  CHECK(killed["leaked"].size() == kMaxLeaks);
}

TEST_CASE("report json: process slots stop at kMaxProcesses", "[report]") {
  auto s = base_segment();
  for (std::uint32_t i = 0; i < kMaxProcesses; ++i)
    add_record(*s, static_cast<int>(i + 1), 1, "w", kProcRunning);
  s->header.process_next.store(kMaxProcesses + 50);   // 50 processes found no record
  const json procs = to_json(*s, "x")["processes"];
  CHECK(procs.size() == kMaxProcesses);
  CHECK(procs.back()["pid"] == kMaxProcesses);
}

TEST_CASE("report json: empty segment", "[report]") {
  auto s = base_segment();
  s->header.created_ns = 0;
  s->header.rules_file[0] = 0;
  const json j = to_json(*s, "empty");
  CHECK(j["sockets"] == json::array());
  CHECK(j["rules"] == json::array());
  CHECK(j["processes"] == json::array());
  CHECK(j["rules_file"] == "");
  CHECK(j["created"] == "1970-01-01T00:00:00.000Z");
  CHECK(j["overflow"] == json{{"cookies", 0}, {"processes", 0}});
}

TEST_CASE("report json: strings from the segment are bounded and valid UTF-8", "[report]") {
  auto s = base_segment();
  // A rule name filling its field without a terminating NUL.
  std::memset(s->rules[0].name, 'r', kNameLen);
  s->header.rule_count = 1;
  // argv0 cut inside a UTF-8 sequence, and bytes that are not UTF-8 at all.
  add_record(*s, 1, 0, "caf\xc3", kProcRunning);
  add_record(*s, 2, 0, "\xff\xc0\xaf ok \xf0\x9f\x98\x80", kProcRunning);
  add_record(*s, 3, 0, "\xed\xa0\x80", kProcRunning);   // a UTF-16 surrogate
  add_record(*s, 4, 0, "na\xc3\xafve \xe2\x82\xac", kProcRunning);   // valid: kept as is
  const json j = to_json(*s, "x");
  CHECK(j["rules"][0]["name"] == std::string(kNameLen, 'r'));
  const std::string fffd = "\xef\xbf\xbd";
  CHECK(j["processes"][0]["argv0"] == "caf" + fffd);
  CHECK(j["processes"][1]["argv0"] == fffd + fffd + fffd + " ok \xf0\x9f\x98\x80");
  CHECK(j["processes"][2]["argv0"] == fffd + fffd + fffd);
  CHECK(j["processes"][3]["argv0"] == "na\xc3\xafve \xe2\x82\xac");
  CHECK_NOTHROW(j.dump());
  CHECK_NOTHROW(to_text(*s, "x"));
}

TEST_CASE("report json: created keeps milliseconds, truncated", "[report]") {
  auto s = base_segment();
  s->header.created_ns = 1700000000999999999;
  CHECK(to_json(*s, "x")["created"] == "2023-11-14T22:13:20.999Z");
}

TEST_CASE("report text: socktest-style blocks, rules, processes", "[report]") {
  auto s = base_segment();
  add_http_socket(*s);
  add_rule(*s, "refuse-http", 3, 2);
  ProcessRecord& py = add_record(*s, 100, 1, "python3", kProcExited);
  py.exit_status = 3;
  add_leak(py, 5, kTcp, "127.0.0.1:40000", "127.0.0.1:80");
  add_leak(py, 6, kOdd, "", "");
  add_record(*s, 101, 100, "curl", kProcRunning);

  CHECK(to_text(*s, "t1") ==
        "sockshim stats t1 (created 2023-11-14T22:13:20.123Z, seed 42, rules rules.json)\n"
        "inet stream tcp\n"
        "\topened=1 connected=1 listened=0 accepted=0 closed=1 open_failed=0 connect_failed=0 "
        "listen_failed=0 accept_failed=0 close_failed=0\n"
        "\tconnect_pending=0 send_calls=1 send_bytes=78 recv_calls=2 recv_bytes=500 "
        "faults_injected=0\n"
        "rules:\n"
        "\trefuse-http hits=3 fired=2\n"
        "processes:\n"
        "\tpid=100 ppid=1 python3 exited exit=3 leaked=2\n"
        "\t\tleak fd=5 inet stream tcp local=127.0.0.1:40000 peer=127.0.0.1:80\n"
        "\t\tleak fd=6 99 77 1234 local=- peer=-\n"
        "\tpid=101 ppid=100 curl running exit=- leaked=0\n");
}

TEST_CASE("report: the mode each process ran in, when its record says", "[report]") {
  auto s = base_segment();
  add_record(*s, 200, 1, "go-client", kProcExited).intercept = kInterceptSeccomp;
  add_record(*s, 201, 1, "curl", kProcExited).intercept = kInterceptPreload;
  add_record(*s, 202, 1, "old", kProcExited);   // a record written before the field existed
  const json procs = to_json(*s, "x")["processes"];
  REQUIRE(procs.size() == 3);
  CHECK(procs[0]["intercept"] == "seccomp");
  CHECK(procs[1]["intercept"] == "preload");
  CHECK(procs[2]["intercept"].is_null());
  const std::string text = to_text(*s, "x");
  CHECK_THAT(text, Catch::Contains("\tpid=200 ppid=1 go-client exited exit=0 leaked=0 intercept=seccomp\n"));
  CHECK_THAT(text, Catch::Contains("\tpid=201 ppid=1 curl exited exit=0 leaked=0 intercept=preload\n"));
  CHECK_THAT(text, Catch::Contains("\tpid=202 ppid=1 old exited exit=0 leaked=0\n"));
}

TEST_CASE("report text: empty sections say so", "[report]") {
  auto s = base_segment();
  s->header.rules_file[0] = 0;
  CHECK(to_text(*s, "empty") ==
        "sockshim stats empty (created 2023-11-14T22:13:20.123Z, seed 42)\n"
        "no sockets\n"
        "no rules\n"
        "no processes\n");
}

TEST_CASE("report text: overflow and unlisted leaks are mentioned", "[report]") {
  auto s = full_segment();
  const std::string text = to_text(*s, "x");
  CHECK_THAT(text, Catch::Contains("overflow: cookies=3 processes=1\n"));
  CHECK_THAT(text, Catch::Contains("\tpid=102 ppid=100 helper killed exit=137 leaked=20\n"));
  CHECK_THAT(text, Catch::Contains("\t\t(4 more not recorded)\n"));
  CHECK_THAT(text, Catch::Contains("unspec 0 default\n"));
  CHECK_THAT(text, Catch::Contains("\tpid=100 ppid=1 sh execed exit=- leaked=0\n"));
}

namespace {

void log_one(Segment& s, std::int64_t t_ns, std::uint16_t rule, std::int32_t err) {
  std::uint64_t n = 0;
  Event& e = begin_event(s, n);
  e.t_ns = t_ns;
  e.pid = 100;
  e.tid = 101;
  e.fd = 7;
  e.call = 1;   // connect
  e.rule = rule;
  e.cookie = kTcp;
  e.hit = n + 1;
  e.action = 1;   // fail
  e.after = 0;
  e.err = err;
  set(e.peer, "127.0.0.1:6379");
  publish_event(e, n);
}

}  // namespace

TEST_CASE("the decision log: JSON always, text with --events, oldest first, ring bounded", "[report][events]") {
  auto s = base_segment();
  s->header.rule_count = 1;
  set(s->rules[0].name, "flaky-redis");
  log_one(*s, 5 * kMs, 0, ECONNREFUSED);
  const json j = to_json(*s, "ci");
  REQUIRE(j["events"].size() == 1);
  const json& e = j["events"][0];
  CHECK(e["rule"] == "flaky-redis");
  CHECK(e["call"] == "connect");
  CHECK(e["do"] == "fail");
  CHECK(e["then"] == "none");
  CHECK(e["error"] == "ECONNREFUSED");
  CHECK(e["peer"] == "127.0.0.1:6379");
  CHECK(e["socket"] == "inet stream tcp");
  CHECK(e["t_ms"] == 5.0);
  CHECK(j["events_lost"] == 0);
  CHECK(to_text(*s, "ci").find("events") == std::string::npos);
  const std::string text = to_text(*s, "ci", true);
  CHECK(text.find("rule=flaky-redis") != std::string::npos);
  CHECK(text.find("error=ECONNREFUSED") != std::string::npos);

  for (std::uint32_t i = 0; i < kMaxEvents + 10; ++i) log_one(*s, 6 * kMs, 0, ETIMEDOUT);
  const json full = to_json(*s, "ci");
  CHECK(full["events"].size() == kMaxEvents);
  CHECK(full["events_lost"] == 11);
  CHECK(full["events"][0]["hit"] == 12);   // the oldest kept
  // A record being rewritten (seq 0) is left out rather than shown half-written.
  s->events[5].seq.store(0);
  CHECK(to_json(*s, "ci")["events"].size() == kMaxEvents - 1);
}

TEST_CASE("report text: control characters from the segment are shown as escapes", "[report]") {
  auto s = base_segment();
  add_rule(*s, "rule\x1b]0;title\x07", 0, 0);
  add_record(*s, 7, 1, "\x1b[31mred\\", kProcRunning);
  add_record(*s, 8, 1, "csi\xc2\x9b" "2J", kProcRunning);   // U+009B, a one-character CSI
  const std::string text = to_text(*s, "x");
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x07') == std::string::npos);
  CHECK(text.find("\xc2\x9b") == std::string::npos);
  CHECK(text.find("\trule\\x1b]0;title\\x07 hits=0 fired=0\n") != std::string::npos);
  CHECK(text.find("pid=7 ppid=1 \\x1b[31mred\\x5c running") != std::string::npos);
  CHECK(text.find("pid=8 ppid=1 csi\\u009b2J running") != std::string::npos);
  // The JSON keeps them as they are: JSON escapes them itself.
  CHECK(to_json(*s, "x")["processes"][0]["argv0"] == "\x1b[31mred\\");
}

TEST_CASE("report: transfers that raced a dup2 are reported apart", "[report]") {
  auto s = base_segment();
  s->header.raced_calls.store(3);
  s->header.raced_bytes.store(120);
  CHECK(to_json(*s, "x")["raced"] == json{{"calls", 3}, {"bytes", 120}});
  CHECK(to_text(*s, "x").find("raced: calls=3 bytes=120 (transfers that raced a dup2 onto their fd)\n") !=
        std::string::npos);
}
