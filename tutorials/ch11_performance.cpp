// Chapter 11 — performance: how to time a training step so that the numbers mean something,
// what this machine's ceiling for a matrix product is, where the time of a LeNet-5 step goes,
// why a branch the processor cannot predict costs more than the work it guards, and what a
// second thread buys.
//
//   ch11_performance [--quick] [--out DIR]
//
// Runs in about 10 seconds on 2 cores (--quick: fewer repetitions, about 5 seconds). Reads
// MNIST from datasets/mnist (run it from the repository root). Writes DIR/time_per_op.csv,
// DIR/roofline_roof.csv, DIR/roofline_points.csv and DIR/roofline_loops.csv (default
// out/ch11) for the figures of book/11-performance.md. Every time is wall-clock time on whatever else the machine is
// doing: your milliseconds will differ, the ratios much less.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

constexpr int64_t kBatch = 128;            // LeNet-5's training batch in every chapter
constexpr int64_t kStepsPerEpoch = 469;    // ⌈60000 / 128⌉

// How many times each measurement is repeated.
struct Reps {
    int step, op, pool, threads;
};

// region: measure
// The middle value of `ms`: half the calls were faster, half slower, whatever the outliers.
double median(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    return n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

// Times `a` and `b` in turn, `reps` times each, so that both meet the same moments of a busy
// machine; returns both lists of milliseconds.
template <class A, class B>
std::pair<std::vector<double>, std::vector<double>> alternate(int reps, A a, B b) {
    std::vector<double> ta, tb;
    for (int r = 0; r < reps; ++r) {
        ta.push_back(1e3 * tutorial::fastest_of(1, a));
        tb.push_back(1e3 * tutorial::fastest_of(1, b));
    }
    return {ta, tb};
}

// The median of the ratios b[r] / a[r] of two alternated lists: the speed-up of a over b.
double median_ratio(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> ratios;
    for (size_t r = 0; r < a.size(); ++r) ratios.push_back(b[r] / a[r]);
    return median(ratios);
}
// endregion: measure

// Minor page faults of this process so far: each is the first touch of a fresh page of memory.
long page_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

// True when a and b hold the same bits.
bool identical(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

// The smallest and the largest of `ms`.
std::pair<double, double> extremes(const std::vector<double>& ms) {
    const auto [lo, hi] = std::minmax_element(ms.begin(), ms.end());
    return {*lo, *hi};
}

// LeNet-5 with Adam and one fixed batch of MNIST: the training step this chapter measures.
struct Bench {
    Rng rng{11};
    std::unique_ptr<Sequential> model = lenet5(rng);
    Adam adam{model->parameters(), 1e-3f};
    OptimizerStepper stepper{*model, adam};
    Dataset batch;

    explicit Bench(Dataset b) : batch(std::move(b)) {}
    // One training step: forward, loss, backward, Adam (src/learning/stepper.cpp).
    float step() { return stepper.step(batch.images, batch.labels).loss; }
};

// Section 1: the same step again and again; the first call is slower, the others scatter.
double how_to_measure(Bench& bench, int reps) {
    std::printf("\n== 1. How to measure: the same training step, %d times ==\n\n", reps);
    std::printf("  One LeNet-5 training step (forward, cross-entropy, backward, Adam) on the same %lld\n"
                "  MNIST training images, call by call: wall-clock time, the processor time this program\n"
                "  used, and the page faults it caused.\n\n",
                static_cast<long long>(kBatch));
    release_pooled_memory();  // a cold start: the buffer pool hands every buffer back to the system
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        const long faults = page_faults();
        const std::clock_t cpu = std::clock();
        ms.push_back(1e3 * tutorial::fastest_of(1, [&] { bench.step(); }));
        std::printf("    call %2d  %7.1f ms wall  %7.1f ms processor  %6ld page faults%s\n", r + 1, ms.back(),
                    1e3 * double(std::clock() - cpu) / CLOCKS_PER_SEC, page_faults() - faults,
                    r == 0 ? "   <- warm-up" : "");
    }
    const std::vector<double> warm(ms.begin() + 1, ms.end());
    const auto [lo, hi] = extremes(warm);
    const double mid = median(warm);
    std::printf("\n  Calls 2-%d: min %.1f ms, median %.1f ms, max %.1f ms (max/min %.2f).\n", reps, lo, mid, hi,
                hi / lo);
    std::printf("  The first call took %.2fx the median. It touched every buffer of the step for the first\n"
                "  time: each fresh page of memory is a page fault (the kernel zeroes a 4 kB page and maps\n"
                "  it), OpenBLAS sets up its buffers, Adam creates its moment tensors. Afterwards the buffer\n"
                "  pool hands the same buffers back every step and the faults stop. A call whose wall time\n"
                "  exceeds its processor time waited for a core that another program had. So: leave out\n"
                "  the first call, time many, report the median, which neither the interrupted calls (the\n"
                "  max) nor a lucky one (the min) can move much.\n",
                ms[0] / mid);
    return mid;
}

// One matrix product of a LeNet-5 step: C [m, n] = op(A) op(B) with inner size k.
struct GemmShape {
    std::string layer, what;
    int64_t m, n, k;
    bool ta, tb;
    double flops() const { return 2.0 * double(m) * double(n) * double(k); }
    // Flops per byte if A, B and C each crossed the memory bus once (float32).
    double intensity() const { return flops() / (4.0 * double(m * k + k * n + m * n)); }
};

// region: lenet-gemms
// The products of one LeNet-5 training step on a batch of N: a convolution multiplies its
// weights [O, C·k·k] by im2col's matrix [C·k·k, N·P] (P output pixels per image), a linear
// layer its input [N, in] by Wᵀ; backward adds ∂W and, unless the input is the image, ∂input.
std::vector<GemmShape> lenet_gemms(int64_t N) {
    return {
        {"conv1", "forward  W cols", 20, N * 576, 25, false, false},
        {"conv1", "dW = g colsT", 20, 25, N * 576, false, true},  // no ∂cols: the image needs none
        {"conv2", "forward  W cols", 50, N * 64, 500, false, false},
        {"conv2", "dW = g colsT", 50, 500, N * 64, false, true},
        {"conv2", "dcols = WT g", 500, N * 64, 50, true, false},
        {"fc1", "forward  X WT", N, 500, 800, false, true},
        {"fc1", "dX = g W", N, 800, 500, false, false},
        {"fc1", "dW = gT X", 500, 800, N, true, false},
        {"fc2", "forward  X WT", N, 10, 500, false, true},
        {"fc2", "dX = g W", N, 500, 10, false, false},
        {"fc2", "dW = gT X", 10, 500, N, true, false},
    };
}
// endregion: lenet-gemms

// The fastest of `reps` sgemm calls of `shape` on random matrices, in milliseconds.
double time_gemm(const GemmShape& s, int reps, Rng& rng) {
    const Tensor a = Tensor::uniform(s.ta ? Shape{s.k, s.m} : Shape{s.m, s.k}, rng, -1.0f, 1.0f);
    const Tensor b = Tensor::uniform(s.tb ? Shape{s.n, s.k} : Shape{s.k, s.n}, rng, -1.0f, 1.0f);
    Tensor c = Tensor::zeros({s.m, s.n});
    gemm(1.0f, a, s.ta, b, s.tb, 0.0f, c);  // not timed: the first call touches C's pages
    return 1e3 * tutorial::fastest_of(reps, [&] { gemm(1.0f, a, s.ta, b, s.tb, 0.0f, c); });
}

// Memory bandwidth in GB/s: bytes read plus bytes written by the fastest of `reps` copies of 64 MB.
double copy_bandwidth(int reps) {
    const int64_t n = int64_t(1) << 24;
    const Tensor src = Tensor::full({n}, 1.0f);
    Tensor dst = Tensor::zeros({n});
    const double seconds = tutorial::fastest_of(reps, [&] { std::copy(src.data(), src.data() + n, dst.data()); });
    return 2.0 * 4.0 * double(n) / seconds * 1e-9;
}

// What section 2 found: the ceilings, and each product of the step with its time.
struct Roofline {
    double peak_gflops, bandwidth_gbs;
    std::vector<GemmShape> shapes;
    std::vector<double> ms;
};

// Times every product of the step and prints each with its intensity and rate; returns the step's flops.
double print_products(Roofline& r, const Reps& reps, Rng& rng) {
    std::printf("    %-6s %-16s %5s %6s %6s  %6s %9s %8s %8s %7s\n", "layer", "product", "m", "n", "k", "MFLOP",
                "flop/byte", "best ms", "GFLOP/s", "of peak");
    double step_flops = 0.0;
    for (const GemmShape& s : r.shapes) {
        r.ms.push_back(time_gemm(s, reps.op, rng));
        const double gflops = s.flops() / (r.ms.back() * 1e-3) * 1e-9;
        step_flops += s.flops();
        std::printf("    %-6s %-16s %5lld %6lld %6lld  %6.1f %9.1f %8.3f %8.1f %6.0f%%\n", s.layer.c_str(),
                    s.what.c_str(), static_cast<long long>(s.m), static_cast<long long>(s.n),
                    static_cast<long long>(s.k), s.flops() * 1e-6, s.intensity(), r.ms.back(), gflops,
                    100.0 * gflops / r.peak_gflops);
    }
    return step_flops;
}

// Writes the roof and the products as points under it, for the figure.
void write_roofline(const Roofline& r, const Options& o) {
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < r.shapes.size(); ++i)
        rows.push_back({r.shapes[i].layer + " " + r.shapes[i].what, format_number(r.shapes[i].intensity()),
                        format_number(r.shapes[i].flops() / (r.ms[i] * 1e-3) * 1e-9)});
    write_csv(tutorial::output_file(o, "roofline_points.csv"), {"product", "flop_per_byte", "gflops"}, rows);
    write_csv(tutorial::output_file(o, "roofline_roof.csv"), {"peak_gflops", "bandwidth_gbs"},
              {{format_number(r.peak_gflops), format_number(r.bandwidth_gbs)}});
}

// Section 2: the peak of sgemm, the memory bandwidth, and the step's products against both.
Roofline roofline(const Options& o, const Reps& reps, double step_ms) {
    std::printf("\n== 2. The roofline of this machine: what one core can do at best ==\n\n");
    Rng rng(2);
    const int64_t n = o.quick ? 512 : 1024;
    Roofline r{0, 0, lenet_gemms(kBatch), {}};
    const GemmShape square{"", "square", n, n, n, false, false};
    r.peak_gflops = square.flops() / (time_gemm(square, reps.op, rng) * 1e-3) * 1e-9;
    r.bandwidth_gbs = copy_bandwidth(reps.op);
    std::printf("  A ceiling is what the machine does when nothing disturbs it, so here the fastest of %d\n"
                "  calls counts (sections 1 and 3 report medians: what a step really gets).\n\n"
                "  sgemm %lld x %lld x %lld, 1 thread: %.1f GFLOP/s, the ceiling for arithmetic.\n"
                "  A copy of 64 MB: %.1f GB/s read + written, the ceiling for streaming through memory.\n"
                "  A loop that does I flops per byte it moves can reach at most min(%.0f, %.1f * I) GFLOP/s;\n"
                "  the two meet at I = %.1f flop/byte, the ridge point.\n\n",
                reps.op, static_cast<long long>(n), static_cast<long long>(n), static_cast<long long>(n),
                r.peak_gflops, r.bandwidth_gbs, r.peak_gflops, r.bandwidth_gbs, r.peak_gflops / r.bandwidth_gbs);
    const double floor_ms = print_products(r, reps, rng) / (r.peak_gflops * 1e9) * 1e3;
    std::printf("\n  One step does %.2f GFLOP in matrix products (everything else is a rounding error in\n"
                "  flops). At the peak that is %.1f ms a step, %.1f s for an epoch of %lld steps: the floor.\n"
                "  Section 1 measured %.1f ms a step, %.1f s an epoch: %.1fx the floor.\n",
                floor_ms * r.peak_gflops * 1e-3, floor_ms, floor_ms * kStepsPerEpoch * 1e-3,
                static_cast<long long>(kStepsPerEpoch), step_ms, step_ms * kStepsPerEpoch * 1e-3, step_ms / floor_ms);
    std::printf("  Max pooling a 2x2 window does 3 comparisons for 21 bytes moved (4 floats in, a float and\n"
                "  a byte out), 0.14 op/byte; ReLU 1 op for 8 bytes, 0.13. Both sit far left of the ridge:\n"
                "  no arithmetic trick speeds them up, only moving fewer bytes, or moving them without\n"
                "  stalls, does.\n");
    write_roofline(r, o);
    return r;
}

// The time of one layer or op: forward alone and forward + backward, median milliseconds.
struct OpTime {
    std::string layer, op;
    double forward_ms, both_ms;
};

// region: time-pieces
// One piece of a training step, run forward only or forward and backward.
struct Piece {
    std::string layer, op;
    std::function<void(bool backward)> run;
    bool has_backward = true;  // false: forward only (Adam's update)
};

// A layer of the model on its real input, recorded on a fresh tape, then (if asked) run
// backward from a random gradient of its output's shape.
Piece layer_piece(Module& layer, const Tensor& input, bool input_needs_grad, const Tensor& seed) {
    return {layer.name(), layer.spec().type, [&layer, input, input_needs_grad, seed](bool backward) {
                Tape tape;
                const Var y = layer.forward(tape.input(input, input_needs_grad));
                if (backward) tape.backward(y, seed);
            }};
}

// The median times of every piece, forward and forward + backward. The pieces take turns call
// by call, so that a busy moment of the machine slows every piece a little, not one a lot.
std::vector<OpTime> time_pieces(const std::vector<Piece>& pieces, int reps) {
    std::vector<std::vector<double>> forward(pieces.size()), both(pieces.size());
    for (const Piece& p : pieces) p.run(true);  // warm-up
    for (int r = 0; r < reps; ++r)
        for (size_t i = 0; i < pieces.size(); ++i) {
            forward[i].push_back(1e3 * tutorial::fastest_of(1, [&] { pieces[i].run(false); }));
            if (!pieces[i].has_backward) continue;
            both[i].push_back(1e3 * tutorial::fastest_of(1, [&] { pieces[i].run(true); }));
        }
    std::vector<OpTime> times;
    for (size_t i = 0; i < pieces.size(); ++i)
        times.push_back({pieces[i].layer, pieces[i].op, median(forward[i]),
                         pieces[i].has_backward ? median(both[i]) : median(forward[i])});
    return times;
}
// endregion: time-pieces

// The input of every layer of `model` for `images` (entry i feeds layer i), and the logits last.
std::vector<Tensor> activations(Sequential& model, const Tensor& images) {
    Tape tape;
    NoGrad no_grad(tape);
    std::vector<Tensor> h{images};
    for (size_t i = 0; i < model.size(); ++i) h.push_back(model.layer(i).forward(tape.input(h.back())).value());
    return h;
}

// Every piece of a LeNet-5 step: the layers on their inputs `h`, the loss, and Adam's update.
std::vector<Piece> step_pieces(Bench& bench, const std::vector<Tensor>& h) {
    Sequential& model = *bench.model;
    Rng rng(3);
    std::vector<Piece> pieces;
    for (size_t i = 0; i < model.size(); ++i)
        pieces.push_back(layer_piece(model.layer(i), h[i], i > 0, Tensor::uniform(h[i + 1].shape(), rng, -1.0f, 1.0f)));
    const Tensor logits = h.back();
    pieces.push_back({"loss", "cross_entropy", [&bench, logits](bool backward) {
                          Tape tape;
                          const Var loss = cross_entropy(tape.input(logits, true), bench.batch.labels);
                          if (backward) tape.backward(loss);
                      }});
    pieces.push_back({"update", "Adam", [&bench](bool) { bench.adam.step(); }, false});
    return pieces;
}

// Prints the table of section 3 and writes it to time_per_op.csv.
void print_op_table(const std::vector<OpTime>& ops, const Roofline& roof, const Options& o) {
    double total = 0.0;
    for (const OpTime& t : ops) total += t.both_ms;
    std::printf("    %-7s %-14s %8s %8s %7s %7s %9s %9s\n", "layer", "op", "forward", "fwd+bwd", "share", "MFLOP",
                "GFLOP/s", "sgemm best");
    std::vector<std::vector<std::string>> rows;
    for (const OpTime& t : ops) {
        double flops = 0.0, gemm_ms = 0.0;  // this layer's products, and what sgemm alone took for them
        for (size_t i = 0; i < roof.shapes.size(); ++i)
            if (roof.shapes[i].layer == t.layer) flops += roof.shapes[i].flops(), gemm_ms += roof.ms[i];
        std::printf("    %-7s %-14s %8.2f %8.2f %6.1f%%", t.layer.c_str(), t.op.c_str(), t.forward_ms, t.both_ms,
                    100.0 * t.both_ms / total);
        if (flops > 0) std::printf(" %7.1f %9.1f %9.2f\n", flops * 1e-6, flops / (t.both_ms * 1e-3) * 1e-9, gemm_ms);
        else std::printf("\n");
        const double backward = std::max(0.0, t.both_ms - t.forward_ms);  // two medians: noise can invert them
        rows.push_back({t.layer, t.op, format_number(t.forward_ms), format_number(backward),
                        format_number(100.0 * t.both_ms / total)});
    }
    std::printf("    %-7s %-14s %8s %8.2f\n", "total", "", "", total);
    write_csv(tutorial::output_file(o, "time_per_op.csv"),
              {"layer", "op", "forward_ms", "backward_ms", "share_percent"}, rows);
}

// Section 3: every layer of a step timed alone on its real input, with the loss and Adam.
std::vector<Tensor> where_the_time_goes(Bench& bench, const Roofline& roof, double step_ms, const Reps& reps,
                                        const Options& o) {
    std::printf("\n== 3. Where a step's time goes: each layer alone, %d calls each ==\n\n", reps.op);
    const std::vector<Tensor> h = activations(*bench.model, bench.batch.images);
    const std::vector<OpTime> ops = time_pieces(step_pieces(bench, h), reps.op);
    print_op_table(ops, roof, o);
    double total = 0.0, gemm_ms = 0.0, conv2_gemm_ms = 0.0, conv2_flops = 0.0;
    for (const OpTime& t : ops) total += t.both_ms;
    for (size_t i = 0; i < roof.shapes.size(); ++i) {
        gemm_ms += roof.ms[i];
        if (roof.shapes[i].layer == "conv2") conv2_gemm_ms += roof.ms[i], conv2_flops += roof.shapes[i].flops();
    }
    const OpTime& conv2 = *std::find_if(ops.begin(), ops.end(), [](const OpTime& t) { return t.layer == "conv2"; });
    const double conv2_gflops = conv2_flops / (conv2.both_ms * 1e-3) * 1e-9;
    std::printf("\n  The parts add up to %.1f ms, the whole step took %.1f ms in section 1: a step also clears\n"
                "  the tape, zeroes the gradients and counts right answers, and every number here is noisy.\n"
                "  The eleven products at sgemm's best take %.1f ms, %.0f%% of the parts; the rest, %.0f%%, is the\n"
                "  loops that move data: im2col, col2im, bias sums, pooling, ReLU, Adam.\n"
                "  conv2 does %.0f MFLOP at %.1f GFLOP/s, %.0f%% of the peak: its three products take %.2f of\n"
                "  its %.2f ms, and im2col, col2im and the bias sums the rest.\n",
                total, step_ms, gemm_ms, 100.0 * gemm_ms / total, 100.0 * (total - gemm_ms) / total,
                conv2_flops * 1e-6, conv2_gflops, 100.0 * conv2_gflops / roof.peak_gflops, conv2_gemm_ms,
                conv2.both_ms);
    std::printf("  Wrote %s/time_per_op.csv for the figure.\n", o.out.c_str());
    return h;
}

// region: branchy-pool
// The obvious 2×2 max pooling, stride 2: an `if` per comparison finds each window's first
// largest value (a NaN wins, as in the library) and remembers where it was, one byte per output.
void branchy_max_pool(const Tensor& x, Tensor& y, std::vector<uint8_t>& where) {
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), Ho = H / 2, Wo = W / 2;
    for (int64_t q = 0; q < planes; ++q)
        for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const float* first = x.data() + q * H * W + 2 * oh * W + 2 * ow;
                int best = 0;
                float best_value = first[0];
                for (int i = 0; i < 2; ++i)
                    for (int j = 0; j < 2; ++j) {
                        const float v = first[i * W + j];
                        if (v > best_value || std::isnan(v)) {  // taken or not, as the data say
                            best = 2 * i + j;
                            best_value = v;
                        }
                    }
                const int64_t o = (q * Ho + oh) * Wo + ow;
                y[o] = best_value;
                where[o] = static_cast<uint8_t>(best);
            }
}
// endregion: branchy-pool

// region: conditional-pool
// 2×2 max pooling as the library first wrote it: the largest value with std::max (maxss, no
// jump), then the first position holding it with conditional expressions instead of `if`s.
// Returns whether a window held a NaN, which max does not order.
bool conditional_max_pool(const Tensor& x, Tensor& y, std::vector<uint8_t>& where) {
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), Ho = H / 2, Wo = W / 2;
    const int64_t offset[4] = {0, 1, W, W + 1};
    bool saw_nan = false;
    for (int64_t q = 0; q < planes; ++q)
        for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const float* first = x.data() + q * H * W + 2 * oh * W + 2 * ow;
                const float a = first[0], b = first[1], c = first[W], d = first[W + 1];
                saw_nan |= (a != a) | (b != b) | (c != c) | (d != d);
                const float m = std::max(std::max(a, b), std::max(c, d));
                int t = 3;
                t = c == m ? 2 : t;
                t = b == m ? 1 : t;
                t = a == m ? 0 : t;
                const int64_t o = (q * Ho + oh) * Wo + ow;
                y[o] = first[offset[t]];  // not m: of +0 and −0, the first one's bits
                where[o] = static_cast<uint8_t>(t);
            }
    return saw_nan;
}
// endregion: conditional-pool

// Median milliseconds of the three poolings of `x`, taking turns; checks that they agree.
std::vector<double> race_pools(const char* data, const Tensor& x, int reps) {
    const Shape out{x.size(0), x.size(1), x.size(2) / 2, x.size(3) / 2};
    Tensor y_if = Tensor::empty(out), y_conditional = Tensor::empty(out), y_library;
    std::vector<uint8_t> where(y_if.numel());
    Tape tape;
    NoGrad no_grad(tape);
    std::vector<double> t_if, t_conditional, t_library;
    bool saw_nan = false;
    for (int r = 0; r < reps; ++r) {
        t_if.push_back(1e3 * tutorial::fastest_of(1, [&] { branchy_max_pool(x, y_if, where); }));
        t_conditional.push_back(
            1e3 * tutorial::fastest_of(1, [&] { saw_nan |= conditional_max_pool(x, y_conditional, where); }));
        t_library.push_back(1e3 * tutorial::fastest_of(1, [&] { y_library = max_pool2d(tape.input(x), 2).value(); }));
    }
    const bool same = !saw_nan && identical(y_if, y_library) && identical(y_conditional, y_library);
    const std::vector<double> ms{median(t_if), median(t_conditional), median(t_library)};
    std::printf("    %-26s %9.2f ms %9.2f ms %9.2f ms   %s\n", data, ms[0], ms[1], ms[2],
                same ? "same output" : "OUTPUTS DIFFER");
    return ms;
}

// What the three rows of section 4 say: r, m, s are the times on random, MNIST and sorted data.
void explain_branches(const std::vector<double>& r, const std::vector<double>& m, const std::vector<double>& s,
                      double windows) {
    const double misses = (0.5 + 1.0 / 3.0 + 0.25) * windows;
    std::printf("\n  Random data: which value wins a window is a lottery. The processor guesses the outcome\n"
                "  of every `if` before it is known and goes on with the work that follows; a wrong guess\n"
                "  throws that work away. 'Not taken' is the best guess and it is wrong 1/2 + 1/3 + 1/4 =\n"
                "  1.08 times a window (when the 2nd, 3rd or 4th value is the largest so far): %.2f million\n"
                "  times a call. The `if` version takes %.2f ms more on random than on sorted data, %.0f ns\n"
                "  per wrong guess. Sorted, every `if` is taken, every guess is right, and the obvious code\n"
                "  takes %.2f ms. MNIST's black background gives windows of four equal values, where no\n"
                "  `if` is taken: the real data lie in between.\n",
                misses * 1e-6, r[0] - s[0], (r[0] - s[0]) * 1e6 / misses, s[0]);
    const bool branches = r[1] / s[1] > 1.5;
    std::printf("  The conditional expressions are %.1fx faster than the `if`s on random data, and %.1fx slower\n"
                "  on random than on sorted data%s\n"
                "  max_pool2d, with no jump at all, takes %.2f, %.2f and %.2f ms: the same whatever the data.\n",
                r[0] / r[1], r[1] / s[1],
                branches ? ": their machine code still branches on the\n  data (book section 11.5 shows where)."
                         : ".",
                r[2], m[2], s[2]);
}

// Section 4: an `if` whose outcome the processor cannot guess, on random, real and sorted data.
void why_a_branch_costs(const Tensor& pool1_input, const Reps& reps, const Options& o) {
    std::printf("\n== 4. Why a branch costs: max pooling %s, %d calls each ==\n\n",
                to_string(pool1_input.shape()).c_str(), reps.pool);
    Rng rng(4);
    const Tensor random = Tensor::uniform(pool1_input.shape(), rng, -1.0f, 1.0f);
    Tensor sorted = random.clone();
    std::sort(sorted.data(), sorted.data() + sorted.numel());  // ascending: the last value of every window wins
    std::printf("    %-26s %12s %12s %12s\n", "data", "if per value", "conditional", "max_pool2d");
    const std::vector<double> r = race_pools("random", random, reps.pool);
    const std::vector<double> m = race_pools("conv1's output on MNIST", pool1_input, reps.pool);
    const std::vector<double> s = race_pools("sorted", sorted, reps.pool);
    const double windows = double(pool1_input.numel()) / 4.0;
    explain_branches(r, m, s, windows);
    std::vector<std::vector<std::string>> rows;  // the three on random data, as points of the roofline
    const char* names[3] = {"pool1 if per value", "pool1 conditional", "pool1 max_pool2d"};
    for (int k = 0; k < 3; ++k)
        rows.push_back({names[k], format_number(3.0 / 21.0), format_number(3.0 * windows / (r[k] * 1e-3) * 1e-9)});
    write_csv(tutorial::output_file(o, "roofline_loops.csv"), {"loop", "op_per_byte", "gops"}, rows);
}

// The value and the input's gradient of `op` on x with `n` threads, from a fixed random seed.
template <class Op>
std::pair<Tensor, Tensor> value_and_grad(const Tensor& x, int n, Op op) {
    set_threads(n);
    Tape tape;
    const Var xv = tape.input(x, true);
    const Var y = op(xv);
    Rng rng(5);
    tape.backward(y, Tensor::normal(y.shape(), rng));
    return {y.value().clone(), xv.grad().clone()};
}

// region: same-bits
// Runs `op` forward and backward with 1 and with 2 threads and says whether every bit agrees.
template <class Op>
void check_same_bits(const char* name, const Tensor& x, Op op) {
    const auto one = value_and_grad(x, 1, op), two = value_and_grad(x, 2, op);
    const bool same = identical(one.first, two.first) && identical(one.second, two.second);
    std::printf("    %-38s %s\n", name, same ? "bit-identical" : "DIFFERENT BITS");
}
// endregion: same-bits

// What the speed-up of section 5 says, given how busy the machine was.
void explain_speed_up(double speed_up, double load, unsigned cores, const char* waits) {
    if (speed_up >= 1.3) {
        std::printf("  The second core took over part of every product and of every loop around them. Less\n"
                    "  than 2x: the small products of fc2 and the loss are not worth splitting, and each\n"
                    "  parallel loop ends at a barrier where the faster thread waits for the slower.\n");
        return;
    }
    std::printf("  %s with two threads. Every parallel loop and product ends at a barrier, where a\n"
                "  thread waits for the other. With %.1f programs wanting %u cores, the other thread is\n"
                "  often not running, and the waiting one %s.\n"
                "  A step has dozens of such barriers. On a shared machine, compare code on one thread;\n"
                "  measure what threads buy only on a quiet one.\n",
                speed_up < 1.0 ? "Slower" : "Hardly faster", load, cores, waits);
}

// What a thread that waits at a barrier does, by libgomp's OMP_WAIT_POLICY; prints it.
const char* wait_policy() {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const std::string wait = policy == nullptr ? "" : policy;
    const char* waits = wait == "passive" || wait == "PASSIVE" ? "sleeps at once"
                        : wait == "active" || wait == "ACTIVE" ? "spins on its core"
                                                               : "spins for a while, then sleeps";
    std::printf("  OMP_WAIT_POLICY is %s: a waiting thread %s.\n",
                wait.empty() ? "not set" : wait.c_str(), waits);
    return waits;
}

// The same step on 1 and on 2 threads, alternated call by call; prints the medians and the speed-up.
void time_threads(const Dataset& batch, const Reps& reps) {
    const unsigned cores = std::thread::hardware_concurrency();
    double load[1] = {0.0};
    getloadavg(load, 1);
    std::printf("  This machine has %u cores; over the last minute %.1f programs on average wanted one.\n", cores,
                load[0]);
    const char* waits = wait_policy();
    Bench bench(batch);
    for (int n : {2, 1}) set_threads(n), bench.step();  // a warm-up for both thread counts
    const auto [one, two] = alternate(
        reps.threads, [&] { set_threads(1); bench.step(); }, [&] { set_threads(2); bench.step(); });
    const double speed_up = median_ratio(two, one);
    std::printf("  1 thread:  median %.1f ms\n  2 threads: median %.1f ms; speed-up %.2fx (the median of the ratios\n"
                "  of neighbouring calls)\n", median(one), median(two), speed_up);
    explain_speed_up(speed_up, load[0], cores, waits);
}

// Three steps of two identical models, one on 1 thread and one on 2: are the weights the same bits?
bool same_weights_after_three_steps(const Dataset& batch) {
    Bench a(batch), b(batch);
    set_threads(1);
    for (int s = 0; s < 3; ++s) a.step();
    set_threads(2);
    for (int s = 0; s < 3; ++s) b.step();
    const std::vector<Parameter*> pa = a.model->parameters(), pb = b.model->parameters();
    for (size_t i = 0; i < pa.size(); ++i)
        if (!identical(pa[i]->value, pb[i]->value)) return false;
    return true;
}

// The loops of a step, and then three whole steps, with 1 and with 2 threads, compared bit for bit.
void check_threads_bits(const Dataset& batch, const std::vector<Tensor>& h) {
    std::printf("\n  With 2 threads the products split their output between the threads and every loop\n"
                "  around them splits its rows or planes, each written by one thread. Does that change\n"
                "  any result? Forward and backward with 1 and with 2 threads:\n\n");
    check_same_bits("im2col and col2im (conv2's 5x5)", h[3], [](const Var& x) { return im2col(x, 5, 5); });
    check_same_bits("max_pool2d (pool1)", h[1], [](const Var& x) { return max_pool2d(x, 2); });
    check_same_bits("relu (relu1)", h[2], [](const Var& x) { return relu(x); });
    const Tensor bias = Tensor::full({50}, 0.1f);
    const Tensor y_mat = h[4].reshape({50, kBatch * 64});  // conv2's output, read as a [50, N·64] matrix
    check_same_bits("columns_to_images and the bias sums", y_mat, [&](const Var& y) {
        return columns_to_images(y, y.tape().input(bias, true), kBatch, 8, 8);
    });
    std::printf("    %-38s %s\n", "three whole steps, sgemm included",
                same_weights_after_three_steps(batch) ? "the same weights, bit for bit" : "weights differ in the last bits");
    std::printf("\n  These loops split their work by a fixed partition, and every sum runs in one order on one\n"
                "  thread, so their bits cannot depend on the thread count. A whole step can: conv2d sums\n"
                "  dW and db over its images in one part per thread, and OpenBLAS may split a product\n"
                "  differently for another count. For a given thread count, every run gives the same bits.\n");
}

// Section 5: the step on one and two threads, and the loops' results for both thread counts.
void threads_section(const Dataset& batch, const std::vector<Tensor>& h, const Reps& reps) {
    std::printf("\n== 5. Threads: the step on 1 and 2 threads, %d calls each, alternated ==\n\n", reps.threads);
    time_threads(batch, reps);
    check_threads_bits(batch, h);
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch11_performance", "out/ch11");
    const char* title = "Chapter 11: performance — measuring, the roofline, where a step's time goes, branches, threads.";
    return tutorial::run(options, title, [&] {
        const Reps reps = options.quick ? Reps{5, 5, 7, 4} : Reps{12, 15, 30, 12};
        const int initial_threads = threads();
        set_threads(1);
        std::printf("Sections 1-4 run on one thread (BLAS and tinyrank's loops): one core's work, which\n"
                    "another program can slow down but not split. Section 5 adds the second thread.\n");
        const Dataset train = tutorial::load_split(Split::train, options);
        Bench bench(slice(train, 0, kBatch));
        const double step_ms = how_to_measure(bench, reps.step);
        const Roofline roof = roofline(options, reps, step_ms);
        const std::vector<Tensor> h = where_the_time_goes(bench, roof, step_ms, reps, options);
        why_a_branch_costs(h[1], reps, options);
        threads_section(bench.batch, h, reps);
        set_threads(initial_threads);
    });
}
