// What the preload object asks the rule loader (libsockshim-rules.so, shim/rules_loader.cc), in C
// types only: the two objects share no C++ runtime. The loader holds everything a rule file needs
// (nlohmann/json, libstdc++, exceptions) and is opened only by a process that must parse a rule
// file itself: the first process of a bare `LD_PRELOAD=... SOCKSHIM_RULES=FILE` run, or one whose
// segment's compiled table is not this build's. Processes of a `sockshim run` (whose command
// compiled the table into the segment) never open it: that keeps libstdc++ out of every process
// start (docs/performance.md, "Start-up").
#pragma once

#include <cstddef>

extern "C" {

// Bumped with any change below; the preload object refuses a loader of another version.
inline constexpr unsigned kSockshimRulesAbi = 1;

struct sockshim_rules_result {
  char* text;          // sockshim_rules_read: the file as read, malloc'd, NUL-terminated
  std::size_t text_len;
  void* image;         // sockshim_rules_compile: the compiled table (filters/table_image.h),
  std::size_t image_len;   // malloc'd, aligned for filters::Table::view
  char error[1024];    // when a call returns -1: "FILE:LINE:COL: KEY: what is wrong"
};

// The version of this interface the loader was built with.
unsigned sockshim_rules_abi(void);
// Reads the rule file at path once (regular files only: before main a FIFO could block). 0, or -1
// with r->error.
int sockshim_rules_read(const char* path, sockshim_rules_result* r);
// Parses and validates text (file names it in messages) and compiles it. 0, or -1 with r->error.
int sockshim_rules_compile(const char* text, std::size_t len, const char* file, sockshim_rules_result* r);

using sockshim_rules_abi_fn = unsigned (*)(void);
using sockshim_rules_read_fn = int (*)(const char*, sockshim_rules_result*);
using sockshim_rules_compile_fn = int (*)(const char*, std::size_t, const char*, sockshim_rules_result*);

}  // extern "C"
