// The Catch2 main of storage_tests, alone so it compiles once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
