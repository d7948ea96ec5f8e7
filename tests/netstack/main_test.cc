// Catch2 main of the netstack unit test binary.
#define CATCH_CONFIG_MAIN
#include "tests/catch.h"
