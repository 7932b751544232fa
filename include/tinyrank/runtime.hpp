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
// Starts the program again with OMP_WAIT_POLICY=passive when that variable is not set, so that a
// thread waiting at the end of a parallel loop sleeps instead of spinning (book §11.6). libgomp
// reads the variable once, when it is loaded, so a running program cannot change it. On 2 cores
// passive waiting was faster on a quiet machine (LeNet-5, 150 batches, 2 threads: 3.3–3.5 s
// against 3.8–3.9 s) and avoids the collapse on a busy one (3.8 s against 8.7 s for 100
// batches). Returns only if the variable was set already (or the restart failed).
void restart_with_passive_waiting(char** argv);
// One line naming the BLAS library, its build configuration and its thread count.
std::string blas_info();

}  // namespace tinyrank
