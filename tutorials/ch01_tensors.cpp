// Chapter 1 — tensors: how a tensor sits in memory, how broadcasting stretches it, where
// the random numbers come from, and why the matrix product is left to BLAS.
//
//   ch01_tensors [--quick] [--out DIR]
//
// Runs in about 20 seconds on 2 cores (--quick: about a second). Writes DIR/matmul_speed.csv
// (default out/ch01) for the figure of book/01-tensors.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;
using tutorial::show;

namespace {

// region: strides
// The stride of a dimension: how many elements apart two neighbours along it are.
// Row-major: the last dimension has stride 1, every other one the product of the
// extents to its right.
std::vector<int64_t> row_major_strides(const Shape& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
    return strides;
}
// endregion: strides

// region: naive-matmul
// C = A B for A [n, k] and B [k, m], row-major: the textbook triple loop.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
    const int64_t n = a.size(0), k = a.size(1), m = b.size(1);
    Tensor c = Tensor::zeros({n, m});
    const float* pa = a.data();
    const float* pb = b.data();
    float* pc = c.data();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; ++p) acc += pa[i * k + p] * pb[p * m + j];  // row i of A · column j of B
            pc[i * m + j] = acc;
        }
    return c;
}
// endregion: naive-matmul

// region: timing
// The clock a measurement reads. Wall time is what a user waits for. Processor time
// counts only the moments this program was running, so other programs on a busy machine
// cannot inflate it; but it adds up the time of all threads, so it suits one thread only.
enum class Clock { wall, processor };

double now(Clock clock) {
    if (clock == Clock::processor) return double(std::clock()) / CLOCKS_PER_SEC;
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds per call of `work`. Calls are timed in batches of at least a millisecond, so
// that the clock's resolution does not matter; the first batch also warms the caches.
// Of at least three batches, run until `budget` seconds have passed, the fastest counts:
// it is the one least disturbed by whatever else the machine was doing.
template <class Work>
double seconds_per_call(Work work, double budget, Clock clock) {
    int batch = 1;
    while (true) {
        const double start = now(clock);
        for (int i = 0; i < batch; ++i) work();
        if (now(clock) - start >= 1e-3) break;
        batch *= 2;
    }
    double best = 1e30, total = 0.0;
    for (int batches = 0; batches < 3 || total < budget; ++batches) {
        const double start = now(clock);
        for (int i = 0; i < batch; ++i) work();
        const double seconds = now(clock) - start;
        best = std::min(best, seconds / batch);
        total += seconds;
    }
    return best;
}

// An n×n times n×n product takes n³ multiplications and n³ additions.
double gflops(int64_t n, double seconds) { return 2.0 * double(n) * double(n) * double(n) / seconds * 1e-9; }
// endregion: timing

void memory_layout() {
    std::printf("\n== 1. A tensor is a shape and a flat array of floats ==\n\n");
    // region: layout
    Tensor a = Tensor::arange(6).reshape({2, 3});
    std::printf("  a holds %lld floats in one block: ", static_cast<long long>(a.numel()));
    for (int64_t i = 0; i < a.numel(); ++i) std::printf("%g ", static_cast<double>(a[i]));
    std::printf("\n  strides of %s: %s, so a[i, j] is element i*3 + j of the block\n",
                to_string(a.shape()).c_str(), to_string(row_major_strides(a.shape())).c_str());
    std::printf("  a.at({1, 2}) = %g = a[1*3 + 2] = %g\n", static_cast<double>(a.at({1, 2})),
                static_cast<double>(a[1 * 3 + 2]));
    // endregion: layout
    show("a", a);
    std::printf("  A 3-D shape [2, 3, 4] has strides %s: the last index moves fastest.\n",
                to_string(row_major_strides({2, 3, 4})).c_str());

    std::printf("\n== 2. reshape shares the storage, clone copies it ==\n\n");
    // region: reshape-clone
    Tensor b = a.reshape({3, 2});  // the same six floats seen as 3 rows of 2
    b.at({0, 1}) = 100.0f;         // writes element 1 of the shared block
    Tensor c = a.clone();          // six new floats
    c[0] = -1.0f;                  // a does not see this
    std::printf("  b = a.reshape({3, 2}); b.at({0, 1}) = 100  ->  a.at({0, 1}) = %g\n",
                static_cast<double>(a.at({0, 1})));
    std::printf("  c = a.clone(); c[0] = -1                ->  a[0] = %g\n", static_cast<double>(a[0]));
    std::printf("  a and b share storage: %s; a and c: %s\n", a.shares_storage_with(b) ? "yes" : "no",
                a.shares_storage_with(c) ? "yes" : "no");
    // endregion: reshape-clone
    std::printf("  A reshape costs nothing because row-major order does not depend on the shape:\n"
                "  the k-th float is the k-th float whichever way you group them into rows.\n");
}

void broadcasting() {
    std::printf("\n== 3. Broadcasting: shapes are aligned at the right, extents of 1 are stretched ==\n\n");
    // region: broadcast-demo
    Tensor m = Tensor::arange(12).reshape({3, 4});
    Tensor row = Tensor({4}, {100, 200, 300, 400});
    Tensor column = Tensor({3, 1}, {1000, 2000, 3000});
    Tensor m_plus_row = m + row;        // [3, 4] + [4]    -> [3, 4]: row added to every row
    Tensor m_plus_col = m + column;     // [3, 4] + [3, 1] -> [3, 4]: column added to every column
    Tensor outer = column * Tensor({1, 4}, {1, 2, 3, 4});  // [3, 1] * [1, 4] -> [3, 4]
    // endregion: broadcast-demo
    show("m", m);
    show("row", row);
    show("m + row", m_plus_row);
    show("m + column", m_plus_col);
    show("column * [1, 2, 3, 4] (an outer product)", outer);
    const std::vector<std::pair<Shape, Shape>> pairs{{{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 1, 5}, {3, 1}}, {{8, 1}, {}}};
    std::printf("  The rule, shape by shape:\n");
    for (const auto& p : pairs)
        std::printf("    %-10s with %-8s -> %s\n", to_string(p.first).c_str(), to_string(p.second).c_str(),
                    to_string(broadcast_shapes("demo", p.first, p.second)).c_str());
    try {
        Tensor bad = m + Tensor::ones({3});
        (void)bad;
    } catch (const Error& e) {
        std::printf("  [3, 4] + [3] cannot be broadcast (3 against 4 at the right), and the error says so:\n"
                    "    %s\n", e.what());
    }
}

void random_numbers() {
    std::printf("\n== 4. One seeded generator: the same seed gives the same numbers everywhere ==\n\n");
    // region: rng
    Rng first(42), second(42), other(43);
    const Tensor x1 = Tensor::normal({5}, first);
    const Tensor x2 = Tensor::normal({5}, second);
    const Tensor x3 = Tensor::normal({5}, other);
    // endregion: rng
    show("normal, seed 42", x1);
    show("normal, seed 42 again", x2);
    show("normal, seed 43", x3);
    std::printf("  seed 42 twice: largest difference %g (identical). PCG32 and our own Box-Muller\n"
                "  use only integer and IEEE arithmetic, so these digits are the same on every machine.\n",
                static_cast<double>(max_abs(x1 - x2)));
    Rng pinned(42, 54);
    const uint32_t u1 = pinned.next_u32(), u2 = pinned.next_u32(), u3 = pinned.next_u32();
    std::printf("  PCG32(seed 42, stream 54) starts 0x%08x 0x%08x 0x%08x, as in O'Neill's reference demo.\n",
                u1, u2, u3);
}

struct SpeedRow {
    int64_t n;
    double naive, blas, max_diff, max_value;
};

std::vector<SpeedRow> matmul_race(const Options& o) {
    std::printf("\n== 5. The naive triple loop against cblas_sgemm ==\n\n");
    std::printf("  Both compute C = A B for the same random n x n matrices A and B. BLAS runs on one\n"
                "  thread, so that both contestants use one core and the speed-up is about the code alone.\n"
                "  Both are timed in processor time, which other programs on the machine cannot inflate.\n\n");
    const std::vector<int64_t> sizes = o.quick ? std::vector<int64_t>{64, 128} : std::vector<int64_t>{64, 128, 256, 512};
    const double budget = o.quick ? 0.05 : 0.5;
    std::vector<SpeedRow> rows;
    std::printf("  %5s  %13s  %13s  %8s  %15s\n", "n", "naive GFLOP/s", "sgemm GFLOP/s", "speed-up", "max |C1 - C2|");
    set_threads(1);
    for (int64_t n : sizes) {
        Rng rng(1);
        const Tensor a = Tensor::normal({n, n}, rng);
        const Tensor b = Tensor::normal({n, n}, rng);
        // region: race
        Tensor c_naive, c_blas;
        const double t_naive = seconds_per_call([&] { c_naive = naive_matmul(a, b); }, budget, Clock::processor);
        const double t_blas = seconds_per_call([&] { c_blas = matmul(a, b); }, budget, Clock::processor);
        const float difference = max_abs(c_naive - c_blas);  // rounding only: the sums run in another order
        // endregion: race
        rows.push_back({n, gflops(n, t_naive), gflops(n, t_blas), difference, max_abs(c_blas)});
        const SpeedRow& r = rows.back();
        std::printf("  %5lld  %13.2f  %13.2f  %7.0fx  %15.2e\n", static_cast<long long>(n), r.naive, r.blas,
                    r.blas / r.naive, r.max_diff);
    }
    const SpeedRow& last = rows.back();
    std::printf("\n  The results agree to float rounding: at n = %lld the largest entry of C is %.1f and the\n"
                "  largest difference %.1e, a relative %.1e. The two codes add the same products in a\n"
                "  different order, and float addition is not associative.\n",
                static_cast<long long>(last.n), last.max_value, last.max_diff, last.max_diff / last.max_value);
    return rows;
}

// sgemm on one thread against all of the machine's, in wall time (what a user waits for).
void threads_on(const Options& o, int machine_threads) {
    std::printf("\n== 6. And with threads ==\n\n");
    if (machine_threads < 2) {
        std::printf("  The BLAS may use one thread only here (the machine, or TINYRANK_THREADS), so there is\n"
                    "  nothing to compare.\n");
        return;
    }
    std::printf("  The same product in wall-clock time, on 1 thread and on %d (the machine's default):\n\n",
                machine_threads);
    std::printf("  %5s  %16s  %16s  %8s\n", "n", "1 thread GFLOP/s", "threads GFLOP/s", "gain");
    const std::vector<int64_t> sizes = o.quick ? std::vector<int64_t>{128} : std::vector<int64_t>{128, 256, 512, 1024};
    const double budget = o.quick ? 0.05 : 0.5;
    double best_gain = 0.0;
    int64_t best_n = 0;
    for (int64_t n : sizes) {
        Rng rng(1);
        const Tensor a = Tensor::normal({n, n}, rng);
        const Tensor b = Tensor::normal({n, n}, rng);
        set_threads(1);
        const double one = gflops(n, seconds_per_call([&] { matmul(a, b); }, budget, Clock::wall));
        set_threads(machine_threads);
        const double all = gflops(n, seconds_per_call([&] { matmul(a, b); }, budget, Clock::wall));
        if (all / one > best_gain) {
            best_gain = all / one;
            best_n = n;
        }
        std::printf("  %5lld  %16.2f  %16.2f  %7.2fx\n", static_cast<long long>(n), one, all, all / one);
    }
    if (best_gain > 1.3)
        std::printf("\n  With %d threads sgemm reached up to %.2fx its one-thread speed (n = %lld). Where the gain\n"
                    "  is smaller, the product was too small to split well, or other programs were using the\n"
                    "  other cores: wall-clock times depend on the whole machine (compare `uptime`).\n",
                    machine_threads, best_gain, static_cast<long long>(best_n));
    else
        std::printf("\n  The threads bought little here. Either the products are too small, or other programs\n"
                    "  keep the other cores busy and the BLAS threads wait for them (compare `uptime`).\n");
}

void write_csv(const Options& o, const std::vector<SpeedRow>& rows) {
    const std::string path = tutorial::output_file(o, "matmul_speed.csv");
    std::ofstream out(path);
    out << "n,naive_gflops,blas_gflops,speedup\n";
    for (const SpeedRow& r : rows) out << r.n << ',' << r.naive << ',' << r.blas << ',' << r.blas / r.naive << '\n';
    if (!out) throw Error("ch01_tensors: cannot write " + path);
    std::printf("\n  Wrote %s (n, naive_gflops, blas_gflops, speedup; 1 BLAS thread) for the chapter's figure.\n",
                path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch01_tensors", "out/ch01");
    return tutorial::run(options, "Chapter 1: tensors.", [&] {
        std::printf("A silently slow BLAS is the most common performance surprise, so every program says\n"
                    "which one it loaded and with how many threads.\n");
        const int machine_threads = threads();
        memory_layout();
        broadcasting();
        random_numbers();
        const std::vector<SpeedRow> rows = matmul_race(options);
        write_csv(options, rows);
        threads_on(options, machine_threads);
        const SpeedRow& last = rows.back();
        std::printf("\nSummary: at n = %lld, sgemm on one core is %.0fx faster than the triple loop (%.2f vs %.2f\n"
                    "GFLOP/s). Cache blocking, SIMD and packing make that difference; chapter 1 explains them.\n",
                    static_cast<long long>(last.n), last.blas / last.naive, last.blas, last.naive);
    });
}
