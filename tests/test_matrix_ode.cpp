// Low-rank matrices and the BUG integrator for a general matrix ODE Ẏ = F(t, Y) (book
// chapter 6; book/method.md §2), checked on problems whose solution is known:
//   (a) exactness: when F(t, Y) = Ȧ(t) and A(t) has rank r, the BUG step reproduces A(t)
//       to round-off (Ceruti & Lubich's exactness property), for the rank-adaptive and the
//       fixed-rank step;
//   (b) convergence: on Ẏ = A Y + Y Bᵀ, Y(t) = e^{tA} Y₀ e^{tB}ᵀ (rank r for all t), the error
//       at the final time falls like h (first order) as h is halved;
//   (c) rank adaptivity: on the relaxation Ẏ = A* − Y towards a rank-5 A*, a start at rank 2
//       settles at rank 5 with a moderate τ and at a smaller rank with a larger τ;
//   (d) integrate(): explicit Euler has order 1, RK4 order 4;
//   (e) LowRankMatrix::apply and truncated_svd.
// Reference solutions are computed here in double precision (matrix exponentials by scaling
// and squaring), independent of the code under test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/matrix_ode.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;

namespace {

// ---- Double-precision reference arithmetic ----------------------------------------------------

// A dense row-major matrix of doubles.
struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<double> a;
    Matrix(int64_t r, int64_t c) : rows(r), cols(c), a(static_cast<size_t>(r * c), 0.0) {}
    double& operator()(int64_t i, int64_t j) { return a[static_cast<size_t>(i * cols + j)]; }
    double operator()(int64_t i, int64_t j) const { return a[static_cast<size_t>(i * cols + j)]; }
};

Matrix to_matrix(const Tensor& t) {
    Matrix m(t.size(0), t.size(1));
    for (int64_t i = 0; i < t.numel(); ++i) m.a[static_cast<size_t>(i)] = t[i];
    return m;
}

// A B, or A Bᵀ with transpose_b.
Matrix product(const Matrix& x, const Matrix& y, bool transpose_b = false) {
    const int64_t k = x.cols, n = transpose_b ? y.rows : y.cols;
    Matrix out(x.rows, n);
    for (int64_t i = 0; i < x.rows; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (int64_t l = 0; l < k; ++l) s += x(i, l) * (transpose_b ? y(j, l) : y(l, j));
            out(i, j) = s;
        }
    return out;
}

// e^{tM} by scaling and squaring a 20-term Taylor series (‖tM‖ / 2^s ≤ 1/2).
Matrix expm(const Matrix& m, double t) {
    const int64_t n = m.rows;
    double size = 0.0;
    for (double v : m.a) size = std::max(size, std::fabs(v) * n * std::fabs(t));
    int squarings = 0;
    while (size > 0.5) size /= 2, ++squarings;
    Matrix scaled = m;
    for (double& v : scaled.a) v *= t / std::ldexp(1.0, squarings);
    Matrix sum(n, n), term(n, n);
    for (int64_t i = 0; i < n; ++i) sum(i, i) = term(i, i) = 1.0;
    for (int k = 1; k <= 20; ++k) {
        term = product(term, scaled);
        for (double& v : term.a) v /= k;
        for (size_t i = 0; i < sum.a.size(); ++i) sum.a[i] += term.a[i];
    }
    for (int s = 0; s < squarings; ++s) sum = product(sum, sum);
    return sum;
}

// ‖x − y‖_F / ‖y‖_F with y in double.
double relative_error(const Tensor& x, const Matrix& y) {
    double diff = 0.0, size = 0.0;
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double e = double(x[i]) - y.a[static_cast<size_t>(i)];
        diff += e * e;
        size += y.a[static_cast<size_t>(i)] * y.a[static_cast<size_t>(i)];
    }
    return std::sqrt(diff / size);
}

// ---- Test problems ----------------------------------------------------------------------------

// An m×k matrix with orthonormal columns.
Tensor orthonormal(int64_t m, int64_t k, Rng& rng) { return qr(Tensor::normal({m, k}, rng)).Q; }

// diag(values).
Tensor diagonal(const std::vector<float>& values) {
    const auto r = static_cast<int64_t>(values.size());
    Tensor d({r, r});
    for (int64_t i = 0; i < r; ++i) d[i * r + i] = values[static_cast<size_t>(i)];
    return d;
}

// ‖(s_r, s_{r+1}, …)‖₂ for 0-based r.
double tail_norm(const Tensor& s, int64_t r) {
    double total = 0.0;
    for (int64_t i = r; i < s.numel(); ++i) total += double(s[i]) * double(s[i]);
    return std::sqrt(total);
}

// A(t) = (U₀ + t U₁) (S₀ + t S₁) (V₀ + t V₁)ᵀ, a rank-r family with a derivative in closed form.
struct RankFamily {
    Tensor U0, U1, S0, S1, V0, V1;

    Tensor at(double t) const {
        const auto s = static_cast<float>(t);
        return matmul(matmul(U0 + s * U1, S0 + s * S1), V0 + s * V1, false, true);
    }
    // Ȧ = U₁ S Vᵀ + U S₁ Vᵀ + U S V₁ᵀ at time t.
    Tensor derivative(double t) const {
        const auto s = static_cast<float>(t);
        const Tensor U = U0 + s * U1, S = S0 + s * S1, V = V0 + s * V1;
        return matmul(matmul(U1, S), V, false, true) + matmul(matmul(U, S1), V, false, true) +
               matmul(matmul(U, S), V1, false, true);
    }
};

RankFamily rank_family(int64_t m, int64_t n, int64_t r, Rng& rng) {
    RankFamily a;
    a.U0 = orthonormal(m, r, rng);
    a.V0 = orthonormal(n, r, rng);
    a.U1 = Tensor::normal({m, r}, rng, 0.0f, 0.3f);
    a.V1 = Tensor::normal({n, r}, rng, 0.0f, 0.3f);
    std::vector<float> sigma;
    for (int64_t i = 0; i < r; ++i) sigma.push_back(static_cast<float>(r - i));
    a.S0 = diagonal(sigma) + Tensor::normal({r, r}, rng, 0.0f, 0.2f);
    a.S1 = Tensor::normal({r, r}, rng, 0.0f, 0.5f);
    return a;
}

// Ẏ = A Y + Y Bᵀ with A [m, m], B [n, n] of moderate norm.
struct Sylvester {
    Tensor A, B;
    MatrixField field() const {
        return [this](double, const Tensor& y) { return matmul(A, y) + matmul(y, B, false, true); };
    }
    // e^{tA} Y₀ e^{tB}ᵀ in double.
    Matrix solution(const Tensor& y0, double t) const {
        return product(product(expm(to_matrix(A), t), to_matrix(y0)), expm(to_matrix(B), t), true);
    }
};

Sylvester sylvester(int64_t m, int64_t n, Rng& rng) {
    return {Tensor::normal({m, m}, rng, 0.0f, 0.8f / std::sqrt(float(m))),
            Tensor::normal({n, n}, rng, 0.0f, 0.8f / std::sqrt(float(n)))};
}

// Steps bug_step from t = 0 to t = steps · h.
LowRankMatrix run_bug(LowRankMatrix y, const MatrixField& f, int steps, const BugOptions& options) {
    for (int k = 0; k < steps; ++k) y = bug_step(y, f, k * options.h, options);
    return y;
}

}  // namespace

TEST_SUITE("ch06_dynamical_low_rank") {

// ---- (e) Low-rank matrices ------------------------------------------------------------------------

TEST_CASE("LowRankMatrix::apply equals X Yᵀ without forming Y") {
    Rng rng(1);
    const LowRankMatrix y{orthonormal(9, 3, rng), Tensor::normal({3, 3}, rng), orthonormal(7, 3, rng)};
    CHECK(y.rank() == 3);
    const Tensor full = y.full();
    REQUIRE(full.shape() == Shape{9, 7});
    const Tensor x = Tensor::normal({4, 7}, rng);
    const Tensor applied = y.apply(x);
    REQUIRE(applied.shape() == Shape{4, 9});
    CHECK(max_abs(applied - matmul(x, full, false, true)) < 1e-5f);
    // full() is U S Vᵀ entry by entry.
    double worst = 0.0;
    for (int64_t i = 0; i < 9; ++i)
        for (int64_t j = 0; j < 7; ++j) {
            double s = 0.0;
            for (int64_t a = 0; a < 3; ++a)
                for (int64_t b = 0; b < 3; ++b) s += double(y.U[i * 3 + a]) * y.S[a * 3 + b] * y.V[j * 3 + b];
            worst = std::max(worst, std::fabs(s - full[i * 7 + j]));
        }
    CHECK(worst < 1e-6);
}

TEST_CASE("truncated_svd is the best rank-r approximation (Eckart–Young)") {
    Rng rng(2);
    const Tensor y = Tensor::normal({12, 9}, rng);
    const Tensor s = singular_values(y);
    for (int64_t r = 1; r <= 9; ++r) {
        CAPTURE(r);
        const LowRankMatrix yr = truncated_svd(y, r);
        REQUIRE(yr.rank() == r);
        CHECK(yr.U.shape() == Shape{12, r});
        CHECK(yr.V.shape() == Shape{9, r});
        CHECK(orthonormality_error(yr.U) < 1e-5f);
        CHECK(orthonormality_error(yr.V) < 1e-5f);
        for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < r; ++j) {
                if (i == j) CHECK(std::fabs(yr.S[i * r + j] - s[i]) < 1e-5f * s[0]);
                else CHECK(yr.S[i * r + j] == 0.0f);
            }
        const Tensor residual = y - yr.full();
        CHECK(std::fabs(norm(residual) - tail_norm(s, r)) < 1e-5 * norm(y));
        if (r < 9) CHECK(std::fabs(singular_values(residual)[0] - s[r]) < 1e-5f * s[0]);
    }
    CHECK(truncated_svd(y, 20).rank() == 9);  // at most min(m, n)
}

// ---- (d) The sub-step integrators -------------------------------------------------------------------

TEST_CASE("integrate: explicit Euler has order 1 and RK4 order 4 on a linear matrix ODE") {
    Rng rng(3);
    // Ẏ = M Y with a non-normal M (rotation, decay and shear): Y(1) = e^{M} Y₀.
    const Tensor M({3, 3}, {-0.5f, 2.0f, 0.3f, -2.0f, -0.5f, 0.7f, 0.0f, 0.4f, -1.0f});
    const Tensor y0 = Tensor::normal({3, 2}, rng);
    const MatrixField f = [&](double, const Tensor& y) { return matmul(M, y); };
    const Matrix exact = product(expm(to_matrix(M), 1.0), to_matrix(y0));

    std::vector<double> euler, rk4;
    for (const int64_t n : {16, 32, 64, 128}) euler.push_back(relative_error(integrate(f, y0, 0.0, 1.0, n, Integrator::euler), exact));
    for (const int64_t n : {2, 4, 8}) rk4.push_back(relative_error(integrate(f, y0, 0.0, 1.0, n, Integrator::rk4), exact));
    for (size_t i = 1; i < euler.size(); ++i) {
        CAPTURE(euler[i - 1] / euler[i]);
        CHECK(euler[i - 1] / euler[i] == doctest::Approx(2.0).epsilon(0.15));
    }
    for (size_t i = 1; i < rk4.size(); ++i) {
        CAPTURE(rk4[i - 1] / rk4[i]);
        CHECK(rk4[i - 1] / rk4[i] == doctest::Approx(16.0).epsilon(0.25));
    }
    CHECK(rk4.back() < 1e-3);

    // A scalar ODE: ẏ = λ y, y(1) = e^{λ}.
    const float lambda = 1.5f;
    const MatrixField g = [&](double, const Tensor& y) { return lambda * y; };
    const Tensor one({1, 1}, {1.0f});
    const auto scalar_error = [&](int64_t n, Integrator method) {
        return std::fabs(double(integrate(g, one, 0.0, 1.0, n, method)[0]) - std::exp(1.5));
    };
    CHECK(scalar_error(32, Integrator::euler) / scalar_error(64, Integrator::euler) ==
          doctest::Approx(2.0).epsilon(0.1));
    CHECK(scalar_error(4, Integrator::rk4) / scalar_error(8, Integrator::rk4) == doctest::Approx(16.0).epsilon(0.25));
}

TEST_CASE("integrate advances time: ẏ = 3t² from t = 1 to 2 (Euler sums the left endpoints, RK4 is exact)") {
    const MatrixField f = [](double t, const Tensor& y) { return Tensor::full(y.shape(), float(3.0 * t * t)); };
    const Tensor zero({1, 1});
    double left_sum = 0.0;  // Σ_k 3 t_k² Δt, t_k = 1 + k/4
    for (int k = 0; k < 4; ++k) left_sum += 3.0 * (1.0 + k / 4.0) * (1.0 + k / 4.0) / 4.0;
    CHECK(integrate(f, zero, 1.0, 1.0, 4, Integrator::euler)[0] == doctest::Approx(left_sum).epsilon(1e-6));
    CHECK(integrate(f, zero, 1.0, 1.0, 4, Integrator::rk4)[0] == doctest::Approx(7.0).epsilon(1e-6));  // 2³ − 1³
    CHECK(integrate(f, zero, 1.0, 1.0, 1, Integrator::rk4)[0] == doctest::Approx(7.0).epsilon(1e-6));
    CHECK(std::string(
              [&] {
                  try {
                      integrate(f, zero, 0.0, 1.0, 0, Integrator::euler);
                  } catch (const Error& e) {
                      return e.what();
                  }
                  return "";
              }())
              .find("sub-step") != std::string::npos);
}

// ---- (a) Exactness --------------------------------------------------------------------------------

TEST_CASE("the BUG step reproduces a rank-r solution A(t) exactly when F = Ȧ(t) (exactness property)") {
    Rng rng(4);
    const int64_t m = 14, n = 10, r = 3;
    const RankFamily a = rank_family(m, n, r, rng);
    const MatrixField f = [&](double t, const Tensor&) { return a.derivative(t); };
    const LowRankMatrix start = truncated_svd(a.at(0.0), r);
    REQUIRE(norm(start.full() - a.at(0.0)) < 1e-5f * norm(a.at(0.0)));

    for (const bool adaptive : {true, false}) {
        CAPTURE(adaptive);
        BugOptions options;
        options.h = 0.1;
        options.tau = 1e-3f;
        options.adaptive = adaptive;
        options.integrator = Integrator::rk4;  // Simpson's rule: exact for the quadratic Ȧ(t)
        LowRankMatrix y = start;
        double worst = 0.0;
        for (int k = 0; k < 6; ++k) {
            y = bug_step(y, f, k * options.h, options);
            const Tensor exact = a.at((k + 1) * options.h);
            worst = std::max(worst, double(norm(y.full() - exact) / norm(exact)));
            CHECK(y.rank() == r);
            CHECK(orthonormality_error(y.U) < 1e-5f);
            CHECK(orthonormality_error(y.V) < 1e-5f);
        }
        CAPTURE(worst);
        CHECK(worst < 1e-4);
        // The solution moved far from where it started: exactness is not standing still.
        CHECK(norm(a.at(0.6) - a.at(0.0)) > 0.3f * norm(a.at(0.0)));
    }
}

// ---- (b) Convergence --------------------------------------------------------------------------------

TEST_CASE("at fixed rank, the BUG error on Ẏ = A Y + Y Bᵀ falls like h") {
    Rng rng(5);
    const int64_t m = 16, n = 12, r = 3;
    const Sylvester problem = sylvester(m, n, rng);
    const LowRankMatrix start{orthonormal(m, r, rng), diagonal({1.0f, 0.5f, 0.25f}), orthonormal(n, r, rng)};
    const Matrix exact = problem.solution(start.full(), 1.0);
    const MatrixField f = problem.field();

    std::vector<double> errors;
    for (const int steps : {4, 8, 16, 32}) {
        BugOptions options;
        options.h = 1.0 / steps;
        options.adaptive = false;
        options.integrator = Integrator::euler;
        const LowRankMatrix y = run_bug(start, f, steps, options);
        CHECK(y.rank() == r);
        CHECK(orthonormality_error(y.U) < 1e-5f);
        errors.push_back(relative_error(y.full(), exact));
    }
    CAPTURE(errors[0]);
    CAPTURE(errors[3]);
    for (size_t i = 1; i < errors.size(); ++i) {
        CAPTURE(errors[i - 1] / errors[i]);
        CHECK(errors[i] < errors[i - 1]);
        CHECK(errors[i - 1] / errors[i] == doctest::Approx(2.0).epsilon(0.3));  // first order
    }
    CHECK(errors.back() < 0.05);

    // With RK4 sub-steps the sub-problems are solved almost exactly; the splitting error of
    // the BUG step remains, so the error still falls with h.
    std::vector<double> rk4;
    for (const int steps : {4, 8, 16}) {
        BugOptions options;
        options.h = 1.0 / steps;
        options.adaptive = false;
        rk4.push_back(relative_error(run_bug(start, f, steps, options).full(), exact));
    }
    CHECK(rk4[1] < rk4[0]);
    CHECK(rk4[2] < rk4[1]);
}

// ---- (c) Rank adaptivity ------------------------------------------------------------------------------

TEST_CASE("the rank-adaptive step finds the rank of the solution: rank 2 → 5 at moderate τ, fewer at larger τ") {
    Rng rng(6);
    const int64_t m = 30, n = 20;
    // A* = P diag(5, 4, 3, 2, 1) Qᵀ; Ẏ = A* − Y relaxes every start towards A* (rate 1), so
    // the solution has rank 5 with a clear gap (σ₆ = 0). ‖σ‖ = √55: dropping σ₅ discards
    // 1/√55 = 0.135 of the norm, so τ = 0.05 must keep all five.
    const std::vector<float> sigma{5, 4, 3, 2, 1};
    const Tensor left = orthonormal(m, 5, rng);  // drawn in a fixed order (argument order is unspecified)
    const Tensor right = orthonormal(n, 5, rng);
    const Tensor target = matmul(matmul(left, diagonal(sigma)), right, false, true);
    const Tensor sigma_tensor({5}, sigma);
    const MatrixField f = [&](double, const Tensor& y) { return target - y; };
    const LowRankMatrix start{orthonormal(m, 2, rng), diagonal({0.2f, 0.1f}), orthonormal(n, 2, rng)};

    // The ranks after each of 60 steps of h = 0.25 (t = 15, e^{−15} ≈ 3e-7), and the final Y.
    const auto ranks_and_final = [&](BugOptions options) {
        std::vector<int64_t> ranks;
        LowRankMatrix y = start;
        for (int k = 0; k < 60; ++k) {
            y = bug_step(y, f, k * options.h, options);
            ranks.push_back(y.rank());
            CHECK(orthonormality_error(y.U) < 1e-5f);
            CHECK(orthonormality_error(y.V) < 1e-5f);
        }
        return std::make_pair(ranks, y);
    };
    // True when the rank has not changed over the last 30 steps.
    const auto settled = [](const std::vector<int64_t>& ranks) {
        return std::all_of(ranks.begin() + 30, ranks.end(), [&](int64_t r) { return r == ranks.back(); });
    };

    BugOptions moderate;
    moderate.h = 0.25;
    moderate.tau = 0.05f;
    const auto result = ranks_and_final(moderate);
    const std::vector<int64_t>& ranks = result.first;
    const LowRankMatrix& y = result.second;
    CAPTURE(ranks[0]);
    CAPTURE(ranks[1]);
    CHECK(ranks.front() > 2);  // the first step already grows the rank
    CHECK(settled(ranks));
    CHECK(ranks.back() == 5);
    CHECK(norm(y.full() - target) < 1e-3f * norm(target));

    // A larger τ settles at a smaller rank r₁ < 5, on the best rank-r₁ approximation A*_{r₁}
    // (error = the tail of σ). r₁ may lie below the rank the τ rule gives for A* itself: the
    // step sees new directions only through F(Y)V₀ and F(Y)ᵀU₀, and at Y = A*_r these vanish
    // (A* − A*_r is orthogonal to both bases) — A*_r is a stationary point of the low-rank
    // flow. Directions truncated early are not found again (book/method.md §6 sees the same in training).
    int64_t previous = ranks.back();
    for (const float tau : {0.15f, 0.2f, 0.35f}) {
        CAPTURE(tau);
        BugOptions larger = moderate;
        larger.tau = tau;
        const auto larger_result = ranks_and_final(larger);
        const std::vector<int64_t>& larger_ranks = larger_result.first;
        const LowRankMatrix& z = larger_result.second;
        const int64_t r1 = larger_ranks.back();
        CAPTURE(r1);
        CHECK(settled(larger_ranks));
        CHECK(r1 < 5);
        CHECK(r1 <= previous);
        CHECK(std::fabs(norm(z.full() - target) - tail_norm(sigma_tensor, r1)) < 1e-3);
        previous = r1;
    }

    // Capped by rank_max, the rank stays at the cap.
    BugOptions capped = moderate;
    capped.rank_max = 3;
    CHECK(run_bug(start, f, 20, capped).rank() == 3);
    // rank_min keeps more than τ asks for.
    BugOptions floor = moderate;
    floor.tau = 0.35f;
    floor.rank_min = 4;
    CHECK(run_bug(start, f, 30, floor).rank() == 4);
}

}  // TEST_SUITE
