// Chapter 2 — automatic differentiation: record a computation on a tape, run it backwards,
// and check every gradient it produces against a closed form and against finite
// differences.
//
//   ch02_autodiff [--quick] [--out DIR]
//
// Runs in about a second on 2 cores. Writes DIR/fd_error.csv (default out/ch02), the
// finite-difference error against the step, for the figure of book/02-autodiff.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

// Prints a tensor with five digits after the point.
void show(const char* name, const Tensor& t) { tutorial::show(name, t, " %9.5f"); }

// region: expression
// f(x, y) = Σ_ij tanh(x ⊙ y)_ij + x_ij: x is used twice, once inside tanh and once outside.
Var f_expression(const Var& x, const Var& y) { return sum(add(tanh(mul(x, y)), x)); }
// endregion: expression

// f at (x, y), computed without recording anything.
float f_value(const Tensor& x, const Tensor& y) {
    Tape scratch;
    NoGrad no_grad(scratch);
    return f_expression(scratch.input(x), scratch.input(y)).value().item();
}

// region: central-difference
// ∂f/∂x_k ≈ (f(x + ε e_k) − f(x − ε e_k)) / 2ε for every element k of x: two evaluations
// of f per element, and an error of order ε² (truncation) plus ε_mach·|f|/ε (rounding).
Tensor central_difference(const std::function<float(const Tensor&)>& f, const Tensor& x, double eps) {
    Tensor grad = Tensor::zeros(x.shape());
    Tensor probe = x.clone();
    for (int64_t k = 0; k < x.numel(); ++k) {
        probe[k] = static_cast<float>(x[k] + eps);
        const double up = f(probe);
        probe[k] = static_cast<float>(x[k] - eps);
        const double down = f(probe);
        probe[k] = x[k];
        grad[k] = static_cast<float>((up - down) / (2.0 * eps));
    }
    return grad;
}
// endregion: central-difference

// Sections 1–4: one expression, its tape, its gradients, three ways of checking them.
void expression_on_a_tape(const Tensor& x, const Tensor& y) {
    std::printf("\n== 1. Recording f(x, y) = sum(tanh(x * y) + x) on a tape ==\n\n");
    // region: record
    Tape tape;
    Var xv = tape.input(x, /*requires_grad=*/true, "x");
    Var yv = tape.input(y, /*requires_grad=*/true, "y");
    Var f = f_expression(xv, yv);  // records mul, tanh, add, sum
    tape.print(std::cout);
    tape.backward(f);  // seeds ∂f/∂f = 1, then runs the closures from the last node to the first
    // endregion: record
    std::printf("\n  Each line is one node of the Wengert list: its index, the op that made it, the shape\n"
                "  of its value and the nodes it was computed from. x (%%0) feeds two nodes, %%2 and %%4.\n");
    std::printf("  f = %.6f\n\n", static_cast<double>(f.value().item()));

    std::printf("== 2. backward() walked the list in reverse; the gradients are ==\n\n");
    show("df/dx", xv.grad());
    show("df/dy", yv.grad());

    std::printf("\n== 3. The closed form: df/dx = (1 - tanh^2(x*y)) * y + 1, df/dy = (1 - tanh^2(x*y)) * x ==\n\n");
    // region: closed-form
    Tensor dx = Tensor::empty(x.shape()), dy = Tensor::empty(y.shape());
    for (int64_t k = 0; k < x.numel(); ++k) {
        const float t = std::tanh(x[k] * y[k]);
        dx[k] = (1.0f - t * t) * y[k] + 1.0f;  // the "+ 1" is the second use of x
        dy[k] = (1.0f - t * t) * x[k];
    }
    // endregion: closed-form
    std::printf("  largest |tape - closed form|: df/dx %.2e, df/dy %.2e\n",
                static_cast<double>(max_abs(xv.grad() - dx)), static_cast<double>(max_abs(yv.grad() - dy)));
    std::printf("  The tape multiplied and added the same floats as the formula, so they agree exactly.\n");

    std::printf("\n== 4. Finite differences, written by hand, then gradcheck() ==\n\n");
    const double eps = 1e-2;
    const Tensor numeric_x = central_difference([&](const Tensor& p) { return f_value(p, y); }, x, eps);
    const Tensor numeric_y = central_difference([&](const Tensor& p) { return f_value(x, p); }, y, eps);
    show("central difference for df/dx, eps = 1e-2", numeric_x);
    std::printf("  largest |tape - central difference|: df/dx %.2e, df/dy %.2e\n",
                static_cast<double>(max_abs(xv.grad() - numeric_x)), static_cast<double>(max_abs(yv.grad() - numeric_y)));
    const double truncation = eps * eps / 6.0, rounding = 6e-8 * std::fabs(f.value().item()) / eps;
    std::printf("  They agree to about 1e-5, not to 1e-7. Two errors of that size are at work: the Taylor\n"
                "  term the central difference drops, eps^2/6 = %.0e times a third derivative of order 1,\n"
                "  and float rounding in f itself, about 6e-8 * |f| / eps = %.0e. Section 8 pulls them apart.\n",
                truncation, rounding);
    // region: gradcheck
    const GradcheckResult check = gradcheck(
        [](const std::vector<Var>& in) { return f_expression(in[0], in[1]); }, {x, y});
    // endregion: gradcheck
    std::printf("  gradcheck(f, {x, y}): %s, largest error %.2e\n", check.passed ? "passed" : "FAILED",
                check.max_abs_error);
}

// Section 5: two uses of one value add their gradients; leaves keep adding across sweeps.
void accumulation() {
    std::printf("\n== 5. A value used twice receives the sum of both gradients ==\n\n");
    // region: used-twice
    Tape tape;
    Var x = tape.input(Tensor({3}, {1.0f, -2.0f, 0.5f}), true, "x");
    Var g = sum(mul(x, x));  // g = Σ x², both inputs of mul are x
    tape.backward(g);        // mul's closure adds ḡ ⊙ x twice into the same buffer
    // endregion: used-twice
    tape.print(std::cout);
    show("dg/dx (expect 2x = [2, -4, 1])", x.grad());

    std::printf("\n  A parameter's gradient is a buffer that backward() adds into and never clears:\n");
    // region: accumulate
    Parameter w("w", Tensor({2}, {3.0f, 4.0f}));
    for (int step = 1; step <= 2; ++step) {
        Tape t;
        Var loss = sum(mul(t.param(w), t.param(w)));  // Σ w², gradient 2w = [6, 8]
        t.backward(loss);
        std::printf("  after backward number %d: w.grad = [%g, %g]\n", step, static_cast<double>(w.grad[0]),
                    static_cast<double>(w.grad[1]));
    }
    w.grad.zero();  // what an optimiser's zero_grad() does before the next batch
    // endregion: accumulate
    std::printf("  The second sweep doubled it. Optimisers zero the gradient before every batch; to\n"
                "  sum the gradients of several batches, simply do not.\n");
}

// Section 6: NoGrad.
void no_grad() {
    std::printf("\n== 6. Under NoGrad the ops compute values and record nothing ==\n\n");
    // region: no-grad
    Tape tape;
    Var x = tape.input(Tensor({2}, {0.5f, -1.0f}), true, "x");
    const size_t before = tape.size();
    Var y;
    {
        NoGrad no_grad(tape);
        y = tanh(mul(x, x));  // evaluated, but not written down
    }
    std::printf("  nodes before: %zu, after: %zu; y.index() = %d, y.requires_grad() = %s\n", before, tape.size(),
                y.index(), y.requires_grad() ? "true" : "false");
    // endregion: no-grad
    std::printf("  y = [%g, %g] was computed, but backward(y) could not reach x: evaluation, attack\n"
                "  projections and optimiser updates run this way, at no memory cost.\n",
                static_cast<double>(y.value()[0]), static_cast<double>(y.value()[1]));
}

// Section 7: a two-layer network, its loss, and the softmax cross-entropy gradient.
void two_layer_network(Rng& rng) {
    std::printf("\n== 7. A two-layer network: linear, tanh, linear, cross-entropy ==\n\n");
    // region: network
    Parameter w1("fc1.weight", Tensor::normal({5, 3}, rng, 0.0f, 0.5f)), b1("fc1.bias", Tensor::zeros({5}));
    Parameter w2("fc2.weight", Tensor::normal({4, 5}, rng, 0.0f, 0.5f)), b2("fc2.bias", Tensor::zeros({4}));
    const Tensor batch = Tensor::normal({6, 3}, rng);  // B = 6 examples with 3 features
    const std::vector<int64_t> labels{0, 1, 2, 3, 1, 0};

    Tape tape;
    Var x = tape.input(batch, false, "x");
    Var W1 = tape.param(w1), B1 = tape.param(b1), W2 = tape.param(w2), B2 = tape.param(b2);
    Var hidden = tanh(linear(x, W1, B1));  // [6, 5]
    Var logits = linear(hidden, W2, B2);   // [6, 4]
    Var loss = cross_entropy(logits, labels);
    tape.backward(loss);
    // endregion: network
    tape.print(std::cout);
    std::printf("\n  loss = %.6f (log 4 = %.6f is the loss of a uniform guess)\n", static_cast<double>(loss.value().item()),
                std::log(4.0));

    // region: softmax-check
    // ∂loss/∂z = (softmax(z) − onehot(y)) / B, by hand from the logits' value.
    const Tensor& z = logits.value();
    const int64_t B = z.size(0), C = z.size(1);
    Tensor expected = Tensor::empty(z.shape());
    for (int64_t i = 0; i < B; ++i) {
        float m = z[i * C];
        for (int64_t j = 1; j < C; ++j) m = std::max(m, z[i * C + j]);  // subtract the max: no overflow
        double total = 0.0;
        for (int64_t j = 0; j < C; ++j) total += std::exp(double(z[i * C + j] - m));
        for (int64_t j = 0; j < C; ++j) {
            const double softmax = std::exp(double(z[i * C + j] - m)) / total;
            expected[i * C + j] = static_cast<float>((softmax - (j == labels[size_t(i)] ? 1.0 : 0.0)) / double(B));
        }
    }
    // endregion: softmax-check
    std::printf("  largest |tape - (softmax - onehot)/B| at the logits: %.2e\n",
                static_cast<double>(max_abs(logits.grad() - expected)));
    const Tensor bias_expected = sum(logits.grad(), 0);  // ∂b = Σ_rows ḡ
    std::printf("  largest |fc2.bias.grad - column sums of dloss/dlogits|: %.2e\n",
                static_cast<double>(max_abs(b2.grad - bias_expected)));
    std::printf("  |grad| of fc1.weight %.4f, fc1.bias %.4f, fc2.weight %.4f, fc2.bias %.4f\n",
                static_cast<double>(norm(w1.grad)), static_cast<double>(norm(b1.grad)),
                static_cast<double>(norm(w2.grad)), static_cast<double>(norm(b2.grad)));

    std::printf("\n  gradcheck of every op whose backward chapter 2 derives:\n");
    const std::vector<std::pair<std::string, std::pair<GradcheckFunction, std::vector<Tensor>>>> checks{
        {"linear        X W^T + b",
         {[](const std::vector<Var>& in) { return linear(in[0], in[1], in[2]); },
          {Tensor::normal({4, 3}, rng), Tensor::normal({2, 3}, rng), Tensor::normal({2}, rng)}}},
        {"cross_entropy",
         {[labels](const std::vector<Var>& in) { return cross_entropy(in[0], labels); }, {Tensor::normal({6, 4}, rng)}}},
        {"log_softmax", {[](const std::vector<Var>& in) { return log_softmax(in[0]); }, {Tensor::normal({3, 5}, rng)}}},
        {"conv2d        stride 1, pad 1",
         {[](const std::vector<Var>& in) { return conv2d(in[0], in[1], in[2], 1, 1); },
          {Tensor::normal({2, 2, 5, 5}, rng), Tensor::normal({3, 2, 3, 3}, rng), Tensor::normal({3}, rng)}}},
        {"conv2d        stride 2, no pad",
         {[](const std::vector<Var>& in) { return conv2d(in[0], in[1], 2, 0); },
          {Tensor::normal({1, 2, 6, 6}, rng), Tensor::normal({2, 2, 3, 3}, rng)}}},
    };
    for (const auto& c : checks) {
        const GradcheckResult r = gradcheck(c.second.first, c.second.second);
        std::printf("    %-32s %s, largest error %.2e\n", c.first.c_str(), r.passed ? "passed" : "FAILED",
                    r.max_abs_error);
        if (!r.passed) std::printf("      worst: %s\n", r.worst.c_str());
    }
}

// Section 8: the finite-difference error against the step, the V of truncation and rounding.
void step_size_study(const Tensor& x, const Tensor& y, const Options& o) {
    std::printf("\n== 8. How small should eps be? The error of the central difference against eps ==\n\n");
    Tape tape;
    Var xv = tape.input(x, true), yv = tape.input(y, true);
    tape.backward(f_expression(xv, yv));
    const Tensor exact = xv.grad().clone();

    const std::string path = tutorial::output_file(o, "fd_error.csv");
    std::ofstream csv(path);
    csv << "eps,error\n";
    const int per_decade = o.quick ? 2 : 4;
    double best_eps = 0.0, best_error = 1e30;
    std::printf("  %10s  %12s\n", "eps", "max error");
    for (int i = 0; i <= 7 * per_decade; ++i) {
        const double eps = std::pow(10.0, -double(i) / per_decade);
        const Tensor numeric = central_difference([&](const Tensor& p) { return f_value(p, y); }, x, eps);
        const double error = max_abs(numeric - exact);
        csv << eps << ',' << error << '\n';
        if (i % per_decade == 0) std::printf("  %10.0e  %12.3e\n", eps, error);
        if (error < best_error) {
            best_error = error;
            best_eps = eps;
        }
    }
    if (!csv) throw Error("ch02_autodiff: cannot write " + path);
    std::printf("\n  Large eps: the Taylor terms of order eps^2 dominate, the error falls 100x per decade.\n"
                "  Small eps: f(x + eps) and f(x - eps) agree in most of their 24 bits, the difference is\n"
                "  rounding noise, and the error grows 10x per decade as eps shrinks. The best step here is\n"
                "  eps = %.1e with error %.1e, near the cube root of float's epsilon 6e-8.\n", best_eps, best_error);
    std::printf("  Wrote %s (eps, error) for the chapter's figure.\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch02_autodiff", "out/ch02");
    return tutorial::run(options, "Chapter 2: automatic differentiation.", [&] {
        Rng rng(2);
        const Tensor x = Tensor::uniform({2, 3}, rng, -1.0f, 1.0f);
        const Tensor y = Tensor::uniform({2, 3}, rng, -1.0f, 1.0f);
        expression_on_a_tape(x, y);
        accumulation();
        no_grad();
        two_layer_network(rng);
        step_size_study(x, y, options);
    });
}
