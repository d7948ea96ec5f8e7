// Catch2 v2 for every test binary. GCC 12 with -fsanitize=address,undefined reports a false
// -Wmaybe-uninitialized inside <regex>, which Catch's main uses; with -Werror it would break the
// sanitizer build, so the warning is silenced for this header only.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <catch2/catch.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
