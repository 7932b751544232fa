// BLAS thread control and identification through OpenBLAS's extensions.
#include "tinyrank/runtime.hpp"

#include <cblas.h>
#include <omp.h>

#include <unistd.h>

#include <cstdlib>

#include "tinyrank/error.hpp"

namespace tinyrank {

void set_threads(int n) {
    if (n < 1) throw Error("threads: expected a positive thread count, found " + std::to_string(n));
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int threads() { return openblas_get_num_threads(); }

void apply_thread_environment() {
    const char* value = std::getenv("TINYRANK_THREADS");
    if (value == nullptr || *value == '\0') return;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (*end != '\0' || n < 1 || n > 1024)
        throw Error(std::string("TINYRANK_THREADS: expected a positive integer, found '") + value + "'");
    set_threads(static_cast<int>(n));
}

void restart_with_passive_waiting(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
}

bool blas_uses_openmp() { return openblas_get_parallel() == 2; }  // 0 sequential, 1 pthreads, 2 OpenMP

std::string blas_info() {
    return std::string("BLAS: ") + openblas_get_config() + ", " + std::to_string(threads()) + " thread(s)";
}

}  // namespace tinyrank
