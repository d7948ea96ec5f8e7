/* A glibc NSS "hosts" module for tests: it makes socket calls from inside getaddrinfo, as real
 * modules do (nss-mdns, sssd's, LDAP ones), then answers "not found". The shim must let these
 * calls pass uncounted and unfaulted: they are libc's work, not the program's. It says on stderr
 * what its calls returned. Loaded by `hosts: sockshimtest files` in /etc/nsswitch.conf. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nss.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void touch_network(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    dprintf(2, "nss_sockshimtest: socket failed: %s\n", strerror(errno));
    return;
  }
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(9);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0)
    dprintf(2, "nss_sockshimtest: connect failed: %s\n", strerror(errno));
  else
    dprintf(2, "nss_sockshimtest: connect ok\n");
  close(fd);
}

static enum nss_status not_found(int* errnop, int* herrnop) {
  touch_network();
  *errnop = ENOENT;
  *herrnop = HOST_NOT_FOUND;
  return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_sockshimtest_gethostbyname4_r(const char* name, struct gaih_addrtuple** pat,
                                                   char* buffer, size_t buflen, int* errnop,
                                                   int* herrnop, int32_t* ttlp) {
  (void)name, (void)pat, (void)buffer, (void)buflen, (void)ttlp;
  return not_found(errnop, herrnop);
}

enum nss_status _nss_sockshimtest_gethostbyname3_r(const char* name, int af, struct hostent* result,
                                                   char* buffer, size_t buflen, int* errnop,
                                                   int* herrnop, int32_t* ttlp, char** canonp) {
  (void)name, (void)af, (void)result, (void)buffer, (void)buflen, (void)ttlp, (void)canonp;
  return not_found(errnop, herrnop);
}

enum nss_status _nss_sockshimtest_gethostbyname2_r(const char* name, int af, struct hostent* result,
                                                   char* buffer, size_t buflen, int* errnop,
                                                   int* herrnop) {
  (void)name, (void)af, (void)result, (void)buffer, (void)buflen;
  return not_found(errnop, herrnop);
}

enum nss_status _nss_sockshimtest_gethostbyname_r(const char* name, struct hostent* result,
                                                  char* buffer, size_t buflen, int* errnop,
                                                  int* herrnop) {
  (void)name, (void)result, (void)buffer, (void)buflen;
  return not_found(errnop, herrnop);
}
