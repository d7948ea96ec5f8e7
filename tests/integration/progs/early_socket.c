/* A library whose constructor makes socket calls before the preload object's constructor ran
 * (LD_PRELOAD="libsockshim.so libearly_socket.so": the later object is initialized first). The
 * shim must pass them through to the real functions, resolving them on the spot. */
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void early_socket_calls(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int rc = fd >= 0 ? close(fd) : -1;
  fprintf(stderr, "early constructor: socket %s, close %s\n", fd >= 0 ? "ok" : "failed", rc == 0 ? "ok" : "failed");
}
