// Runs a load in a forked child with bounded memory and time, so a test of the loader's limits
// fails with a message (instead of exhausting the machine or hanging) when a limit regresses.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <functional>
#include <new>
#include <string>

#include "filters/table.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FILTERS_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define FILTERS_TEST_SANITIZED 1
#endif
#endif

namespace filters::test {

inline constexpr rlim_t kChildAddressSpace = rlim_t{512} << 20;
inline constexpr unsigned kChildSeconds = 20;

// What `load` threw, as text: a LoadError's what(), "bad_alloc", "exception: ...", or "no error";
// "killed by signal N" when the child died (SIGALRM: it ran out of time). The child has at most
// 512 MiB of address space, except under ASan/TSan, whose shadow memory alone is far more.
inline std::string load_error_bounded(const std::function<void()>& load) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[0]);
#ifndef FILTERS_TEST_SANITIZED
    const rlimit as{kChildAddressSpace, kChildAddressSpace};
    setrlimit(RLIMIT_AS, &as);
#endif
    alarm(kChildSeconds);
    std::string out = "no error";
    try {
      load();
    } catch (const LoadError& e) {
      out = e.what();
    } catch (const std::bad_alloc&) {
      out = "bad_alloc";
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(1);
      done += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (errno != EINTR) break;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: " + out;
  return out;
}

}  // namespace filters::test
