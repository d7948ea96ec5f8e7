// A blocking call held while a signal arrives, for test_seccomp_signals.py. Prints what the
// program saw, so a run under `sockshim run` can be compared with a plain one:
//   held_call connect HOST PORT restart|interrupt   a blocking connect (to an address that does
//                                                   not answer, in the test's network namespace)
//   held_call accept restart|interrupt              a blocking accept on 127.0.0.1 (port printed)
//   held_call kill-held                             a child held in accept is killed; then the
//                                                   parent's own socket calls must still be served
//   held_call connect-timeout HOST PORT MS          a blocking connect with SO_SNDTIMEO MS
//   held_call accept-timeout MS                     a blocking accept with SO_RCVTIMEO MS
//   held_call own-filter                            installs a seccomp filter of its own (getppid
//                                                   fails with EPERM), then makes socket calls:
//                                                   filters stack, so both must still work
// SIGUSR1's handler is installed with SA_RESTART or without. "ready PID" comes just before the
// call; after it, each mode waits for a line on stdin before it ends, so the test can look at
// the supervisor's descriptors while the program is still there. Every wait is bounded.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t signals;

static void on_usr1(int sig) {
  (void)sig;
  ++signals;
}

static void handler(int restart) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
}

static const char* outcome(int r) { return r >= 0 ? "ok" : strerrorname_np(errno); }

static void wait_line(void) {
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return;
}

// The end of every mode: the test looks at the supervisor until it sends a line.
static int closed(void) {
  printf("closed\n");
  fflush(stdout);
  wait_line();
  return 0;
}

static int listener(int* port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t n = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr*)&a, sizeof a) != 0 || listen(l, 4) != 0 ||
      getsockname(l, (struct sockaddr*)&a, &n) != 0) {
    perror("listener");
    exit(2);
  }
  *port = ntohs(a.sin_port);
  return l;
}

// Until /proc/PID/syscall names accept or accept4 (the child is in the call), at most 5 s.
static int in_accept(pid_t pid) {
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
  for (int i = 0; i < 500; ++i) {
    FILE* f = fopen(path, "r");
    if (f) {
      const int got = fgets(buf, sizeof buf, f) != NULL;
      fclose(f);
      if (got && (strncmp(buf, "43 ", 3) == 0 || strncmp(buf, "288 ", 4) == 0)) return 1;
    }
    usleep(10000);
  }
  return 0;
}

static int do_connect(const char* host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  const int r = connect(s, (struct sockaddr*)&a, sizeof a);
  printf("connect: %s\nsignals: %d\n", outcome(r), (int)signals);
  close(s);
  return closed();
}

static int do_accept(void) {
  int port = 0;
  const int l = listener(&port);
  printf("port %d\nready %d\n", port, (int)getpid());
  fflush(stdout);
  int s = accept(l, NULL, NULL);
  printf("accept: %s\nsignals: %d\n", outcome(s), (int)signals);
  fflush(stdout);
  if (s < 0) {
    // The test connects now: the connection must still be queued for this second accept.
    wait_line();
    s = accept(l, NULL, NULL);
    printf("accept again: %s\n", outcome(s));
  }
  if (s >= 0) close(s);
  close(l);
  return closed();
}

static int do_kill_held(void) {
  int port = 0;
  const int l = listener(&port);
  const pid_t child = fork();
  if (child == 0) {
    accept(l, NULL, NULL);   // held until killed
    _exit(1);
  }
  const int held = in_accept(child);
  kill(child, SIGKILL);
  int st = 0;
  waitpid(child, &st, 0);
  printf("child held: %d, killed: %d\n", held, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  // The supervisor must go on serving: a connection to our own listener, accepted here.
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  const int c = socket(AF_INET, SOCK_STREAM, 0);
  const int r = connect(c, (struct sockaddr*)&a, sizeof a);
  printf("connect after kill: %s\n", outcome(r));
  const int s = accept(l, NULL, NULL);
  printf("accept after kill: %s\n", outcome(s));
  close(s);
  close(c);
  close(l);
  return closed();
}

// A blocking call with the socket's own timeout: the kernel ends the wait with EINPROGRESS
// (connect) or EAGAIN (accept). No signal, no waiting for stdin.
static int timed(const char* host, int port, int ms) {
  const struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  int s = -1, r = -1;
  if (host) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    s = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    r = connect(s, (struct sockaddr*)&a, sizeof a);
    printf("connect: %s\n", outcome(r));
  } else {
    int unused = 0;
    s = listener(&unused);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    r = accept(s, NULL, NULL);
    printf("accept: %s\n", outcome(r));
    if (r >= 0) close(r);
  }
  close(s);
  return 0;
}

// The program's own filter: getppid fails with EPERM, everything else of x86-64 is allowed.
static int own_filter(void) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    printf("own filter: %s\n", strerrorname_np(errno));
    return 1;
  }
  printf("own filter: ok\n");
  const long r = syscall(SYS_getppid);
  printf("getppid: %s\n", r >= 0 ? "ok" : strerrorname_np(errno));
  int port = 0;
  const int l = listener(&port);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  const int c = socket(AF_INET, SOCK_STREAM, 0);
  printf("connect: %s\n", outcome(connect(c, (struct sockaddr*)&a, sizeof a)));
  const int s = accept(l, NULL, NULL);
  printf("accept: %s\n", outcome(s));
  close(s);
  close(c);
  close(l);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 5 && strcmp(argv[1], "connect") == 0) {
    handler(strcmp(argv[4], "restart") == 0);
    return do_connect(argv[2], atoi(argv[3]));
  }
  if (argc == 3 && strcmp(argv[1], "accept") == 0) {
    handler(strcmp(argv[2], "restart") == 0);
    return do_accept();
  }
  if (argc == 2 && strcmp(argv[1], "kill-held") == 0) return do_kill_held();
  if (argc == 2 && strcmp(argv[1], "own-filter") == 0) return own_filter();
  if (argc == 5 && strcmp(argv[1], "connect-timeout") == 0) return timed(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc == 3 && strcmp(argv[1], "accept-timeout") == 0) return timed(NULL, 0, atoi(argv[2]));
  fprintf(stderr, "usage: held_call connect HOST PORT restart|interrupt | accept restart|interrupt | kill-held"
                  " | own-filter | connect-timeout HOST PORT MS | accept-timeout MS\n");
  return 2;
}
