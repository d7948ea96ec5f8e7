#include "shim/cmd/elf_probe.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
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

// True when the ELF file has a PT_INTERP program header (it is dynamically linked).
bool has_interp(const std::vector<char>& f) {
  if (f.size() < sizeof(Elf64_Ehdr) || f[EI_CLASS] != ELFCLASS64) return true;  // be lenient
  Elf64_Ehdr eh;
  std::memcpy(&eh, f.data(), sizeof eh);
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    const std::size_t off = eh.e_phoff + static_cast<std::size_t>(i) * eh.e_phentsize;
    if (off > f.size() || sizeof(Elf64_Phdr) > f.size() - off) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, f.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

// True when the ELF file has a section of that name (section headers may be stripped: then no).
bool has_section(const std::vector<char>& f, const char* name) {
  if (f.size() < sizeof(Elf64_Ehdr) || f[EI_CLASS] != ELFCLASS64) return false;
  Elf64_Ehdr eh;
  std::memcpy(&eh, f.data(), sizeof eh);
  const auto header = [&](unsigned i, Elf64_Shdr& sh) {
    const std::size_t off = eh.e_shoff + static_cast<std::size_t>(i) * eh.e_shentsize;
    if (eh.e_shentsize < sizeof sh || off > f.size() || sizeof sh > f.size() - off) return false;
    std::memcpy(&sh, f.data() + off, sizeof sh);
    return true;
  };
  Elf64_Shdr names;
  if (eh.e_shstrndx >= eh.e_shnum || !header(eh.e_shstrndx, names) || names.sh_offset > f.size()) return false;
  const std::size_t want = std::strlen(name) + 1;
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!header(i, sh)) return false;
    const std::size_t at = names.sh_offset + sh.sh_name;
    if (sh.sh_name < names.sh_size && at <= f.size() && want <= f.size() - at && std::memcmp(f.data() + at, name, want) == 0)
      return true;
  }
  return false;
}

}  // namespace

ExecProbe probe_executable(const std::string& command) {
  ExecProbe p;
  p.path = find_in_path(command);
  if (p.path.empty()) return p;
  struct stat st {};
  if (stat(p.path.c_str(), &st) != 0) return p;
  p.setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
  std::ifstream in(p.path, std::ios::binary);
  if (!in) {
    p.kind = ExecProbe::Kind::kUnreadable;
    return p;
  }
  std::vector<char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (f.size() >= 2 && f[0] == '#' && f[1] == '!') {
    p.kind = ExecProbe::Kind::kScript;
    std::string line(f.begin() + 2, std::find(f.begin(), f.end(), '\n'));
    std::stringstream words(line);
    words >> p.interpreter;
    return p;
  }
  if (f.size() < 4 || std::memcmp(f.data(), ELFMAG, SELFMAG) != 0) {
    p.kind = ExecProbe::Kind::kNotElf;
    return p;
  }
  p.kind = has_interp(f) ? ExecProbe::Kind::kDynamic : ExecProbe::Kind::kStatic;
  if (f.size() >= sizeof(Elf64_Ehdr) && f[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr eh;
    std::memcpy(&eh, f.data(), sizeof eh);
    p.x86_64 = eh.e_machine == EM_X86_64;
  }
  // Go's linker writes .go.buildinfo (the module and build settings) and the .note.go.buildid
  // note. Sections, not a string search: any program that merely mentions "Go build ID" (this
  // command does) would pass for Go, and `auto` would take the wrong mode.
  p.go = has_section(f, ".go.buildinfo") || has_section(f, ".note.go.buildid");
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
