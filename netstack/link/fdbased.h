// A link endpoint over a file descriptor that keeps packet boundaries: a TUN device opened
// with IFF_TUN | IFF_NO_PI (frames are bare IPv4 packets), or a SOCK_SEQPACKET/SOCK_DGRAM
// socket in tests. The fd is non-blocking; the embedder's loop calls read_available() when
// poll() says it is readable (see runner/tun_runner.h).
#pragma once

#include <string>

#include "netstack/stack/interfaces.h"

namespace netstack::link {

// Opens /dev/net/tun and attaches to (or creates) the IFF_TUN interface `name`, without packet
// info, non-blocking. Returns the fd, or -1 with *error naming the device and the errno text.
int open_tun(const std::string& name, std::string* error);

class FdEndpoint final : public LinkEndpoint {
 public:
  // Takes ownership of fd (closed by the destructor).
  FdEndpoint(int fd, std::uint32_t mtu, LinkMedium medium = LinkMedium::kRawIp,
             LinkAddress address = {});
  ~FdEndpoint() override;
  FdEndpoint(const FdEndpoint&) = delete;
  FdEndpoint& operator=(const FdEndpoint&) = delete;

  int fd() const { return fd_; }
  std::uint32_t mtu() const override { return mtu_; }
  LinkMedium medium() const override { return medium_; }
  LinkAddress link_address() const override { return address_; }
  Status write_frame(PacketBuffer frame) override;

  // Reads and delivers up to max_frames frames; stops early when the fd has nothing more
  // (EAGAIN). Returns frames delivered, or -1 when the fd failed (EOF or an error).
  int read_available(int max_frames = 64);

 private:
  int fd_;
  std::uint32_t mtu_;
  LinkMedium medium_;
  LinkAddress address_;
};

}  // namespace netstack::link
