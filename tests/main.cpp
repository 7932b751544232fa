// The doctest runner for every test file in tests/. Prints which BLAS runs, and pins the
// BLAS to one thread so that the tests' numbers are deterministic.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "tinyrank/runtime.hpp"

int main(int argc, char** argv) {
    tinyrank::set_threads(1);
    std::cout << tinyrank::blas_info() << '\n';
    doctest::Context context(argc, argv);
    return context.run();
}
