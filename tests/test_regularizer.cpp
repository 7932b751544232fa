// The spectral regulariser: value, gradient, invariances, and its effect on κ(S)
// (book chapter 9; book/method.md §3).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/gradcheck.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/regularizer.hpp"

using namespace tinyrank;

namespace {
// A random orthogonal n×n matrix.
Tensor random_orthogonal(int64_t n, Rng& rng) { return qr(Tensor::normal({n, n}, rng)).Q; }
}  // namespace

TEST_SUITE("ch09_condition_numbers") {
TEST_CASE("R(S)²/r is the variance of the squared singular values") {
    Rng rng(1);
    for (int64_t r : {1, 2, 5, 9}) {
        const Tensor s = Tensor::normal({r, r}, rng);
        const Tensor sigma = singular_values(s);
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < r; ++i) mean += double(sigma[i]) * sigma[i] / r;
        for (int64_t i = 0; i < r; ++i) var += std::pow(double(sigma[i]) * sigma[i] - mean, 2) / r;
        const double value = spectral_regularizer_value(s);
        CHECK(value * value / r == doctest::Approx(var).epsilon(1e-4));
    }
}

TEST_CASE("R is zero at scaled orthogonal matrices and invariant under P S Qᵀ") {
    Rng rng(2);
    const Tensor q = random_orthogonal(6, rng);
    CHECK(spectral_regularizer_value(3.0f * q) < 1e-5f);
    const Tensor s = Tensor::normal({6, 6}, rng);
    const Tensor p = random_orthogonal(6, rng), o = random_orthogonal(6, rng);
    const Tensor rotated = matmul(matmul(p, s), o, false, true);
    CHECK(spectral_regularizer_value(rotated) == doctest::Approx(spectral_regularizer_value(s)).epsilon(1e-4));
}

TEST_CASE("the hand-derived gradient 2 S (SᵀS − α²I) / R passes finite differences and matches autodiff") {
    Rng rng(3);
    const Tensor s = Tensor::normal({5, 5}, rng);
    const GradcheckResult check = gradcheck([](const std::vector<Var>& in) { return spectral_regularizer(in[0]); }, {s});
    INFO(check.worst);
    CHECK(check.passed);
    // The same expression built from ops: sqrt(Σ (SᵀS − α²I)²) with α² = ‖S‖²/r.
    Tape tape;
    const Var a = tape.input(s, true);
    tape.backward(spectral_regularizer(a));
    Tape tape2;
    const Var b = tape2.input(s, true);
    const Var gram = matmul(b, b, true, false);
    const Var alpha2 = scale(sum(mul(b, b)), 1.0f / 5.0f);
    const Var deviation = sub(gram, mul(tape2.input(Tensor::eye(5)), alpha2));
    const Var f = sum(mul(deviation, deviation));  // R²; ∇R = ∇(R²) / (2R)
    tape2.backward(f);
    const float r = std::sqrt(f.value().item());
    CHECK(max_abs(a.grad() - (0.5f / r) * b.grad()) < 1e-4f);
}

TEST_CASE("the gradient is taken as zero where R vanishes") {
    // A scaled permutation is exactly scaled-orthogonal in float: SᵀS − α²I is exactly 0.
    // (Near R = 0 the plain norm has a kink: its gradient keeps unit size, so the test
    // uses an exact zero rather than a rounded one.)
    Tensor s({3, 3});
    s[0 * 3 + 1] = 2.0f;
    s[1 * 3 + 2] = -2.0f;
    s[2 * 3 + 0] = 2.0f;
    Tape tape;
    const Var a = tape.input(s, true);
    const Var r = spectral_regularizer(a);
    CHECK(r.value().item() == 0.0f);
    tape.backward(r);
    CHECK(max_abs(a.grad()) == 0.0f);
}

TEST_CASE("gradient steps on R lower κ of an ill-conditioned core") {
    Rng rng(5);
    const Tensor u = random_orthogonal(6, rng), v = random_orthogonal(6, rng);
    Tensor sigma({6, 6});
    const float values[6] = {50.0f, 20.0f, 5.0f, 1.0f, 0.5f, 0.1f};
    for (int i = 0; i < 6; ++i) sigma[i * 6 + i] = values[i];
    Parameter core("S", matmul(matmul(u, sigma), v, false, true));
    const float kappa_before = condition_number(core.value);
    for (int step = 0; step < 300; ++step) {
        Tape tape;
        core.grad.zero();
        tape.backward(spectral_regularizer(tape.param(core)));
        axpy(-0.01f, core.grad, core.value);
    }
    const float kappa_after = condition_number(core.value);
    CHECK(kappa_before > 400.0f);
    CHECK(kappa_after < kappa_before / 10.0f);
}

TEST_CASE("spectral_penalty sums β R over the layers") {
    Rng rng(6);
    LowRankLinear a(8, 7, rng, RankOptions{3, 3, 1}), b(6, 5, rng, RankOptions{2, 2, 1});
    a.S.value = Tensor::normal({3, 3}, rng);
    b.S.value = Tensor::normal({2, 2}, rng);
    Tape tape;
    const Var p = spectral_penalty(0.5f)(tape, {&a, &b});
    CHECK(p.value().item() == doctest::Approx(0.5 * (spectral_regularizer_value(a.S.value) +
                                                     spectral_regularizer_value(b.S.value))).epsilon(1e-5));
    CHECK_THROWS_AS(spectral_penalty(-1.0f), Error);
}
}
