#include "shim/rules_client.h"

#include <dlfcn.h>
#include <limits.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>

#include "shim/rules_abi.h"

namespace shim::rules {
namespace {

constexpr char kLoaderName[] = "libsockshim-rules.so";

struct Loader {
  sockshim_rules_read_fn read = nullptr;
  sockshim_rules_compile_fn compile = nullptr;
};

// The loader sits next to this object (the build's shim/, or the installed private folder), so
// the same path that found the preload object finds it.
bool loader_path(char* out, std::size_t size) noexcept {
  Dl_info info{};
  static const char anchor = 0;   // anything in this object
  if (!dladdr(&anchor, &info) || !info.dli_fname) return false;
  const char* slash = std::strrchr(info.dli_fname, '/');
  const std::size_t dir = slash ? static_cast<std::size_t>(slash - info.dli_fname) + 1 : 0;
  if (dir + sizeof kLoaderName > size) return false;
  std::memcpy(out, info.dli_fname, dir);
  std::memcpy(out + dir, kLoaderName, sizeof kLoaderName);
  return true;
}

// Opened once per process, on first use, and kept (RTLD_NODELETE: the text and images it made
// stay valid, and its exit handlers never run in a half-unloaded object).
const Loader* loader(Error& err) noexcept {
  static Loader l;
  if (l.read) return &l;
  char path[PATH_MAX];
  if (!loader_path(path, sizeof path)) {
    err.s("cannot find the rule loader ").s(kLoaderName).s(" (where is the preload object?)");
    return nullptr;
  }
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!h) {
    err.s("cannot load the rule loader: ").s(dlerror());
    return nullptr;
  }
  auto abi = reinterpret_cast<sockshim_rules_abi_fn>(dlsym(h, "sockshim_rules_abi"));
  auto rd = reinterpret_cast<sockshim_rules_read_fn>(dlsym(h, "sockshim_rules_read"));
  auto cp = reinterpret_cast<sockshim_rules_compile_fn>(dlsym(h, "sockshim_rules_compile"));
  if (!abi || !rd || !cp || abi() != kSockshimRulesAbi) {
    err.s("the rule loader ").s(path).s(" belongs to another build of sockshim");
    return nullptr;
  }
  l.compile = cp;
  l.read = rd;
  return &l;
}

// One table per process: the run's. Never destroyed (it serves calls until the process ends,
// exit handlers included), so it lives in static storage rather than on the heap.
alignas(filters::Table) unsigned char g_storage[sizeof(filters::Table)];

const filters::Table* keep(filters::Table&& t) noexcept { return new (g_storage) filters::Table(static_cast<filters::Table&&>(t)); }

}  // namespace

bool read(const char* path, Text& out, Error& err) noexcept {
  const Loader* l = loader(err);
  if (!l) return false;
  sockshim_rules_result r{};
  if (l->read(path, &r) != 0) {
    err.s(r.error);
    return false;
  }
  out.data = r.text;
  out.len = r.text_len;
  return true;
}

const filters::Table* compile(std::string_view text, const char* file, Error& err) noexcept {
  const Loader* l = loader(err);
  if (!l) return nullptr;
  sockshim_rules_result r{};
  if (l->compile(text.data(), text.size(), file, &r) != 0) {
    err.s(r.error);
    return nullptr;
  }
  const char* why = "";
  const filters::Table* t = view(r.image, r.image_len, &why);   // the image is kept with the table
  if (!t) err.s("the rule loader's table is unusable (").s(why).s(")");
  return t;
}

const filters::Table* view(const void* image, std::size_t len, const char** why) noexcept {
  std::optional<filters::Table> t = filters::Table::view(image, len, why);
  return t ? keep(static_cast<filters::Table&&>(*t)) : nullptr;
}

}  // namespace shim::rules
