// What dlsym(RTLD_NEXT, name) returns for the preload object, found by reading the loaded objects'
// GNU hash tables directly. dlsym costs about 850 instructions a symbol (the loader's error
// catching, its lock, a lookup through the whole scope); the shim resolves 36 in every process it
// starts, which was a third of what it added to each exec (docs/performance.md). This walk costs
// about a tenth of that, takes no lock and allocates nothing.
//
// The answer is the same as dlsym's or none: next_definition() returns null whenever it cannot be
// sure (no GNU hash table, an IFUNC whose resolver only the loader may run, the preload object not
// found in the link map), and the caller then asks dlsym.
#pragma once

#include <cstdint>
#include <string_view>

namespace shim::elf {

// The GNU hash of a symbol name (the one DT_GNU_HASH tables are built with): h = h * 33 + c,
// starting from 5381. constexpr so the shim's names are hashed at compile time.
constexpr std::uint32_t gnu_hash(std::string_view name) noexcept {
  std::uint32_t h = 5381;
  for (unsigned char c : name) h = h * 33 + c;
  return h;
}

// The objects to search: those loaded after the one whose dynamic section is `self_dynamic` (the
// preload object's _DYNAMIC), in link-map order. Found once through the program's DT_DEBUG entry
// (the loader's r_debug); false when there is none or `self_dynamic` is not in the list.
class NextObjects {
 public:
  bool init(const void* self_dynamic) noexcept;
  // The default-version definition of `name` (hash = gnu_hash(name)) in the first object after
  // ours that defines it, as dlsym(RTLD_NEXT) finds it; null when not found or not certain.
  void* find(const char* name, std::uint32_t hash) const noexcept;

  struct Image {   // one object's dynamic symbol table, as the loader mapped it
    std::uintptr_t base = 0;
    const std::uint32_t* gnu_hash = nullptr;
    const void* symtab = nullptr;         // ElfW(Sym)[]
    const char* strtab = nullptr;
    const std::uint16_t* versym = nullptr;   // null: an unversioned object
  };

 private:
  static constexpr int kMaxImages = 16;   // more objects after ours than this: dlsym for the rest
  Image images_[kMaxImages];
  int count_ = 0;
};

}  // namespace shim::elf
