// Catch2 main of this test binary.
#define CATCH_CONFIG_MAIN
#include "tests/catch.h"
