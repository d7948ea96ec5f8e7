// A scripted kernel for the switch's unit tests: the system calls the switch makes on its own
// account (shim/os.h) answered from a table of fake descriptors, each call counted. The
// program's calls are not here: a test hands the switch a lambda as each "real" function.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <string>

namespace fake_os {

struct Fd {
  bool socket = true;
  int domain = AF_INET, type = SOCK_STREAM, protocol = IPPROTO_TCP;
  bool listening = false;
  bool connected = false;           // getpeername succeeds
  std::uint16_t local_port = 0, peer_port = 0;
  std::uint64_t inode = 1;
  bool inode_flips = false;         // every fstat reports another inode (a number being reused)
  std::uint32_t pacing_rate = ~0u;  // SO_MAX_PACING_RATE (the kernel's default: unlimited)
};

// The descriptors the kernel knows (absent: EBADF).
extern std::map<int, Fd> fds;
// What getpid() answers.
extern int pid;
// System calls made, by name ("fstat", "getsockopt", "getsockname", "getpeername", "setsockopt",
// "getpid", "gettid").
extern std::map<std::string, int> calls;
// The last setsockopt: level, name and the int value.
extern int last_set_level, last_set_name, last_set_value;

void reset();
int count(const std::string& name);

}  // namespace fake_os
