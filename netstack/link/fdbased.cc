#include "netstack/link/fdbased.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace netstack::link {

int open_tun(const std::string& name, std::string* error) {
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("/dev/net/tun: ") + std::strerror(errno);
    return -1;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (name.size() >= sizeof ifr.ifr_name) {
    *error = "tun device name too long: " + name;
    ::close(fd);
    return -1;
  }
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    *error = "TUNSETIFF " + name + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

FdEndpoint::FdEndpoint(int fd, std::uint32_t mtu, LinkMedium medium, LinkAddress address)
    : fd_(fd), mtu_(mtu), medium_(medium), address_(address) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

FdEndpoint::~FdEndpoint() {
  if (fd_ >= 0) ::close(fd_);
}

Status FdEndpoint::write_frame(PacketBuffer frame) {
  const ByteView v = frame.view();
  const ssize_t n = ::write(fd_, v.data(), v.size());
  if (n < 0) return errno == EAGAIN ? Errc::kNoBufferSpace : Errc::kClosedForSend;
  return {};
}

int FdEndpoint::read_available(int max_frames) {
  const std::size_t link_header = medium_ == LinkMedium::kEthernet ? 14 : 0;
  int delivered = 0;
  while (delivered < max_frames) {
    // Read straight into the buffer the stack will parse: no copy on the receive path.
    PacketBuffer buf = PacketBuffer::zeroed(mtu_ + link_header, 0);
    auto out = buf.mutable_view();
    const ssize_t n = ::read(fd_, out.data(), out.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return -1;
    }
    if (n == 0) return delivered > 0 ? delivered : -1;
    buf.truncate(static_cast<std::size_t>(n));
    if (dispatcher() != nullptr) dispatcher()->deliver_frame(std::move(buf));
    ++delivered;
  }
  return delivered;
}

}  // namespace netstack::link
