#include "shim/cmd/elf_probe.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace shim::cmd {
namespace {

std::string find_in_path(const std::string& cmd) {
  if (cmd.find('/') != std::string::npos) return cmd;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + cmd;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// The program file, read only where the probe looks (pread): its first page, the program and
// section headers and the section names. Reading a whole Go binary (10 MB and more) cost
// `sockshim run` tens of milliseconds before the program could start.
class File {
 public:
  File(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  // Fills out with len bytes at off; false when the file is shorter or unreadable there.
  bool read(std::uint64_t off, void* out, std::size_t len) const {
    if (off > size_ || len > size_ - off) return false;
    auto* p = static_cast<char*>(out);
    while (len > 0) {
      const ssize_t r = pread(fd_, p, len, static_cast<off_t>(off));
      if (r <= 0) return false;
      p += r, off += static_cast<std::uint64_t>(r), len -= static_cast<std::size_t>(r);
    }
    return true;
  }

 private:
  int fd_;
  std::uint64_t size_;
};

// True when the ELF file has a PT_INTERP program header (it is dynamically linked).
bool has_interp(const File& f, const Elf64_Ehdr& eh) {
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!f.read(eh.e_phoff + static_cast<std::uint64_t>(i) * eh.e_phentsize, &ph, sizeof ph)) break;
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

// True when the ELF file has a section of one of these names (section headers may be stripped:
// then no).
bool has_section(const File& f, const Elf64_Ehdr& eh, std::initializer_list<const char*> wanted) {
  const auto header = [&](unsigned i, Elf64_Shdr& sh) {
    return eh.e_shentsize >= sizeof sh && f.read(eh.e_shoff + static_cast<std::uint64_t>(i) * eh.e_shentsize, &sh, sizeof sh);
  };
  Elf64_Shdr names;
  if (eh.e_shstrndx >= eh.e_shnum || !header(eh.e_shstrndx, names)) return false;
  char name[64];
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!header(i, sh)) return false;
    for (const char* w : wanted) {
      const std::size_t want = std::strlen(w) + 1;
      if (want <= sizeof name && sh.sh_name < names.sh_size && f.read(names.sh_offset + sh.sh_name, name, want) &&
          std::memcmp(name, w, want) == 0)
        return true;
    }
  }
  return false;
}

// What the first page says (a script and its interpreter, an ELF file's kind and machine) and,
// for ELF, its headers and sections.
void probe_contents(const File& f, const std::vector<char>& head, ExecProbe& p) {
  if (head.size() >= 2 && head[0] == '#' && head[1] == '!') {
    p.kind = ExecProbe::Kind::kScript;
    std::string line(head.begin() + 2, std::find(head.begin(), head.end(), '\n'));
    std::stringstream words(line);
    words >> p.interpreter;
    return;
  }
  if (head.size() < 4 || std::memcmp(head.data(), ELFMAG, SELFMAG) != 0) {
    p.kind = ExecProbe::Kind::kNotElf;
    return;
  }
  if (head.size() < sizeof(Elf64_Ehdr) || head[EI_CLASS] != ELFCLASS64) {
    p.kind = ExecProbe::Kind::kDynamic;   // be lenient: a 32-bit or truncated file
    return;
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, head.data(), sizeof eh);
  p.kind = has_interp(f, eh) ? ExecProbe::Kind::kDynamic : ExecProbe::Kind::kStatic;
  p.x86_64 = eh.e_machine == EM_X86_64;
  // Go's linker writes .go.buildinfo (the module and build settings) and the .note.go.buildid
  // note. Sections, not a string search: any program that merely mentions "Go build ID" (this
  // command does) would pass for Go, and `auto` would take the wrong mode.
  p.go = has_section(f, eh, {".go.buildinfo", ".note.go.buildid"});
}

}  // namespace

ExecProbe probe_executable(const std::string& command) {
  ExecProbe p;
  p.path = find_in_path(command);
  if (p.path.empty()) return p;
  struct stat st {};
  if (stat(p.path.c_str(), &st) != 0) return p;
  p.setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
  const int fd = open(p.path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat opened {};
  if (fd < 0 || fstat(fd, &opened) != 0) {
    if (fd >= 0) close(fd);
    p.kind = ExecProbe::Kind::kUnreadable;
    return p;
  }
  const File f(fd, static_cast<std::uint64_t>(opened.st_size));
  std::vector<char> head(std::min<std::uint64_t>(static_cast<std::uint64_t>(opened.st_size), 4096));
  const bool read_head = f.read(0, head.data(), head.size());
  probe_contents(f, read_head ? head : std::vector<char>{}, p);
  close(fd);
  return p;
}

std::string unattached_reason(const ExecProbe& p) {
  using K = ExecProbe::Kind;
  switch (p.kind) {
    case K::kNotFound: return "the command was not found";
    case K::kUnreadable: return p.path + " cannot be read, so the cause cannot be told";
    case K::kNotElf: return p.path + " is not an ELF executable";
    case K::kScript:
      return p.path + " is a script for " + p.interpreter +
             "; that interpreter did not load the shim (is it statically linked?)";
    case K::kStatic:
      return p.path + " is statically linked" +
             std::string(p.go ? " (a Go program)" : "") +
             ": LD_PRELOAD cannot reach it, its socket calls go straight to the kernel";
    case K::kDynamic:
      if (p.setid) return p.path + " is set-user-ID/set-group-ID: the loader ignores LD_PRELOAD for it";
      if (p.go)
        return p.path + " is a Go program: Go's net package makes raw system calls, not libc calls";
      return p.path + " is dynamically linked, but the shim did not load: see the loader's message "
             "above (ld.so: object ... cannot be preloaded), or the program cleared LD_PRELOAD";
  }
  return "unknown cause";
}

}  // namespace shim::cmd
