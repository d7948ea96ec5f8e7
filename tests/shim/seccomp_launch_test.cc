// shim/seccomp: the launcher's refusals through its syscall seam (seccomp unavailable, a listener
// refused, NO_NEW_PRIVS refused: one line, the child reaped, never a run without the filter), the
// filter it installs (the calls notified always, and those only a rule brings), and the rules
// seccomp mode refuses by name.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <initializer_list>
#include <string>

#include "bpfvm/seccomp/run.h"
#include "filters/table.h"
#include "shim/seccomp/coverage.h"
#include "shim/seccomp/launcher.h"

namespace {

namespace sc = shim::seccomp;
namespace bs = bpfvm::seccomp;

int nnp_ok() { return 0; }
int nnp_refused() { return -EPERM; }
int install_unavailable(const struct sock_fprog*) { return -EINVAL; }
int install_busy(const struct sock_fprog*) { return -EBUSY; }

sc::Launched launch_with(const sc::LaunchSys& sys) {
  const auto filter = sc::build_filter();
  REQUIRE(filter);
  // /bin/true must never run: the child may exec only with a listener in the parent's hands.
  return sc::launch({"/bin/true"}, *filter, sys, 5000);
}

bool no_children_left() {
  int st = 0;
  return waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

TEST_CASE("launch: seccomp unavailable is one line and no process", "[seccomp][launcher]") {
  const sc::Launched l = launch_with({nnp_ok, install_unavailable});
  CHECK(l.pid == -1);
  CHECK(l.listener == -1);
  CHECK(l.error.rfind("seccomp: installing the filter", 0) == 0);
  CHECK(l.error.find("unavailable") != std::string::npos);
  CHECK(l.error.find('\n') == std::string::npos);
  CHECK(no_children_left());
}

TEST_CASE("launch: a listener refused (EBUSY) names the other supervisor", "[seccomp][launcher]") {
  const sc::Launched l = launch_with({nnp_ok, install_busy});
  CHECK(l.pid == -1);
  CHECK(l.error.find("listener") != std::string::npos);
  CHECK(l.error.find("Device or resource busy") != std::string::npos);
  CHECK(no_children_left());
}

TEST_CASE("launch: NO_NEW_PRIVS refused stops before the filter", "[seccomp][launcher]") {
  const sc::Launched l = launch_with({nnp_refused, install_busy});
  CHECK(l.pid == -1);
  CHECK(l.error == "seccomp: prctl(PR_SET_NO_NEW_PRIVS) failed: Operation not permitted");
  CHECK(no_children_left());
}

// The numbers the filter hands to the supervisor: `extra` besides the ones every run needs.
void check_notified(const bs::ValidatedProgram& filter, std::initializer_list<int> extra) {
  for (int nr = 0; nr < 512; ++nr) {
    bool notified = nr == SYS_socket || nr == SYS_socketpair || nr == SYS_connect || nr == SYS_close ||
                    nr == SYS_accept || nr == SYS_accept4 || nr == SYS_listen || nr == SYS_sendto ||
                    nr == SYS_recvfrom || nr == SYS_sendmsg || nr == SYS_recvmsg || nr == SYS_sendmmsg ||
                    nr == SYS_recvmmsg ||
                    // sendfile: a send when its out_fd is a socket, counted and faulted as one
                    nr == SYS_sendfile ||
                    // what can close a socket or replace the image (dup2 over a socket, an exec
                    // closing FD_CLOEXEC ones), and dup (a socket's second number)
                    nr == SYS_dup || nr == SYS_dup2 || nr == SYS_dup3 || nr == SYS_close_range ||
                    nr == SYS_execve || nr == SYS_execveat ||
                    // a parent's wait, before which its children are looked at
                    nr == SYS_wait4 || nr == SYS_waitid ||
                    // args[1] 0 is F_DUPFD: fcntl goes over for it (and F_DUPFD_CLOEXEC) only
                    nr == SYS_fcntl;
    for (int e : extra) notified = notified || nr == e;
    const std::uint32_t got = bs::run(filter, bs::Data{.nr = nr, .arch = bs::kAuditArchX86_64});
    INFO("nr " << nr);
    CHECK(got == (notified ? bs::kRetUserNotif : bs::kRetAllow));
  }
}

TEST_CASE("the filter hands socket, socketpair, connect, listen, accept, close, the dups, close_range, the execs, "
          "the socket-only transfers and sendfile to the supervisor, nothing else",
          "[seccomp][filter]") {
  const auto filter = sc::build_filter();
  REQUIRE(filter);
  check_notified(*filter, {});
  // fcntl: F_DUPFD and F_DUPFD_CLOEXEC only (the cmd's low word; the kernel takes an int).
  for (const auto& [cmd, want] : {std::pair{F_DUPFD_CLOEXEC, bs::kRetUserNotif}, std::pair{F_GETFL, bs::kRetAllow},
                                  std::pair{F_SETFL, bs::kRetAllow}, std::pair{F_GETFD, bs::kRetAllow}}) {
    bs::Data d{.nr = SYS_fcntl, .arch = bs::kAuditArchX86_64};
    d.args[1] = static_cast<std::uint64_t>(cmd);
    INFO("fcntl cmd " << cmd);
    CHECK(bs::run(*filter, d) == want);
  }
  // Another ABI (int $0x80) and x32 numbers never reach the number checks.
  CHECK(bs::run(*filter, bs::Data{.nr = SYS_socket, .arch = bs::kAuditArchI386}) == bs::kRetKillProcess);
  CHECK(bs::run(*filter, bs::Data{.nr = static_cast<std::int32_t>(SYS_socket | bs::kX32SyscallBit),
                                  .arch = bs::kAuditArchX86_64}) == bs::kRetKillProcess);
}

TEST_CASE("bind, shutdown and the socket options reach the supervisor only when a rule is on them",
          "[seccomp][filter]") {
  const filters::Table none = filters::load_table_text(R"({"rules": [
    {"name": "refuse", "on": ["connect"], "do": {"fail": "ECONNREFUSED"}}
  ]})", "t.json");
  const auto plain = sc::build_filter(&none);
  REQUIRE(plain);
  check_notified(*plain, {});
  const filters::Table some = filters::load_table_text(R"({"rules": [
    {"name": "no-bind", "on": ["bind"], "do": {"fail": "EADDRINUSE"}},
    {"name": "opt", "on": ["setsockopt"], "match": {"level": "SOL_SOCKET", "option": "SO_REUSEADDR"},
     "do": {"fail": "ENOPROTOOPT"}}
  ]})", "t.json");
  const auto two = sc::build_filter(&some);
  REQUIRE(two);
  check_notified(*two, {SYS_bind, SYS_setsockopt});
  const filters::Table all = filters::load_table_text(R"({"rules": [
    {"name": "all", "on": ["bind", "shutdown", "getsockopt", "setsockopt"], "when": {"nth": 100},
     "do": {"fail": "EINVAL"}}
  ]})", "t.json");
  const auto four = sc::build_filter(&all);
  REQUIRE(four);
  check_notified(*four, {SYS_bind, SYS_shutdown, SYS_getsockopt, SYS_setsockopt});
  CHECK(sc::unsupported_rules(some).empty());
  CHECK(sc::unsupported_rules(all).empty());
}

TEST_CASE("rules seccomp mode cannot carry out are refused by name", "[seccomp][coverage]") {
  const filters::Table t = filters::load_table_text(R"({"rules": [
    {"name": "refuse", "on": ["connect"], "match": {"port": 80}, "do": {"fail": "ECONNREFUSED"}},
    {"name": "no-sockets", "on": ["socket"], "do": {"fail": "EMFILE"}},
    {"name": "reset-send", "on": ["send"], "match": {"protocol": "tcp"}, "do": {"reset": true}},
    {"name": "lossy", "on": ["socket"], "match": {"family": "inet"}, "do": {"inbound_loss": 0.5}},
    {"name": "so-error", "on": ["connect"], "then": {"so_error": "ECONNREFUSED"}},
    {"name": "then-on-close", "on": ["close", "recv"], "then": {"fail": "EIO"}},
    {"name": "own-port", "on": ["recv"], "match": {"local_port": 8080}, "then": {"truncate": 1}},
    {"name": "slow", "on": ["connect"], "do": {"delay_ms": 100}},
    {"name": "per-socket", "on": ["close"], "when": {"count": "socket", "nth": 2}, "do": {"fail": "EIO"}},
    {"name": "no-bind", "on": ["bind"], "match": {"port": 8080}, "do": {"fail": "EADDRINUSE"}},
    {"name": "dns", "on": ["getaddrinfo"], "do": {"fail": "EAI_AGAIN"}},
    {"name": "hang", "on": ["accept"], "do": {"hang_ms": 100, "fail": "ECONNABORTED"}},
    {"name": "shorten", "on": ["connect"], "do": {"delay_ms": 5, "jitter_ms": 5}}
  ]})", "t.json");
  const std::vector<std::string> bad = sc::unsupported_rules(t);
  // Delays and hangs are carried out (the call waits aside, the supervisor never sleeps), and so
  // are per-socket counts, reset on send and local_port.
  REQUIRE(bad.size() == 4);
  CHECK(bad[0].rfind("rule lossy (line 5): \"do\": inbound_loss and rate", 0) == 0);
  CHECK(bad[1].rfind("rule so-error (line 6): \"then\": so_error", 0) == 0);
  CHECK(bad[2].rfind("rule then-on-close (line 7): \"then\": after-actions work on send and recv only", 0) == 0);
  CHECK(bad[3].rfind("rule dns (line 12): \"on\": getaddrinfo: libc's", 0) == 0);
}

TEST_CASE("a rule on local_port brings bind to the supervisor (the port a socket bound)", "[seccomp][filter]") {
  const filters::Table t = filters::load_table_text(R"({"rules": [
    {"name": "own-port", "on": ["close"], "match": {"local_port": 8080}, "do": {"fail": "EIO"}}
  ]})", "t.json");
  const auto f = sc::build_filter(&t);
  REQUIRE(f);
  check_notified(*f, {SYS_bind});
  CHECK(sc::unsupported_rules(t).empty());
}

TEST_CASE("read, write, readv and writev reach the supervisor when asked or when a rule is on send or recv",
          "[seccomp][filter]") {
  const int rw[] = {SYS_read, SYS_write, SYS_readv, SYS_writev};
  const auto asked = sc::build_filter(nullptr, true);
  REQUIRE(asked);
  check_notified(*asked, {rw[0], rw[1], rw[2], rw[3]});
  for (const char* on : {"send", "recv"}) {
    const filters::Table t = filters::load_table_text(std::string(R"({"rules": [{"name": "x", "on": [")") + on +
                                                          R"("], "when": {"nth": 5}, "do": {"fail": "EIO"}}]})",
                                                      "t.json");
    const auto f = sc::build_filter(&t);
    REQUIRE(f);
    check_notified(*f, {rw[0], rw[1], rw[2], rw[3]});
    CHECK(sc::unsupported_rules(t).empty());
  }
}
