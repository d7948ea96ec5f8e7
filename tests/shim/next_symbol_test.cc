// The preload object finds the real libc functions by reading hash tables instead of calling
// dlsym(RTLD_NEXT) (shim/next_symbol.h). Whatever it answers must be exactly dlsym's answer; where
// it is not sure it answers nothing (the shim then asks dlsym). Here the test program plays the
// preload object: RTLD_NEXT from it searches the objects loaded after it.
#include <dlfcn.h>
#include <link.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "shim/next_symbol.h"


namespace {

// Every name the shim resolves (shim/symbols.def, plus the vfork its trampoline jumps to).
std::vector<std::string> shim_names() {
  std::vector<std::string> names;
#define SHIM_SYMBOL(ret, name, params, args, call) names.push_back(#name);
#define SHIM_SYMBOL_VA(ret, name) names.push_back(#name);
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
  names.push_back("vfork");
  return names;
}

}  // namespace

TEST_CASE("next_symbol: the gnu hash of known names") {
  // Values from the ELF GNU hash definition (h = h * 33 + c from 5381).
  STATIC_REQUIRE(shim::elf::gnu_hash("") == 5381u);
  STATIC_REQUIRE(shim::elf::gnu_hash("a") == 177670u);
  STATIC_REQUIRE(shim::elf::gnu_hash("printf") == 0x156b2bb8u);
}

TEST_CASE("next_symbol: every wrapped function is found, at dlsym's address") {
  shim::elf::NextObjects next;
  REQUIRE(next.init(_DYNAMIC));
  for (const std::string& n : shim_names()) {
    INFO(n);
    void* fast = next.find(n.c_str(), shim::elf::gnu_hash(n));
    CHECK(fast != nullptr);   // the fast path serves them all on this libc
    CHECK(fast == dlsym(RTLD_NEXT, n.c_str()));
  }
}

TEST_CASE("next_symbol: other names answer dlsym's address or nothing") {
  shim::elf::NextObjects next;
  REQUIRE(next.init(_DYNAMIC));
  // Versioned functions with a default and older versions (realpath, pthread_cond_wait), an IFUNC
  // (memcpy: only the loader may run its resolver), data (environ), names nobody defines.
  const char* names[] = {"malloc", "printf", "realpath", "pthread_cond_wait", "memcpy", "strlen",
                         "environ", "timer_create", "sched_getaffinity", "regexec", "fmemopen",
                         "sockshim_no_such_symbol", "", "_r_debug", "__libc_start_main"};
  int found = 0;
  for (const char* n : names) {
    INFO(n);
    void* fast = next.find(n, shim::elf::gnu_hash(n));
    if (fast) {
      ++found;
      CHECK(fast == dlsym(RTLD_NEXT, n));
    }
  }
  CHECK(found >= 8);
  CHECK(next.find("sockshim_no_such_symbol", shim::elf::gnu_hash("sockshim_no_such_symbol")) == nullptr);
#ifndef __SANITIZE_ADDRESS__   // ASan's runtime comes first and defines memcpy as a plain function
  CHECK(next.find("memcpy", shim::elf::gnu_hash("memcpy")) == nullptr);   // libc's IFUNC: left to dlsym
#endif
}

TEST_CASE("next_symbol: an object that is not loaded finds nothing") {
  static const ElfW(Dyn) not_a_dynamic_section[1] = {};
  shim::elf::NextObjects next;
  CHECK_FALSE(next.init(not_a_dynamic_section));
  CHECK(next.find("socket", shim::elf::gnu_hash("socket")) == nullptr);
}
