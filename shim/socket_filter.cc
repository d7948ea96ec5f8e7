#include "shim/socket_filter.h"

#include <errno.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstring>

#include "bpfvm/compose.h"
#include "bpfvm/validator.h"
#include "shim/real.h"
#include "shim/sys.h"

namespace shim::socket_filter {
namespace {

// bpfvm's Instruction is the kernel's struct sock_filter, field for field: the kernel reads and
// writes the buffers below as such.
static_assert(sizeof(bpfvm::Instruction) == sizeof(sock_filter));
static_assert(offsetof(bpfvm::Instruction, code) == offsetof(sock_filter, code) &&
              offsetof(bpfvm::Instruction, jt) == offsetof(sock_filter, jt) &&
              offsetof(bpfvm::Instruction, jf) == offsetof(sock_filter, jf) &&
              offsetof(bpfvm::Instruction, k) == offsetof(sock_filter, k));

// Instructions in an anonymous mapping, for the length of one call; errno survives its release.
class Scratch {
 public:
  explicit Scratch(std::size_t n) noexcept : bytes_(n * sizeof(bpfvm::Instruction)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) p_ = static_cast<bpfvm::Instruction*>(p);
  }
  ~Scratch() {
    if (!p_) return;
    const int e = errno;
    munmap(p_, bytes_);
    errno = e;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  bpfvm::Instruction* get() const noexcept { return p_; }

 private:
  std::size_t bytes_;
  bpfvm::Instruction* p_ = nullptr;
};

// The program's memory, read or written as the kernel would: a bad address fails (EFAULT) rather
// than faulting here.
bool read_program(void* to, const void* from, std::size_t n) noexcept {
  iovec local{to, n}, remote{const_cast<void*>(from), n};
  return process_vm_readv(sys::getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}
bool write_program(void* to, const void* from, std::size_t n) noexcept {
  iovec local{const_cast<void*>(from), n}, remote{to, n};
  return process_vm_writev(sys::getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

int set_filter(int fd, const bpfvm::Instruction* code, std::size_t n) noexcept {
  const sock_fprog prog{static_cast<unsigned short>(n),
                        reinterpret_cast<sock_filter*>(const_cast<bpfvm::Instruction*>(code))};
  return real::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

// Instructions of the classic filter on fd (SO_GET_FILTER with length 0); 0 for none and when
// the kernel will not say; kEbpf for an eBPF program (sk_get_filter: EACCES, it has no classic
// form).
constexpr std::size_t kEbpf = SIZE_MAX;
std::size_t kernel_filter_len(int fd) noexcept {
  socklen_t n = 0;
  const int e = errno;
  const bool ok = real::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &n) == 0;
  const bool ebpf = !ok && errno == EACCES;
  errno = e;
  return ok ? n : ebpf ? kEbpf : 0;
}

Result failed(int err) noexcept { return Result{-1, err, false, false, 0}; }

// The program's call made as it asked. On success its filter is the socket's: the gate is lifted.
Result pass_attach(int fd, int name, const void* optval, socklen_t optlen) noexcept {
  if (real::setsockopt(fd, SOL_SOCKET, name, optval, optlen) != 0) {
    Result r = failed(errno);
    r.armed = true;   // the kernel changed nothing: the gate stays
    return r;
  }
  return Result{0, 0, false, true, 0};
}

// Gate + junction in buf[0, prefix), the program's own at buf[prefix, prefix + own): checked
// alone (the kernel decides on anything we would refuse), then together, then attached.
bool attach_composed(int fd, std::span<const bpfvm::Instruction> gate, bpfvm::Instruction* buf,
                     std::size_t own) noexcept {
  const std::size_t prefix = bpfvm::gate_prefix_size(gate.size());
  if (bpfvm::check({buf + prefix, own})) return false;
  if (bpfvm::write_gate_prefix(gate, {buf, prefix}) != prefix) return false;
  if (bpfvm::check({buf, prefix + own})) return false;
  return set_filter(fd, buf, prefix + own) == 0;
}

}  // namespace

Result arm(int fd, std::span<const bpfvm::Instruction> gate, int own_hint) noexcept {
  const int saved = errno;
  const std::size_t there = kernel_filter_len(fd);
  Result r;
  if (there == kEbpf) {   // the program's eBPF filter: no composing with it, it stays
    r.lifted = true;
    return r;
  }
  std::size_t own = own_hint < 0 ? there : static_cast<std::size_t>(own_hint);
  if (own > there) own = 0;   // the record is stale: nothing of the program's is known to be there
  if (own == 0) {
    r.armed = set_filter(fd, gate.data(), gate.size()) == 0;
    r.lifted = !r.armed && errno == EPERM;   // the program locked its socket's filter
    errno = saved;
    return r;
  }
  const std::size_t prefix = bpfvm::gate_prefix_size(gate.size());
  if (prefix + own <= bpfvm::kMaxInsns) {
    Scratch buf(prefix + there);
    socklen_t len = static_cast<socklen_t>(there);
    if (buf.get() && real::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, buf.get() + prefix, &len) == 0 &&
        len == there) {
      // The program's part is the tail of what is there; an earlier gate in front of it goes.
      std::memmove(buf.get() + prefix, buf.get() + prefix + (there - own), own * sizeof(bpfvm::Instruction));
      r.armed = attach_composed(fd, gate, buf.get(), own);
    }
  }
  r.lifted = !r.armed;   // the program's filter stays as it was, without the gate
  r.own_len = r.armed ? static_cast<std::uint16_t>(own) : 0;
  errno = saved;
  return r;
}

int own_behind(int fd, std::span<const bpfvm::Instruction> gate) noexcept {
  const std::size_t there = kernel_filter_len(fd);
  if (there == 0 || there == kEbpf || there > bpfvm::kMaxInsns) return -1;
  const std::size_t prefix = bpfvm::gate_prefix_size(gate.size());
  const std::size_t want = there == gate.size() ? gate.size() : prefix;   // attached alone, or composed
  if (there < want) return -1;
  Scratch buf(there + prefix);
  const int saved = errno;
  socklen_t len = static_cast<socklen_t>(there);
  const bool got = buf.get() && real::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, buf.get(), &len) == 0 && len == there;
  errno = saved;
  if (!got) return -1;
  bpfvm::Instruction* const ours = buf.get() + there;
  if (want == gate.size())
    std::memcpy(ours, gate.data(), gate.size() * sizeof(bpfvm::Instruction));
  else if (bpfvm::write_gate_prefix(gate, {ours, prefix}) != prefix)
    return -1;
  if (std::memcmp(buf.get(), ours, want * sizeof(bpfvm::Instruction)) != 0) return -1;
  return static_cast<int>(there - want);
}

Result attach(int fd, std::span<const bpfvm::Instruction> gate, const void* optval, socklen_t optlen) noexcept {
  // The kernel takes exactly a struct sock_fprog (copy_bpf_fprog_from_user); anything else, and
  // programs it refuses by their length, get its own answer.
  sock_fprog fp{};
  if (optlen != sizeof fp || !read_program(&fp, optval, sizeof fp) || fp.len == 0 || fp.len > bpfvm::kMaxInsns)
    return pass_attach(fd, SO_ATTACH_FILTER, optval, optlen);
  const std::size_t prefix = bpfvm::gate_prefix_size(gate.size());
  if (prefix + fp.len <= bpfvm::kMaxInsns) {
    Scratch buf(prefix + fp.len);
    if (buf.get() && read_program(buf.get() + prefix, fp.filter, fp.len * sizeof(sock_filter)) &&
        attach_composed(fd, gate, buf.get(), fp.len))
      return Result{0, 0, true, false, fp.len};
  }
  return pass_attach(fd, SO_ATTACH_FILTER, optval, optlen);
}

Result attach_bpf(int fd, const void* optval, socklen_t optlen) noexcept {
  return pass_attach(fd, SO_ATTACH_BPF, optval, optlen);
}

Result detach(int fd, std::span<const bpfvm::Instruction> gate, std::uint16_t own_len) noexcept {
  if (own_len == 0) {
    // What sk_detach_filter says to a socket without a filter: EPERM when locked, else ENOENT.
    int locked = 0;
    socklen_t n = sizeof locked;
    const int e = errno;
    const bool ok = real::getsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &locked, &n) == 0;
    errno = e;
    Result r = failed(ok && locked ? EPERM : ENOENT);
    r.armed = true;
    return r;
  }
  if (set_filter(fd, gate.data(), gate.size()) != 0) {
    Result r = failed(errno);   // locked: nothing changed
    r.armed = true;
    r.own_len = own_len;
    return r;
  }
  return Result{0, 0, true, false, 0};
}

Result get(int fd, std::size_t prefix, std::uint16_t own_len, void* optval, socklen_t* optlen) noexcept {
  const auto kernel_answer = [&]() noexcept {
    Result r{real::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, optval, optlen), 0, true, false, own_len};
    r.err = errno;
    return r;
  };
  // sock_getsockopt reads the length first: EFAULT, then EINVAL for a negative one.
  int len = 0;
  if (!read_program(&len, optlen, sizeof len)) return failed(EFAULT);
  if (len < 0) return failed(EINVAL);
  if (own_len != 0) {
    const std::size_t total = prefix + own_len;
    if (kernel_filter_len(fd) != total) return kernel_answer();
    if (len != 0) {   // 0 asks only for the length (sk_get_filter)
      if (len < own_len) return failed(EINVAL);
      Scratch buf(total);
      socklen_t n = static_cast<socklen_t>(total);
      if (!buf.get() || real::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, buf.get(), &n) != 0 || n != total)
        return kernel_answer();
      if (!write_program(optval, buf.get() + prefix, own_len * sizeof(sock_filter))) return failed(EFAULT);
    }
  }
  // Length 0 without a filter of the program's own: what the kernel says of a socket without one.
  const int shown = own_len;
  if (!write_program(optlen, &shown, sizeof shown)) return failed(EFAULT);
  return Result{0, 0, true, false, own_len};
}

}  // namespace shim::socket_filter
