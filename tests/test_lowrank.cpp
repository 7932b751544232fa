// The low-rank layers (book chapter 7; book/method.md §1): W = U S Vᵀ applied without forming W.
//
// What is proved here:
//   - LowRankLinear and LowRankConv2d compute exactly the dense op with W = U S Vᵀ, and their
//     backward agrees with finite differences (gradcheck) for the input, U, S, V and the bias,
//     and with PyTorch (tests/golden/lowrank.golden, written by make_lowrank_golden.py);
//   - the ops the layers are built from: matmul with transpose flags, im2col and
//     columns_to_images (against naive loops and finite differences);
//   - construction: orthonormal U, V and a positive decreasing diagonal S; from_dense is the
//     best rank-r approximation (Eckart–Young) and, at full rank, the dense layer itself;
//   - the zoo: which layers are factorised, parameter counts and compression rates counted by
//     hand, SVD compression of a trained model, checkpoints and .npy export;
//   - rank settings are validated, and frozen bases take no gradient.
// Set TINYRANK_GOLDEN_REPORT=1 to print the largest difference against PyTorch per quantity.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "golden_fixtures.hpp"
#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/gradcheck.hpp"
#include "tinyrank/io.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

// ---- Helpers -------------------------------------------------------------------------------------

// max |a − b| (infinity when the shapes differ).
float max_difference(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return std::numeric_limits<float>::infinity();
    return max_abs(a - b);
}

// The leading r×r block of a square matrix.
Tensor leading_block(const Tensor& a, int64_t r) {
    const int64_t k = a.size(1);
    Tensor out({r, r});
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j) out[i * r + j] = a[i * k + j];
    return out;
}

// ‖(s_r, s_{r+1}, …)‖₂ (0-based r): the Frobenius error of the best rank-r approximation.
double tail_norm(const Tensor& s, int64_t r) {
    double total = 0.0;
    for (int64_t i = r; i < s.numel(); ++i) total += double(s[i]) * double(s[i]);
    return std::sqrt(total);
}

// Checks that S is diagonal with positive entries in decreasing order.
void check_diagonal_positive_decreasing(const Tensor& s) {
    const int64_t r = s.size(0);
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j) {
            if (i != j) CHECK(s[i * r + j] == 0.0f);
        }
    for (int64_t i = 0; i < r; ++i) {
        CHECK(s[i * r + i] > 0.0f);
        if (i > 0) CHECK(s[i * r + i] <= s[(i - 1) * r + i - 1]);
    }
}

// Makes parameter p use the value of the gradcheck input v and, on the recording tape,
// accumulate its gradient into v's gradient buffer (tape.param() shares p.grad's storage).
// Then gradcheck's analytic ∂L/∂v is the layer's ∂L/∂p.
void bind(Parameter& p, const Var& v) {
    p.value = v.value();
    p.grad = v.requires_grad() ? v.grad_buffer() : Tensor::zeros(v.shape());
}

// gradcheck of a low-rank layer's forward w.r.t. (x, U, S, V, bias).
GradcheckResult gradcheck_layer(Module& layer, LowRankFactors& factors, const Tensor& x) {
    const std::vector<Tensor> inputs{x, factors.U.value.clone(), factors.S.value.clone(), factors.V.value.clone(),
                                     factors.bias.value.clone()};
    return gradcheck(
        [&](const std::vector<Var>& v) {
            bind(factors.U, v[1]);
            bind(factors.S, v[2]);
            bind(factors.V, v[3]);
            bind(factors.bias, v[4]);
            return layer.forward(v[0]);
        },
        inputs);
}

// A small batch of MNIST-sized images in [0, 1].
Tensor images(int64_t n, Rng& rng) { return Tensor::uniform({n, 1, 28, 28}, rng); }

// The low-rank layer called `name` of a model (fails the test if it is not one).
LowRankFactors& factors_of(Sequential& model, const std::string& name) {
    auto* f = dynamic_cast<LowRankFactors*>(&model.layer(name));
    REQUIRE_MESSAGE(f != nullptr, name << " is not a low-rank layer");
    return *f;
}

// A scratch path under the build directory.
std::string scratch(const std::string& name) { return std::string(TINYRANK_BINARY_DIR) + "/test_lowrank_" + name; }

// ---- PyTorch fixtures --------------------------------------------------------------------------

// Largest |tinyrank − torch| per quantity ("lowrank_linear y", …) over all cases.
std::map<std::string, double>& golden_report() {
    static std::map<std::string, double> report;
    return report;
}

// Compares ours with torch's: |ours − torch| ≤ abs + rel·|torch| element by element.
void check_against_torch(const golden::Case& c, const std::string& what, const Tensor& ours, const Tensor& torch,
                         double abs_tol, double rel_tol) {
    REQUIRE_MESSAGE(ours.shape() == torch.shape(), c.name << " " << what << ": shape " << to_string(ours.shape())
                                                          << " vs torch's " << to_string(torch.shape()));
    double& reported = golden_report()[c.op + " " + what];
    reported = std::max(reported, check_close(c.name + " " + what, ours, torch, {abs_tol, rel_tol}));
}

}  // namespace

TEST_SUITE("ch07_training_low_rank") {

// ---- The forward pass is the dense op with W = U S Vᵀ ------------------------------------------

TEST_CASE("LowRankLinear's forward equals linear() with W = U S Vᵀ") {
    Rng rng(11);
    LowRankLinear layer(13, 9, rng, RankOptions{4, 4, 2});
    REQUIRE(layer.rank() == 4);
    // A full (non-diagonal) core, as training leaves it.
    layer.set_factors(layer.U.value, Tensor::normal({4, 4}, rng), layer.V.value);
    layer.bias.value = Tensor::normal({9}, rng);
    const Tensor x = Tensor::normal({5, 13}, rng);

    Tape tape;
    const Tensor dense = linear(tape.input(x), tape.input(layer.weight_matrix()), tape.input(layer.bias.value)).value();
    CHECK(max_difference(output_of(layer, x), dense) < 1e-5f);
    CHECK(layer.weight_matrix().shape() == Shape{9, 13});
}

TEST_CASE("LowRankConv2d's forward equals conv2d() with the kernel (U S Vᵀ).reshape(O, C, k, k)") {
    Rng rng(12);
    struct Geometry {
        int64_t in, out, kernel, stride, padding, rank, n, h, w;
    };
    for (const Geometry& g : {Geometry{3, 5, 3, 2, 1, 3, 2, 7, 6}, Geometry{2, 4, 3, 1, 0, 2, 3, 5, 7},
                              Geometry{1, 6, 5, 1, 2, 4, 1, 6, 5}}) {
        CAPTURE(g.kernel);
        CAPTURE(g.stride);
        LowRankConv2d layer(g.in, g.out, g.kernel, rng, g.stride, g.padding, RankOptions{g.rank, g.rank, 1});
        layer.set_factors(layer.U.value, Tensor::normal({g.rank, g.rank}, rng), layer.V.value);
        layer.bias.value = Tensor::normal({g.out}, rng);
        const Tensor x = Tensor::normal({g.n, g.in, g.h, g.w}, rng);
        const Tensor kernel = layer.weight_matrix().reshape({g.out, g.in, g.kernel, g.kernel});

        Tape tape;
        const Tensor dense =
            conv2d(tape.input(x), tape.input(kernel), tape.input(layer.bias.value), g.stride, g.padding).value();
        CHECK(max_difference(output_of(layer, x), dense) < 1e-5f);
    }
}

// ---- Gradients: finite differences ---------------------------------------------------------------

TEST_CASE("LowRankLinear's gradients w.r.t. input, U, S, V and bias agree with finite differences") {
    Rng rng(21);
    LowRankLinear layer(7, 5, rng, RankOptions{3, 5, 1});
    layer.set_factors(layer.U.value, Tensor::normal({3, 3}, rng), layer.V.value);
    const GradcheckResult result = gradcheck_layer(layer, layer, Tensor::normal({3, 7}, rng));
    CHECK_MESSAGE(result.passed, result.worst);
}

TEST_CASE("LowRankConv2d's gradients w.r.t. input, U, S, V and bias agree with finite differences") {
    Rng rng(22);
    LowRankConv2d layer(2, 3, 3, rng, 2, 1, RankOptions{2, 3, 1});
    layer.set_factors(layer.U.value, Tensor::normal({2, 2}, rng), layer.V.value);
    const GradcheckResult result = gradcheck_layer(layer, layer, Tensor::normal({2, 2, 7, 5}, rng));
    CHECK_MESSAGE(result.passed, result.worst);

    LowRankConv2d plain(3, 2, 2, rng, 1, 0, RankOptions{2, 2, 1});  // stride 1, no padding, 2×2 kernel
    const GradcheckResult second = gradcheck_layer(plain, plain, Tensor::normal({1, 3, 4, 5}, rng));
    CHECK_MESSAGE(second.passed, second.worst);
}

TEST_CASE("the gradient check of a low-rank layer fails when a gradient is wrong") {
    // The wrapper must not pass vacuously: a doubled bias gradient must be caught.
    Rng rng(23);
    LowRankLinear layer(5, 4, rng, RankOptions{2, 2, 1});
    const std::vector<Tensor> inputs{Tensor::normal({3, 5}, rng), layer.U.value.clone(), layer.S.value.clone(),
                                     layer.V.value.clone(), layer.bias.value.clone()};
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Var>& v) {
            bind(layer.U, v[1]);
            bind(layer.S, v[2]);
            bind(layer.V, v[3]);
            bind(layer.bias, v[4]);
            const Var y = layer.forward(v[0]);
            // The same value, but a backward that adds Σ_rows ḡ to ∂b a second time.
            const Var b = v[4];
            return y.tape().record("broken", y.value(), {y, b}, [y, b](const Tensor& g) {
                axpy(1.0f, g, y.grad_buffer());
                if (b.requires_grad()) axpy(1.0f, sum(g, 0), b.grad_buffer());
            });
        },
        inputs);
    CHECK_FALSE(result.passed);
    CHECK(contains(result.worst, "input 4"));
}

// ---- The ops the layers use ------------------------------------------------------------------------

TEST_CASE("matmul with every combination of transpose flags: values and gradients") {
    Rng rng(31);
    const int64_t m = 3, k = 5, n = 4;
    for (const bool ta : {false, true})
        for (const bool tb : {false, true}) {
            CAPTURE(ta);
            CAPTURE(tb);
            const Tensor a = Tensor::normal(ta ? Shape{k, m} : Shape{m, k}, rng);
            const Tensor b = Tensor::normal(tb ? Shape{n, k} : Shape{k, n}, rng);
            // op(A) op(B) by the definition.
            Tensor expected({m, n});
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    double s = 0.0;
                    for (int64_t l = 0; l < k; ++l)
                        s += double(ta ? a[l * m + i] : a[i * k + l]) * double(tb ? b[j * k + l] : b[l * n + j]);
                    expected[i * n + j] = static_cast<float>(s);
                }
            Tape tape;
            const Tensor y = matmul(tape.input(a), tape.input(b), ta, tb).value();
            CHECK(max_difference(y, expected) < 1e-5f);

            const GradcheckResult result =
                gradcheck([ta, tb](const std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a, b});
            CHECK_MESSAGE(result.passed, result.worst);
        }
}

TEST_CASE("im2col equals the naive receptive-field loop, and its gradient is col2im") {
    Rng rng(32);
    struct Geometry {
        int64_t n, c, h, w, kh, kw, stride, padding;
    };
    for (const Geometry& g : {Geometry{2, 3, 7, 5, 3, 2, 2, 1}, Geometry{1, 2, 4, 5, 2, 2, 1, 0},
                              Geometry{3, 1, 5, 5, 3, 3, 3, 2}}) {
        CAPTURE(g.kh);
        CAPTURE(g.stride);
        CAPTURE(g.padding);
        const Tensor x = Tensor::normal({g.n, g.c, g.h, g.w}, rng);
        const int64_t oh_n = (g.h + 2 * g.padding - g.kh) / g.stride + 1;
        const int64_t ow_n = (g.w + 2 * g.padding - g.kw) / g.stride + 1;
        const int64_t columns = g.n * oh_n * ow_n;
        Tensor expected({g.c * g.kh * g.kw, columns});
        for (int64_t c = 0; c < g.c; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
                for (int64_t j = 0; j < g.kw; ++j)
                    for (int64_t n = 0; n < g.n; ++n)
                        for (int64_t oh = 0; oh < oh_n; ++oh)
                            for (int64_t ow = 0; ow < ow_n; ++ow) {
                                const int64_t ih = oh * g.stride - g.padding + i, iw = ow * g.stride - g.padding + j;
                                const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                                expected[((c * g.kh + i) * g.kw + j) * columns + (n * oh_n + oh) * ow_n + ow] =
                                    inside ? x.at({n, c, ih, iw}) : 0.0f;
                            }
        Tape tape;
        const Tensor cols = im2col(tape.input(x), g.kh, g.kw, g.stride, g.padding).value();
        CHECK(cols.shape() == expected.shape());
        CHECK(max_difference(cols, expected) == 0.0f);  // a pure copy: bit for bit

        const GradcheckResult result = gradcheck(
            [g](const std::vector<Var>& v) { return im2col(v[0], g.kh, g.kw, g.stride, g.padding); }, {x});
        CHECK_MESSAGE(result.passed, result.worst);
    }
    Tape tape;
    CHECK(contains(error_message([&] { im2col(tape.input(Tensor({2, 3})), 2, 2); }), "im2col"));
    CHECK(contains(error_message([&] { im2col(tape.input(Tensor({1, 1, 3, 3})), 4, 4); }), "larger"));
}

TEST_CASE("columns_to_images reorders [O, N·P] to [N, O, H_o, W_o] plus the bias, and back") {
    Rng rng(33);
    const int64_t O = 3, N = 2, H = 2, W = 3, P = H * W;
    const Tensor y = Tensor::normal({O, N * P}, rng);
    const Tensor bias = Tensor::normal({O}, rng);
    Tape tape;
    const Tensor out = columns_to_images(tape.input(y), tape.input(bias), N, H, W).value();
    REQUIRE(out.shape() == Shape{N, O, H, W});
    float worst = 0.0f;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t p = 0; p < P; ++p)
                worst = std::max(worst, std::fabs(out[(n * O + o) * P + p] - (y[o * N * P + n * P + p] + bias[o])));
    CHECK(worst == 0.0f);

    const GradcheckResult result = gradcheck(
        [=](const std::vector<Var>& v) { return columns_to_images(v[0], v[1], N, H, W); }, {y, bias});
    CHECK_MESSAGE(result.passed, result.worst);
    CHECK(contains(error_message([&] { columns_to_images(tape.input(y), tape.input(bias), N, H, W + 1); }),
                   "columns_to_images"));
}

// ---- PyTorch ------------------------------------------------------------------------------------

TEST_CASE("the factorised layers match PyTorch's output and gradients on the golden fixtures") {
    const golden::Fixtures& fixtures = golden::cached_fixtures("lowrank.golden");
    REQUIRE(fixtures.cases_of("lowrank_linear").size() >= 2);
    REQUIRE(fixtures.cases_of("lowrank_conv2d").size() >= 2);
    // Sums of at most a few hundred float32 products: differences of a few 1e-6 are round-off.
    const double abs_tol = 1e-5, rel_tol = 1e-4;
    Rng rng(0);
    for (const golden::Case& c : fixtures.cases) {
        CAPTURE(c.name);
        const int64_t r = c.integer("rank");
        std::unique_ptr<Module> module;
        LowRankFactors* factors = nullptr;
        if (c.op == "lowrank_linear") {
            const int64_t in = c.integer("in_features"), out = c.integer("out_features");
            auto layer = std::make_unique<LowRankLinear>(in, out, rng, RankOptions{r, std::min(in, out), 1});
            factors = layer.get();
            module = std::move(layer);
        } else {
            REQUIRE(c.op == "lowrank_conv2d");
            const int64_t in = c.integer("in_channels"), out = c.integer("out_channels"), k = c.integer("kernel");
            auto layer = std::make_unique<LowRankConv2d>(in, out, k, rng, c.integer("stride"), c.integer("padding"),
                                                         RankOptions{r, std::min(out, in * k * k), 1});
            factors = layer.get();
            module = std::move(layer);
        }
        factors->set_factors(c.tensor("U").clone(), c.tensor("S").clone(), c.tensor("V").clone());
        factors->bias.value.copy_from(c.tensor("bias"));
        factors->bias.grad.zero();

        Tape tape;
        const Var x = tape.input(c.tensor("x").clone(), true);
        const Var y = module->forward(x);
        tape.backward(y, c.tensor("gy"));
        check_against_torch(c, "y", y.value(), c.tensor("y"), abs_tol, rel_tol);
        check_against_torch(c, "grad_x", tape.grad(x), c.tensor("grad_x"), abs_tol, rel_tol);
        check_against_torch(c, "grad_U", factors->U.grad, c.tensor("grad_U"), abs_tol, rel_tol);
        check_against_torch(c, "grad_S", factors->S.grad, c.tensor("grad_S"), abs_tol, rel_tol);
        check_against_torch(c, "grad_V", factors->V.grad, c.tensor("grad_V"), abs_tol, rel_tol);
        check_against_torch(c, "grad_bias", factors->bias.grad, c.tensor("grad_bias"), abs_tol, rel_tol);
    }
    report("lowrank.golden", golden_report());
}

// ---- Construction -----------------------------------------------------------------------------------

TEST_CASE("a new low-rank layer has orthonormal U, V and a positive decreasing diagonal S") {
    Rng rng(41);
    LowRankLinear wide(97, 61, rng);  // defaults: rank = rank_max = min(97, 61) / 2 = 30
    CHECK(wide.rank() == 30);
    CHECK(wide.rank_max() == 30);
    CHECK(wide.rank_min() == 2);
    LowRankLinear tall(61, 97, rng, RankOptions{10, 0, 2});
    LowRankConv2d conv(5, 12, 3, rng, 1, 1, RankOptions{4, 0, 2});  // W [12, 45], rank_max 6
    CHECK(conv.rank_max() == 6);
    for (LowRankFactors* f : std::vector<LowRankFactors*>{&wide, &tall, &conv}) {
        CAPTURE(f->rows());
        CHECK(f->U.value.shape() == Shape{f->rows(), f->rank()});
        CHECK(f->V.value.shape() == Shape{f->cols(), f->rank()});
        CHECK(orthonormality_error(f->U.value) < 1e-5f);
        CHECK(orthonormality_error(f->V.value) < 1e-5f);
        check_diagonal_positive_decreasing(f->S.value);
        CHECK(f->U.grad.shape() == f->U.value.shape());
        CHECK(f->S.grad.shape() == f->S.value.shape());
    }
    CHECK(tall.rank() == 10);
    CHECK(tall.cols() == 61);
    CHECK(conv.cols() == 45);
    CHECK(conv.bias.value.shape() == Shape{12});
}

TEST_CASE("from_dense keeps the best rank-r approximation (Eckart–Young)") {
    Rng rng(42);
    Linear dense(13, 9, rng);
    const Tensor s = singular_values(dense.weight.value);
    for (const int64_t r : {1, 2, 4}) {
        CAPTURE(r);
        const auto layer = LowRankLinear::from_dense(dense, RankOptions{r, 4, 1});
        REQUIRE(layer->rank() == r);
        const Tensor residual = dense.weight.value - layer->weight_matrix();
        // ‖W − W_r‖_F = ‖(σ_{r+1}, …)‖₂ and ‖W − W_r‖₂ = σ_{r+1}.
        CHECK(std::fabs(norm(residual) - tail_norm(s, r)) < 1e-5 * norm(dense.weight.value));
        CHECK(std::fabs(singular_values(residual)[0] - s[r]) < 1e-5f * s[0]);
        CHECK(orthonormality_error(layer->U.value) < 1e-5f);
        CHECK(orthonormality_error(layer->V.value) < 1e-5f);
        for (int64_t i = 0; i < r; ++i) CHECK(std::fabs(layer->S.value[i * r + i] - s[i]) < 1e-5f * s[0]);
        CHECK(max_difference(layer->bias.value, dense.bias.value) == 0.0f);
    }
    // Any other rank-2 matrix is further away: e.g. the truncation of a perturbed W.
    Linear nearby(13, 9, rng);
    nearby.weight.value = dense.weight.value + 0.05f * Tensor::normal({9, 13}, rng);
    const auto other = LowRankLinear::from_dense(nearby, RankOptions{2, 4, 1});
    CHECK(norm(dense.weight.value - other->weight_matrix()) > tail_norm(s, 2));

    Conv2d conv(3, 6, 3, rng, 1, 1);
    const Tensor w = conv.weight.value.reshape({6, 27});
    const auto low = LowRankConv2d::from_dense(conv, RankOptions{2, 3, 1});
    CHECK(std::fabs(norm(w - low->weight_matrix()) - tail_norm(singular_values(w), 2)) < 1e-5 * norm(w));
    CHECK(low->stride == 1);
    CHECK(low->padding == 1);
}

TEST_CASE("from_dense at full rank reproduces the dense layer's output") {
    Rng rng(43);
    Linear dense(6, 11, rng);
    const auto low = LowRankLinear::from_dense(dense, RankOptions{6, 6, 2});
    const Tensor x = Tensor::normal({4, 6}, rng);
    CHECK(max_difference(output_of(*low, x), output_of(dense, x)) < 1e-5f);

    Conv2d conv(3, 4, 3, rng, 2, 1);
    const auto low_conv = LowRankConv2d::from_dense(conv, RankOptions{4, 4, 2});
    const Tensor images = Tensor::normal({2, 3, 7, 6}, rng);
    CHECK(max_difference(output_of(*low_conv, images), output_of(conv, images)) < 1e-5f);

    Linear no_bias(5, 3, rng, false);
    const auto low_no_bias = LowRankLinear::from_dense(no_bias, RankOptions{3, 3, 1});
    CHECK(max_abs(low_no_bias->bias.value) == 0.0f);
    const Tensor z = Tensor::normal({2, 5}, rng);
    CHECK(max_difference(output_of(*low_no_bias, z), output_of(no_bias, z)) < 1e-5f);
}

TEST_CASE("set_factors replaces the factors and refuses inconsistent shapes") {
    Rng rng(44);
    LowRankLinear layer(8, 6, rng, RankOptions{3, 3, 1});
    layer.set_factors(leading_columns(layer.U.value, 2), leading_block(layer.S.value, 2),
                      leading_columns(layer.V.value, 2));
    CHECK(layer.rank() == 2);
    CHECK(layer.U.grad.shape() == Shape{6, 2});
    CHECK(layer.stored_weights() == 2 * (6 + 8) + 4);
    CHECK(layer.dense_weights() == 48);
    const std::string message =
        error_message([&] { layer.set_factors(Tensor({6, 2}), Tensor({3, 3}), Tensor({8, 2})); });
    CHECK(contains(message, "[3, 3]"));
    CHECK(contains(error_message([&] { layer.set_factors(Tensor({7, 2}), Tensor({2, 2}), Tensor({8, 2})); }),
                   "[7, 2]"));
}

// ---- Rank options ---------------------------------------------------------------------------------

TEST_CASE("RankOptions are validated: 1 <= rank_min <= rank <= rank_max <= min(n_out, n_in)") {
    Rng rng(51);
    const auto linear_error = [&](RankOptions o) {
        return error_message([&] { LowRankLinear(10, 6, rng, o); });
    };
    CHECK(contains(linear_error({4, 3, 2}), "LowRankLinear"));  // rank above rank_max
    CHECK(contains(linear_error({4, 3, 2}), "rank 4"));
    CHECK(contains(linear_error({0, 7, 2}), "min(n_out, n_in) = 6"));  // rank_max above the full rank
    CHECK(contains(linear_error({2, 3, 0}), "rank_min 0"));            // rank_min below 1
    CHECK(contains(linear_error({2, 3, 3}), "rank 2"));                // rank below rank_min
    CHECK(contains(linear_error({0, 0, 5}), "rank_max 3"));            // default rank_max 3 < rank_min 5
    CHECK(linear_error({0, 6, 1}).empty());                              // the full rank is allowed
    CHECK(contains(error_message([&] { LowRankConv2d(1, 20, 5, rng, 1, 0, RankOptions{0, 21, 2}); }),
                   "LowRankConv2d"));
}

TEST_CASE("frozen bases enter the tape as constants: only S and the bias receive gradients") {
    Rng rng(52);
    LowRankLinear linear_layer(7, 5, rng, RankOptions{3, 3, 1});
    LowRankConv2d conv_layer(2, 4, 3, rng, 1, 1, RankOptions{2, 2, 1});
    struct Item {
        Module* module;
        LowRankFactors* factors;
        Tensor x;
    };
    for (const Item& item : {Item{&linear_layer, &linear_layer, Tensor::normal({3, 7}, rng)},
                             Item{&conv_layer, &conv_layer, Tensor::normal({2, 2, 5, 5}, rng)}}) {
        for (const bool frozen : {true, false}) {
            CAPTURE(frozen);
            item.module->zero_grad();
            item.factors->bases_frozen = frozen;
            Tape tape;
            const Var y = item.module->forward(tape.input(item.x));
            tape.backward(sum(mul(y, tape.input(Tensor::normal(y.shape(), rng)))));
            int params = 0;
            for (size_t i = 0; i < tape.size(); ++i) params += tape.node(i).op == "param";
            CHECK(params == (frozen ? 2 : 4));
            CHECK((max_abs(item.factors->U.grad) == 0.0f) == frozen);
            CHECK((max_abs(item.factors->V.grad) == 0.0f) == frozen);
            CHECK(max_abs(item.factors->S.grad) > 0.0f);
            CHECK(max_abs(item.factors->bias.grad) > 0.0f);
        }
    }
}

// ---- The zoo ----------------------------------------------------------------------------------------

TEST_CASE("factorized_layers: first and last layer stay dense by default; 'all' factorises every one") {
    using V = std::vector<std::string>;
    CHECK(factorized_layers("lenet5", Factorize::standard) == V{"conv2", "fc1"});
    CHECK(factorized_layers("lenet5", Factorize::all) == V{"conv1", "conv2", "fc1", "fc2"});
    CHECK(factorized_layers("mlp", Factorize::standard) == V{"fc1", "fc2"});
    CHECK(factorized_layers("mlp", Factorize::all) == V{"fc1", "fc2", "fc3"});
    CHECK(contains(error_message([] { factorized_layers("resnet", Factorize::standard); }), "'resnet'"));
}

TEST_CASE("lenet5 with conv2 and fc1 at rank 20: parameter counts and compression by hand") {
    Rng rng(61);
    const auto model = make_lowrank_model("lenet5", rng, RankOptions{20, 0, 2});
    const std::vector<LowRankFactors*> layers = lowrank_layers(*model);
    REQUIRE(layers.size() == 2);
    LowRankFactors& conv2 = factors_of(*model, "conv2");
    LowRankFactors& fc1 = factors_of(*model, "fc1");
    CHECK(dynamic_cast<LowRankConv2d*>(&model->layer("conv2")) != nullptr);
    CHECK(dynamic_cast<LowRankLinear*>(&model->layer("fc1")) != nullptr);
    CHECK(dynamic_cast<Conv2d*>(&model->layer("conv1")) != nullptr);
    CHECK(dynamic_cast<Linear*>(&model->layer("fc2")) != nullptr);
    // conv2: W [50, 20·5·5 = 500]; fc1: W [500, 800]; default rank_max = min / 2.
    CHECK(conv2.rows() == 50);
    CHECK(conv2.cols() == 500);
    CHECK(conv2.rank_max() == 25);
    CHECK(fc1.rows() == 500);
    CHECK(fc1.cols() == 800);
    CHECK(fc1.rank_max() == 250);
    CHECK(conv2.rank() == 20);
    CHECK(fc1.rank() == 20);
    CHECK(conv2.stored_weights() == 20 * (50 + 500) + 20 * 20);  // 11 400
    CHECK(fc1.stored_weights() == 20 * (500 + 800) + 20 * 20);   // 26 400
    // Every parameter: conv1 20·25 + 20, conv2 11 400 + 50, fc1 26 400 + 500, fc2 500·10 + 10.
    CHECK(model->parameter_count() == 520 + 11450 + 26900 + 5010);

    const Compression c = compression(*model);
    CHECK(c.lowrank_stored == 11400 + 26400);
    CHECK(c.lowrank_dense == 25000 + 400000);
    CHECK(c.total_stored == 43880);
    CHECK(c.total_dense == 520 + 25050 + 400500 + 5010);  // the dense lenet5: 431 080
    CHECK(c.rate() == doctest::Approx(1.0 - 37800.0 / 425000.0).epsilon(1e-12));    // 91.1 %
    CHECK(c.total_rate() == doctest::Approx(1.0 - 43880.0 / 431080.0).epsilon(1e-12));  // 89.8 %
    Rng same(61);
    CHECK(c.total_dense == make_model("lenet5", same)->parameter_count());

    for (LowRankFactors* f : layers) {
        CHECK(orthonormality_error(f->U.value) < 1e-5f);
        CHECK(orthonormality_error(f->V.value) < 1e-5f);
        check_diagonal_positive_decreasing(f->S.value);
    }
    Tape tape;
    CHECK(model->forward(tape.input(images(2, rng))).shape() == Shape{2, 10});
}

TEST_CASE("mlp with fc1 and fc2 at rank 20: parameter counts and compression by hand") {
    Rng rng(62);
    const auto model = make_lowrank_model("mlp", rng, RankOptions{20, 0, 2});
    REQUIRE(lowrank_layers(*model).size() == 2);
    // fc1: W [500, 784]; fc2: W [500, 500]; fc3 stays dense.
    CHECK(factors_of(*model, "fc1").stored_weights() == 20 * (500 + 784) + 400);  // 26 080
    CHECK(factors_of(*model, "fc2").stored_weights() == 20 * (500 + 500) + 400);  // 20 400
    CHECK(dynamic_cast<Linear*>(&model->layer("fc3")) != nullptr);
    const Compression c = compression(*model);
    CHECK(c.lowrank_stored == 26080 + 20400);
    CHECK(c.lowrank_dense == 392000 + 250000);
    CHECK(c.total_stored == 26580 + 20900 + 5010);
    CHECK(c.total_dense == 392500 + 250500 + 5010);
    CHECK(model->parameter_count() == c.total_stored);
    CHECK(c.rate() == doctest::Approx(1.0 - 46480.0 / 642000.0).epsilon(1e-12));    // 92.8 %
    CHECK(c.total_rate() == doctest::Approx(1.0 - 52490.0 / 648010.0).epsilon(1e-12));  // 91.9 %

    // A dense model compresses nothing.
    Rng same(62);
    const auto dense = make_model("mlp", same);
    const Compression none = compression(*dense);
    CHECK(none.rate() == 0.0);
    CHECK(none.total_rate() == 0.0);
    CHECK(none.total_stored == none.total_dense);
}

TEST_CASE("make_lowrank_model with Factorize::all clamps the rank to what each layer allows") {
    Rng rng(63);
    const auto model = make_lowrank_model("lenet5", rng, RankOptions{20, 0, 2}, Factorize::all);
    REQUIRE(lowrank_layers(*model).size() == 4);
    // conv1 W [20, 25] and fc2 W [10, 500]: the default capacity min / 2 is 10 and 5.
    CHECK(factors_of(*model, "conv1").rank() == 10);
    CHECK(factors_of(*model, "fc2").rank() == 5);
    CHECK(factors_of(*model, "conv2").rank() == 20);
    CHECK(factors_of(*model, "fc1").rank() == 20);
    // An explicit capacity beyond a layer's full rank is clamped to the full rank.
    const auto wide = make_lowrank_model("lenet5", rng, RankOptions{0, 100, 2}, Factorize::all);
    CHECK(factors_of(*wide, "conv1").rank() == 20);
    CHECK(factors_of(*wide, "fc2").rank() == 10);
    CHECK(factors_of(*wide, "conv2").rank() == 50);
    CHECK(factors_of(*wide, "fc1").rank() == 100);
}

TEST_CASE("compress_by_svd: tau = 0 keeps the outputs to round-off, a larger tau lowers the rank") {
    Rng rng(64);
    const auto dense = make_model("lenet5", rng);
    const Tensor x = images(3, rng);
    const Tensor reference = output_of(*dense, x);
    std::vector<Tensor> before;
    for (Parameter* p : dense->parameters()) before.push_back(p->value.clone());

    const auto exact = compress_by_svd(*dense, "lenet5", 0.0f);
    CHECK(factors_of(*exact, "conv2").rank() == 50);   // every singular value of a random W is non-zero
    CHECK(factors_of(*exact, "fc1").rank() == 500);
    CHECK(max_difference(output_of(*exact, x), reference) < 1e-4f * max_abs(reference));

    std::map<float, int64_t> fc1_rank;
    for (const float tau : {0.2f, 0.5f}) {
        CAPTURE(tau);
        const auto pruned = compress_by_svd(*dense, "lenet5", tau);
        fc1_rank[tau] = factors_of(*pruned, "fc1").rank();
        for (const std::string name : {"conv2", "fc1"}) {
            CAPTURE(name);
            LowRankFactors& f = factors_of(*pruned, name);
            const Tensor w = name == "fc1" ? dynamic_cast<Linear&>(dense->layer(name)).weight.value
                                           : dynamic_cast<Conv2d&>(dense->layer(name)).weight.value.reshape({50, -1});
            const Tensor s = singular_values(w);
            CHECK(f.rank() == truncation_rank(s, tau));
            CHECK(f.rank() < s.numel());
            // The discarded part is below tau in relative Frobenius norm.
            CHECK(norm(w - f.weight_matrix()) < tau * norm(w));
            CHECK(norm(w - f.weight_matrix()) == doctest::Approx(tail_norm(s, f.rank())).epsilon(1e-4));
        }
        // On a random (untrained) W the spectrum is flat, so these ranks are high and may
        // store more than the dense W; the counts still follow r (n_in + n_out) + r².
        const Compression c = compression(*pruned);
        const LowRankFactors& conv2 = factors_of(*pruned, "conv2");
        const LowRankFactors& fc1 = factors_of(*pruned, "fc1");
        CHECK(c.lowrank_stored == conv2.rank() * (50 + 500 + conv2.rank()) + fc1.rank() * (500 + 800 + fc1.rank()));
        CHECK(c.lowrank_dense == 25000 + 400000);
    }
    CHECK(fc1_rank[0.5f] < fc1_rank[0.2f]);

    // The input model is not modified.
    const std::vector<Parameter*> after = dense->parameters();
    for (size_t i = 0; i < after.size(); ++i) CHECK(max_difference(after[i]->value, before[i]) == 0.0f);
    CHECK(max_difference(output_of(*dense, x), reference) == 0.0f);

    const auto mlp_dense = make_model("mlp", rng);
    const auto mlp_exact = compress_by_svd(*mlp_dense, "mlp", 0.0f);
    const Tensor flat = images(2, rng);
    const Tensor mlp_reference = output_of(*mlp_dense, flat);
    CHECK(max_difference(output_of(*mlp_exact, flat), mlp_reference) < 1e-4f * max_abs(mlp_reference));
}

TEST_CASE("a low-rank model survives a checkpoint round trip: same outputs, same ranks") {
    Rng rng(71);
    const auto model = make_lowrank_model("lenet5", rng, RankOptions{8, 12, 2});
    // Truncate fc1 to rank 5, as the integrator would: the checkpoint must keep the new rank.
    LowRankFactors& fc1 = factors_of(*model, "fc1");
    fc1.set_factors(leading_columns(fc1.U.value, 5), leading_block(fc1.S.value, 5), leading_columns(fc1.V.value, 5));
    fc1.bases_frozen = true;
    const Tensor x = images(2, rng);
    const Tensor reference = output_of(*model, x);

    const std::string path = scratch("checkpoint.trk");
    save_checkpoint(path, *model, "lenet5", {{"seed", "71"}});
    const auto loaded = load_model(path);
    CHECK(max_difference(output_of(*loaded, x), reference) == 0.0f);
    for (const std::string name : {"conv2", "fc1"}) {
        CAPTURE(name);
        LowRankFactors& a = factors_of(*model, name);
        LowRankFactors& b = factors_of(*loaded, name);
        CHECK(b.rank() == a.rank());
        CHECK(b.rank_max() == a.rank_max());
        CHECK(b.rank_min() == a.rank_min());
        CHECK(max_difference(b.U.value, a.U.value) == 0.0f);
        CHECK(max_difference(b.S.value, a.S.value) == 0.0f);
        CHECK(max_difference(b.V.value, a.V.value) == 0.0f);
    }
    CHECK(factors_of(*loaded, "fc1").rank() == 5);
    CHECK(factors_of(*loaded, "conv2").rank() == 8);
    CHECK(compression(*loaded).total_stored == compression(*model).total_stored);
    std::filesystem::remove(path);
}

TEST_CASE("export_npy writes U, S, V and bias of a low-rank layer") {
    Rng rng(72);
    const auto model = make_lowrank_model("mlp", rng, RankOptions{6, 0, 2});
    const std::string dir = scratch("export");
    std::filesystem::remove_all(dir);
    export_npy(dir, *model, "mlp");
    LowRankFactors& fc1 = factors_of(*model, "fc1");
    const std::vector<std::pair<std::string, const Tensor*>> files{
        {"fc1.U.npy", &fc1.U.value}, {"fc1.S.npy", &fc1.S.value}, {"fc1.V.npy", &fc1.V.value},
        {"fc1.bias.npy", &fc1.bias.value}};
    for (const auto& [file, tensor] : files) {
        CAPTURE(file);
        const Tensor read = read_npy(dir + "/" + file);
        CHECK(read.shape() == tensor->shape());
        CHECK(max_difference(read, *tensor) == 0.0f);
    }
    CHECK(read_npy(dir + "/fc1.U.npy").shape() == Shape{500, 6});
    CHECK(read_npy(dir + "/fc1.V.npy").shape() == Shape{784, 6});
    CHECK(std::filesystem::exists(dir + "/fc3.weight.npy"));
    const std::string manifest = read_file(dir + "/manifest.json");
    CHECK(contains(manifest, "\"LowRankLinear\""));
    CHECK(contains(manifest, "\"fc1.U.npy\""));
    CHECK(contains(manifest, "\"rank\""));
    std::filesystem::remove_all(dir);
}

}  // TEST_SUITE
