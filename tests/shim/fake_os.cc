// shim/os.h answered by the scripted kernel of fake_os.h, and the globals the preload object's
// setup (shim/preload.cc) defines, which the switch reads.
#include "tests/shim/fake_os.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "shim/fork_watch.h"
#include "shim/os.h"
#include "shim/reentry.h"

namespace fake_os {

std::map<int, Fd> fds;
int pid = 0;
std::map<std::string, int> calls;
int last_set_level = 0, last_set_name = 0, last_set_value = 0;

void reset() {
  fds.clear();
  calls.clear();
  pid = static_cast<int>(::getpid());
  last_set_level = last_set_name = last_set_value = 0;
}

int count(const std::string& name) {
  const auto it = calls.find(name);
  return it == calls.end() ? 0 : it->second;
}

namespace {

Fd* find(int fd) {
  const auto it = fds.find(fd);
  return it == fds.end() ? nullptr : &it->second;
}

int fail(int e) {
  errno = e;
  return -1;
}

int address(std::uint16_t port, const Fd& f, sockaddr* addr, socklen_t* len) {
  if (f.domain == AF_INET6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    std::memcpy(addr, &a, std::min<std::size_t>(*len, sizeof a));
    *len = sizeof a;
    return 0;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::memcpy(addr, &a, std::min<std::size_t>(*len, sizeof a));
  *len = sizeof a;
  return 0;
}

}  // namespace

}  // namespace fake_os

namespace shim::os {

int fstat(int fd, struct stat* st) noexcept {
  ++fake_os::calls["fstat"];
  fake_os::Fd* f = fake_os::find(fd);
  if (!f) return fake_os::fail(EBADF);
  *st = {};
  st->st_mode = f->socket ? S_IFSOCK | 0777 : S_IFREG | 0644;
  st->st_ino = f->inode;
  if (f->inode_flips) ++f->inode;
  return 0;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  ++fake_os::calls["getsockopt"];
  fake_os::Fd* f = fake_os::find(fd);
  if (!f) return fake_os::fail(EBADF);
  if (!f->socket) return fake_os::fail(ENOTSOCK);
  if (level != SOL_SOCKET || *len < static_cast<socklen_t>(sizeof(int))) return fake_os::fail(ENOPROTOOPT);
  int v = 0;
  switch (name) {
    case SO_TYPE: v = f->type; break;
    case SO_DOMAIN: v = f->domain; break;
    case SO_PROTOCOL: v = f->protocol; break;
    case SO_ACCEPTCONN: v = f->listening; break;
    case SO_MAX_PACING_RATE: v = static_cast<int>(f->pacing_rate); break;
    default: return fake_os::fail(ENOPROTOOPT);
  }
  std::memcpy(value, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  ++fake_os::calls["setsockopt"];
  if (!fake_os::find(fd)) return fake_os::fail(EBADF);
  fake_os::last_set_level = level;
  fake_os::last_set_name = name;
  if (len >= static_cast<socklen_t>(sizeof(int))) std::memcpy(&fake_os::last_set_value, value, sizeof(int));
  return 0;
}

int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  ++fake_os::calls["getsockname"];
  fake_os::Fd* f = fake_os::find(fd);
  if (!f) return fake_os::fail(EBADF);
  return fake_os::address(f->local_port, *f, addr, len);
}

int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
  ++fake_os::calls["getpeername"];
  fake_os::Fd* f = fake_os::find(fd);
  if (!f) return fake_os::fail(EBADF);
  if (!f->connected) return fake_os::fail(ENOTCONN);
  return fake_os::address(f->peer_port, *f, addr, len);
}

pid_t getpid() noexcept {
  ++fake_os::calls["getpid"];
  return fake_os::pid;
}

pid_t gettid() noexcept {
  ++fake_os::calls["gettid"];
  return fake_os::pid;
}

}  // namespace shim::os

// What shim/preload.cc defines in the preload object: the re-entry depth, the vfork hint, the
// fork canary (a word that reads 1: no unseen fork) and the fork adoption it would trigger.
namespace shim {
constinit thread_local unsigned t_depth __attribute__((tls_model("initial-exec"))) = 0;
namespace {
std::atomic<std::uint32_t> g_armed{1};
}
constinit std::atomic<std::uint32_t>* g_fork_canary = &g_armed;
void adopt_fork() noexcept {}
}  // namespace shim
extern "C" {
constinit thread_local int sockshim_vfork_hint __attribute__((tls_model("initial-exec"))) = 0;
void* sockshim_real_vfork = nullptr;
}
