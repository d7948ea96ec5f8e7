#include "shim/next_symbol.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

namespace shim::elf {

namespace {

// A d_ptr of the loader's own list is already relocated on this architecture (glibc rewrites the
// dynamic section it maps), except where the section is read-only: the vDSO's. An unrelocated
// value is an offset in the object, so smaller than its base.
std::uintptr_t address(std::uintptr_t base, ElfW(Addr) ptr) noexcept {
  return ptr < base ? base + ptr : ptr;
}

// The loader's list of objects, through the program's DT_DEBUG entry (it puts &_r_debug there
// before any constructor runs, for debuggers). Null for a program without one.
const link_map* first_object() noexcept {
  const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(getauxval(AT_PHDR));
  const unsigned long phnum = getauxval(AT_PHNUM);
  if (!phdr) return nullptr;
  std::uintptr_t bias = 0;
  const ElfW(Phdr)* dynamic = nullptr;
  for (unsigned long i = 0; i < phnum; ++i) {
    if (phdr[i].p_type == PT_PHDR) bias = reinterpret_cast<std::uintptr_t>(phdr) - phdr[i].p_vaddr;
    if (phdr[i].p_type == PT_DYNAMIC) dynamic = &phdr[i];
  }
  if (!dynamic) return nullptr;
  for (const auto* d = reinterpret_cast<const ElfW(Dyn)*>(bias + dynamic->p_vaddr); d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_DEBUG) {
      const auto* r = reinterpret_cast<const r_debug*>(d->d_un.d_ptr);
      return r ? r->r_map : nullptr;
    }
  }
  return nullptr;
}

bool read_image(const link_map& m, NextObjects::Image& out) noexcept {
  out = {};
  out.base = m.l_addr;
  if (!m.l_ld) return false;
  for (const ElfW(Dyn)* d = m.l_ld; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_GNU_HASH: out.gnu_hash = reinterpret_cast<const std::uint32_t*>(address(m.l_addr, d->d_un.d_ptr)); break;
      case DT_SYMTAB: out.symtab = reinterpret_cast<const void*>(address(m.l_addr, d->d_un.d_ptr)); break;
      case DT_STRTAB: out.strtab = reinterpret_cast<const char*>(address(m.l_addr, d->d_un.d_ptr)); break;
      case DT_VERSYM: out.versym = reinterpret_cast<const std::uint16_t*>(address(m.l_addr, d->d_un.d_ptr)); break;
      default: break;
    }
  }
  return out.gnu_hash && out.symtab && out.strtab;
}

bool same_name(const char* a, const char* b) noexcept {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Tri-state answer for one object: found, not here, or "ask the loader".
enum class Lookup { kFound, kAbsent, kUnsure };

Lookup find_in(const NextObjects::Image& im, const char* name, std::uint32_t h, void*& out) noexcept {
  // DT_GNU_HASH: nbuckets, symoffset, bloom words, bloom shift; the bloom filter; the buckets;
  // the hash chains (bit 0 of a chain value marks the end of a bucket's run).
  const std::uint32_t nbuckets = im.gnu_hash[0], symoffset = im.gnu_hash[1];
  const std::uint32_t bloom_size = im.gnu_hash[2], bloom_shift = im.gnu_hash[3];
  if (nbuckets == 0 || bloom_size == 0) return Lookup::kAbsent;
  const auto* bloom = reinterpret_cast<const ElfW(Addr)*>(im.gnu_hash + 4);
  constexpr unsigned kBits = sizeof(ElfW(Addr)) * 8;
  const ElfW(Addr) word = bloom[(h / kBits) & (bloom_size - 1)];
  const ElfW(Addr) mask = (ElfW(Addr){1} << (h % kBits)) | (ElfW(Addr){1} << ((h >> bloom_shift) % kBits));
  if ((word & mask) != mask) return Lookup::kAbsent;
  const auto* buckets = reinterpret_cast<const std::uint32_t*>(bloom + bloom_size);
  const std::uint32_t* chain = buckets + nbuckets;
  std::uint32_t i = buckets[h % nbuckets];
  if (i < symoffset) return Lookup::kAbsent;
  const auto* syms = static_cast<const ElfW(Sym)*>(im.symtab);
  for (;; ++i) {
    const std::uint32_t ch = chain[i - symoffset];
    if ((ch | 1) == (h | 1) && same_name(name, im.strtab + syms[i].st_name)) {
      const ElfW(Sym)& s = syms[i];
      // dlsym's rules: a definition (not an undefined reference), not a hidden (non-default)
      // version, not local (VER_NDX_LOCAL).
      const bool defined = s.st_shndx != SHN_UNDEF && (s.st_value != 0 || ELF64_ST_TYPE(s.st_info) == STT_TLS);
      const std::uint16_t ver = im.versym ? im.versym[i] : 1;
      if (defined && (ver & 0x8000) == 0 && (ver & 0x7fff) != 0) {
        const unsigned type = ELF64_ST_TYPE(s.st_info);
        if (type == STT_GNU_IFUNC || type == STT_TLS) return Lookup::kUnsure;   // the loader's job
        out = reinterpret_cast<void*>(im.base + s.st_value);
        return Lookup::kFound;
      }
    }
    if (ch & 1) return Lookup::kAbsent;
  }
}

}  // namespace

bool NextObjects::init(const void* self_dynamic) noexcept {
  count_ = 0;
  const link_map* m = first_object();
  while (m && m->l_ld != self_dynamic) m = m->l_next;
  if (!m) return false;
  for (m = m->l_next; m; m = m->l_next) {
    if (count_ == kMaxImages || !read_image(*m, images_[count_])) return true;   // dlsym beyond
    ++count_;
  }
  return true;
}

void* NextObjects::find(const char* name, std::uint32_t hash) const noexcept {
  for (int i = 0; i < count_; ++i) {
    void* p = nullptr;
    switch (find_in(images_[i], name, hash, p)) {
      case Lookup::kFound: return p;
      case Lookup::kUnsure: return nullptr;
      case Lookup::kAbsent: break;
    }
  }
  return nullptr;   // not found (dlsym will say so too) or an object we could not read
}

}  // namespace shim::elf
