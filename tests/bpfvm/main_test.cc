#define CATCH_CONFIG_MAIN
// GCC 12 with -fsanitize=address,undefined -O2 reports a false -Wmaybe-uninitialized inside
// <regex>, which Catch's main uses (a known GCC 12 false positive); with -Werror it would
// break sanitizer builds.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <catch2/catch.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
