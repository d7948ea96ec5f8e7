// Linked against libsockshim.so (as a needed library, so the loader maps it even in a
// secure-exec process, where LD_PRELOAD is ignored). Does what a program's vfork child does to
// report a failed exec: stores errno in the parent's memory, which only a real vfork shares.
// Prints "secure=S errno=E"; secure_vfork_test.sh makes it setgid and wants "secure=1 errno=2".
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main() {
  volatile int child_errno = 0;
  const pid_t pid = vfork();
  if (pid == 0) {
    char* const argv[] = {const_cast<char*>("/nonexistent/sockshim-probe"), nullptr};
    execv(argv[0], argv);
    child_errno = errno;   // the parent's variable, under a real vfork
    _exit(127);
  }
  if (pid < 0) {
    std::perror("vfork");
    return 1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("secure=%lu errno=%d\n", getauxval(AT_SECURE), child_errno);
  return 0;
}
