// tinyrank/runtime.hpp — which BLAS runs, and how many threads it and tinyrank's loops use.
//
// A silently slow BLAS is the most common performance surprise in this field, so every
// program prints blas_info() at start-up.
#pragma once

#include <string>

namespace tinyrank {

// Sets the number of threads (n ≥ 1) of BLAS and of tinyrank's own parallel loops (OpenMP).
void set_threads(int n);
// The number of BLAS threads in use.
int threads();
// Applies TINYRANK_THREADS from the environment, if set; throws on a malformed value.
void apply_thread_environment();
// True when BLAS runs its threads through OpenMP (the OpenMP build of OpenBLAS): then a
// product called inside one of tinyrank's parallel loops runs on that loop's thread.
bool blas_uses_openmp();
// One line naming the BLAS library, its build configuration and its thread count.
std::string blas_info();

}  // namespace tinyrank
