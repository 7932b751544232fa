// QR, SVD, the truncation rule and the basis helpers of the integrator (book chapters 5
// and 6). Random matrices come from the project's Rng, so every run sees the same numbers.
//
// Tolerances: float32 has a unit roundoff of 6e-8; a factorisation of the sizes used here
// reproduces its input to a relative error of a few 1e-7, so the checks below use 1e-5
// (orthonormality, reconstruction) and 1e-6 (orthogonality after projection), which leave
// headroom for BLAS/LAPACK builds yet still catch a wrong transpose, sign or index.
#include <doctest/doctest.h>

#include <lapacke.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

// ‖A − B‖_F / ‖A‖_F.
float relative_error(const Tensor& a, const Tensor& b) { return norm(a - b) / norm(a); }

// U diag(s) Vt.
Tensor reconstruct(const SVD& f) {
    Tensor us = f.U.clone();
    const int64_t m = us.size(0), k = us.size(1);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) us[i * k + j] *= f.s[j];
    return matmul(us, f.Vt);
}

// An m×k matrix with orthonormal columns (k ≤ m), from the QR of a Gaussian matrix.
Tensor random_orthonormal(Rng& rng, int64_t m, int64_t k) { return qr(Tensor::normal({m, k}, rng)).Q; }

// The first `count` columns of g.
Tensor first_columns(const Tensor& g, int64_t count) {
    const int64_t m = g.size(0), c = g.size(1);
    Tensor out = Tensor::empty({m, count});
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < count; ++j) out[i * count + j] = g[i * c + j];
    return out;
}

// True when the leading block of `whole` has exactly the bits of `block`.
bool bit_identical_block(const Tensor& whole, const Tensor& block) {
    const int64_t m = block.size(0), r = block.size(1), total = whole.size(1);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < r; ++j)
            if (std::memcmp(whole.data() + i * total + j, block.data() + i * r + j, sizeof(float)) != 0) return false;
    return true;
}

// ‖B Bᵀ G − G‖_F / ‖G‖_F: zero when the columns of G lie in span(B) (B orthonormal).
float outside_span(const Tensor& b, const Tensor& g) {
    return relative_error(g, matmul(b, matmul(b, g, true, false)));
}

const std::vector<std::pair<int64_t, int64_t>> kTallShapes{{7, 3}, {50, 20}, {1, 1}, {5, 5}, {10, 1}, {64, 64}};
const std::vector<std::pair<int64_t, int64_t>> kAllShapes{{7, 3},  {3, 7}, {50, 20}, {20, 50},
                                                          {1, 1},  {5, 5}, {1, 6},   {6, 1}};

}  // namespace

TEST_SUITE("ch05_low_rank") {

TEST_CASE("qr: Q has orthonormal columns, R is upper triangular, and QR = A") {
    Rng rng(501);
    for (auto [m, n] : kTallShapes) {
        CAPTURE(m);
        CAPTURE(n);
        const Tensor a = Tensor::normal({m, n}, rng);
        const Tensor before = a.clone();
        const QR f = qr(a);
        REQUIRE(f.Q.shape() == Shape{m, n});
        REQUIRE(f.R.shape() == Shape{n, n});
        CHECK(orthonormality_error(f.Q) < 1e-5f);           // QᵀQ = I
        CHECK(relative_error(a, matmul(f.Q, f.R)) < 1e-5f);  // QR = A
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < i; ++j) CHECK(f.R[i * n + j] == 0.0f);  // exactly zero below the diagonal
        CHECK(max_abs(a - before) == 0.0f);  // the input is not overwritten
    }
}

TEST_CASE("qr: wide matrices are refused, empty ones give empty factors") {
    const std::string message = error_message([] { qr(Tensor::zeros({3, 7})); });
    CHECK(contains(message, "qr"));
    CHECK(contains(message, "[3, 7]"));
    CHECK(contains(error_message([] { qr(Tensor::zeros({4})); }), "qr"));  // not a matrix

    const QR no_columns = qr(Tensor::zeros({4, 0}));
    CHECK(no_columns.Q.shape() == Shape{4, 0});
    CHECK(no_columns.R.shape() == Shape{0, 0});
    const QR nothing = qr(Tensor::zeros({0, 0}));
    CHECK(nothing.Q.shape() == Shape{0, 0});
}

TEST_CASE("svd: U diag(s) Vt = A with orthonormal U, Vt and descending s >= 0") {
    Rng rng(502);
    for (auto [m, n] : kAllShapes) {
        CAPTURE(m);
        CAPTURE(n);
        const int64_t k = std::min(m, n);
        const Tensor a = Tensor::normal({m, n}, rng);
        const Tensor before = a.clone();
        const SVD f = svd(a);
        REQUIRE(f.U.shape() == Shape{m, k});
        REQUIRE(f.s.shape() == Shape{k});
        REQUIRE(f.Vt.shape() == Shape{k, n});
        CHECK((f.routine == "sgesdd" || f.routine == "sgesvd"));
        CHECK(orthonormality_error(f.U) < 1e-5f);             // UᵀU = I
        CHECK(orthonormality_error(transpose(f.Vt)) < 1e-5f);  // Vt Vtᵀ = I
        CHECK(relative_error(a, reconstruct(f)) < 1e-5f);      // U diag(s) Vt = A
        for (int64_t i = 0; i < k; ++i) {
            CHECK(f.s[i] >= 0.0f);
            if (i > 0) CHECK(f.s[i] <= f.s[i - 1]);
        }
        CHECK(max_abs(a - before) == 0.0f);  // the input is not overwritten
    }
}

TEST_CASE("svd and singular_values recover the singular values a matrix was built with") {
    // A = P diag(σ) Qᵀ with random orthonormal P, Q has exactly the singular values σ.
    // Float SVD is backward stable: each σ_i is recovered to about 1e-7 · σ_max; the check
    // allows 1e-5 · σ_max.
    Rng rng(503);
    const std::vector<float> sigma{10.0f, 5.0f, 2.0f, 1.0f, 0.5f, 0.1f};
    const int64_t k = static_cast<int64_t>(sigma.size());
    for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{30, 6}, {6, 30}, {6, 6}, {40, 25}}) {
        CAPTURE(m);
        CAPTURE(n);
        const int64_t kk = std::min(m, n);
        Tensor p = random_orthonormal(rng, m, kk);
        const Tensor q = random_orthonormal(rng, n, kk);
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < kk; ++j) p[i * kk + j] *= j < k ? sigma[static_cast<size_t>(j)] : 0.0f;
        const Tensor a = matmul(p, q, false, true);  // P diag(σ, 0, …) Qᵀ

        const Tensor s = svd(a).s;
        const Tensor only_values = singular_values(a);
        REQUIRE(s.shape() == Shape{kk});
        REQUIRE(only_values.shape() == Shape{kk});
        for (int64_t i = 0; i < kk; ++i) {
            const float expected = i < k ? sigma[static_cast<size_t>(i)] : 0.0f;
            CHECK(std::fabs(s[i] - expected) < 1e-5f * sigma[0]);
            CHECK(std::fabs(only_values[i] - expected) < 1e-5f * sigma[0]);
        }
    }
}

TEST_CASE("svd: empty and zero matrices") {
    for (const Shape& shape : {Shape{0, 3}, Shape{3, 0}, Shape{0, 0}}) {
        CAPTURE(to_string(shape));
        const SVD f = svd(Tensor::zeros(shape));
        CHECK(f.s.shape() == Shape{0});
        CHECK(f.U.shape() == Shape{shape[0], 0});
        CHECK(f.Vt.shape() == Shape{0, shape[1]});
        CHECK(f.routine == "none");
    }
    const SVD zero = svd(Tensor::zeros({4, 3}));
    CHECK(max_abs(zero.s) == 0.0f);
    CHECK(orthonormality_error(zero.U) < 1e-5f);  // the vectors are still an orthonormal set
    CHECK(contains(error_message([] { svd(Tensor::zeros({2, 2, 2})); }), "svd"));
}

TEST_CASE("NaN or infinite input is refused with an error that names the routine") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    Tensor a = Tensor::ones({3, 4});
    a[5] = nan;
    CHECK(error_message([&] { svd(a); }) == "svd: input [3, 4] contains NaN or infinite values");
    CHECK(contains(error_message([&] { singular_values(a); }), "singular_values: input [3, 4]"));
    CHECK(contains(error_message([&] { condition_number(a); }), "condition_number: input [3, 4]"));
    Tensor b = Tensor::ones({4, 3});
    b[0] = -inf;
    CHECK(error_message([&] { qr(b); }) == "qr: input [4, 3] contains NaN or infinite values");
    CHECK(contains(error_message([&] { reorthonormalize(b); }), "reorthonormalize"));
    Rng rng(504);
    const Tensor q = random_orthonormal(rng, 4, 2);
    CHECK(contains(error_message([&] { augment_basis(q, b, 4); }), "augment_basis: G [4, 3] contains NaN"));
}

TEST_CASE("svd of a nearly scaled orthogonal matrix succeeds (the sgesvd fallback)") {
    // 3·Q has n equal singular values: the case where sgesdd can fail to converge and svd
    // must fall back to sgesvd. Whether sgesdd fails depends on the LAPACK build and the
    // exact matrix; with OpenBLAS 0.3.21 on x86-64 it fails on the 256×256 case below
    // (seed 28, noise 1e-6), so that case exercises the fallback. On every matrix svd must
    // succeed, say which routine ran — sgesvd exactly when sgesdd alone reports failure —
    // and return values ≈ 3: within 3e-5 without noise, and within 1e-4 with noise of
    // standard deviation 1e-6 (whose spectral norm is about 2·√256·1e-6 ≈ 3e-5).
    struct Case {
        int64_t n;
        uint64_t seed;
        float noise;
    };
    for (const Case c : {Case{64, 505, 0.0f}, Case{65, 506, 0.0f}, Case{128, 507, 0.0f}, Case{256, 28, 1e-6f}}) {
        CAPTURE(c.n);
        CAPTURE(c.seed);
        Rng rng(c.seed);
        const Tensor q = random_orthonormal(rng, c.n, c.n);
        const Tensor a = scale(q, 3.0f) + Tensor::normal({c.n, c.n}, rng, 0.0f, c.noise);
        const SVD f = svd(a);
        REQUIRE(f.s.shape() == Shape{c.n});
        const float tolerance = c.noise == 0.0f ? 3e-5f : 1e-4f;
        for (int64_t i = 0; i < c.n; ++i) CHECK(std::fabs(f.s[i] - 3.0f) < tolerance);
        CHECK(relative_error(a, reconstruct(f)) < 1e-5f);
        CHECK(orthonormality_error(f.U) < 1e-5f);
        CHECK(orthonormality_error(transpose(f.Vt)) < 1e-5f);

        // Ask sgesdd directly whether it converges on this matrix.
        const lapack_int n = static_cast<lapack_int>(c.n);
        Tensor scratch = a.clone(), s = Tensor::empty({c.n}), u = Tensor::empty({c.n, c.n}),
               vt = Tensor::empty({c.n, c.n});
        const lapack_int info =
            LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', n, n, scratch.data(), n, s.data(), u.data(), n, vt.data(), n);
        REQUIRE(info >= 0);
        CHECK(f.routine == (info > 0 ? "sgesvd" : "sgesdd"));
    }
}

TEST_CASE("truncation_rank on hand-made spectra") {
    // ‖s‖₂ = √101.0101 ≈ 10.050; the tails after r = 0, 1, 2, 3 are 10.050, 1.0050, 0.1005, 0.01.
    const Tensor s({4}, {10.0f, 1.0f, 0.1f, 0.01f});
    CHECK(truncation_rank(s, 0.5f) == 1);    // 1.0050 < 5.025
    CHECK(truncation_rank(s, 0.05f) == 2);   // 0.1005 < 0.5025, 1.0050 is not
    CHECK(truncation_rank(s, 0.009f) == 3);  // 0.01 < 0.0905, 0.1005 is not
    CHECK(truncation_rank(s, 0.0f) == 4);    // tau = 0 loses nothing
    CHECK(truncation_rank(s, 2.0f) == 0);    // everything is below twice the norm

    const Tensor zero_tail({5}, {3.0f, 2.0f, 1e-30f, 0.0f, 0.0f});
    CHECK(truncation_rank(zero_tail, 0.0f) == 3);  // keeps every non-zero value, however small
    CHECK(truncation_rank(zero_tail, 1e-6f) == 2);
    CHECK(truncation_rank(Tensor::zeros({4}), 0.0f) == 0);  // a zero spectrum
    CHECK(truncation_rank(Tensor::zeros({4}), 0.1f) == 0);
    CHECK(truncation_rank(Tensor::zeros({0}), 0.1f) == 0);  // no values at all

    // All equal: ‖s‖₂ = 2 and the tail after r is √(4 − r).
    const Tensor flat = Tensor::ones({4});
    CHECK(truncation_rank(flat, 0.5f) == 4);   // tail √1 = 1 is not < 1
    CHECK(truncation_rank(flat, 0.6f) == 3);   // 1 < 1.2
    CHECK(truncation_rank(flat, 0.75f) == 2);  // √2 < 1.5
    CHECK(truncation_rank(flat, 0.0f) == 4);
}

TEST_CASE("truncation_rank refuses what is not a descending spectrum or a valid tolerance") {
    const Tensor s({3}, {3.0f, 2.0f, 1.0f});
    CHECK(contains(error_message([&] { truncation_rank(s, -0.1f); }), "tau"));
    CHECK(contains(error_message([&] { truncation_rank(s, std::nanf("")); }), "tau"));
    CHECK(contains(error_message([] { truncation_rank(Tensor::ones({2, 2}), 0.1f); }), "[2, 2]"));
    CHECK(contains(error_message([] { truncation_rank(Tensor({3}, {1.0f, 2.0f, 0.5f}), 0.1f); }), "descending"));
    CHECK(contains(error_message([] { truncation_rank(Tensor({2}, {1.0f, -1.0f}), 0.1f); }), ">= 0"));
}

TEST_CASE("condition_number: sigma_max / sigma_min, infinite for a singular matrix") {
    const Tensor d({3, 3}, {4, 0, 0, 0, 2, 0, 0, 0, 1});
    CHECK(condition_number(d) == doctest::Approx(4.0).epsilon(1e-6));
    const Tensor rect({2, 3}, {0, 0, 5, 0, -0.5f, 0});  // singular values 5 and 0.5
    CHECK(condition_number(rect) == doctest::Approx(10.0).epsilon(1e-6));
    CHECK(condition_number(Tensor::eye(7)) == doctest::Approx(1.0).epsilon(1e-6));

    const Tensor singular({3, 3}, {5, 0, 0, 0, 1, 0, 0, 0, 0});
    CHECK(std::isinf(condition_number(singular)));
    CHECK(std::isinf(condition_number(Tensor::zeros({2, 2}))));
    // Rank 1 in exact arithmetic: float rounding may leave σ_min at ~1e-8 instead of 0.
    const Tensor rank_one({2, 2}, {1, 2, 2, 4});
    CHECK(condition_number(rank_one) > 1e6f);
    CHECK(contains(error_message([] { condition_number(Tensor::zeros({0, 3})); }), "condition_number"));
}

TEST_CASE("orthogonalize_against removes the part of G in span(Q)") {
    Rng rng(506);
    const Tensor q = random_orthonormal(rng, 40, 5);
    const Tensor n = orthogonalize_against(q, Tensor::normal({40, 7}, rng));  // some N ⟂ Q
    CHECK(max_abs(matmul(q, n, true, false)) < 1e-6f);

    // G = Q C + N with a large C: G lies almost in span(Q). The result is N again, and
    // Qᵀ(result) ≈ 0 to float precision of N itself, not of G (one projection alone leaves
    // about 1e-7·‖Q C‖ ≈ 1e-3 behind here, which is why it is applied twice).
    const Tensor g = matmul(q, Tensor::normal({5, 7}, rng, 0.0f, 1000.0f)) + n;
    const Tensor before = g.clone();
    const Tensor rest = orthogonalize_against(q, g);
    CHECK(max_abs(matmul(q, rest, true, false)) < 1e-6f);
    CHECK(relative_error(n, rest) < 1e-3f);  // the rounding of ‖Q C‖ ≈ 1e4 shows up in N
    CHECK(max_abs(g - before) == 0.0f);  // G is not modified

    // No columns to project out: G comes back unchanged.
    CHECK(max_abs(orthogonalize_against(Tensor::zeros({40, 0}), g) - g) == 0.0f);
    CHECK(contains(error_message([&] { orthogonalize_against(q, Tensor::zeros({39, 2})); }), "[39, 2]"));
}

TEST_CASE("augment_basis keeps Q bit-identical, is orthonormal, spans G, respects max_columns") {
    Rng rng(507);
    const Tensor q = random_orthonormal(rng, 30, 4);
    const Tensor g = Tensor::normal({30, 4}, rng);

    const Tensor full = augment_basis(q, g, 8);
    REQUIRE(full.shape() == Shape{30, 8});
    CHECK(bit_identical_block(full, q));
    CHECK(orthonormality_error(full) < 1e-6f);
    CHECK(outside_span(full, g) < 1e-5f);  // the projection of G onto the result is G
    CHECK(outside_span(full, q) < 1e-5f);

    // More room than Q and G need: still r + c columns.
    CHECK(augment_basis(q, g, 100).shape() == Shape{30, 8});

    // Fewer: the first columns of G are used.
    const Tensor partial = augment_basis(q, g, 6);
    REQUIRE(partial.shape() == Shape{30, 6});
    CHECK(bit_identical_block(partial, q));
    CHECK(orthonormality_error(partial) < 1e-6f);
    CHECK(outside_span(partial, first_columns(g, 2)) < 1e-5f);

    // No room: a copy of Q (its own storage).
    for (int64_t max_columns : {4, 2, 0}) {
        const Tensor same = augment_basis(q, g, max_columns);
        CHECK(same.shape() == q.shape());
        CHECK(max_abs(same - q) == 0.0f);
        CHECK_FALSE(same.shares_storage_with(q));
    }

    // Never more columns than rows: [Q | Q₂] is then a full orthonormal basis.
    const Tensor q6 = random_orthonormal(rng, 6, 4);
    const Tensor square = augment_basis(q6, Tensor::normal({6, 5}, rng), 100);
    REQUIRE(square.shape() == Shape{6, 6});
    CHECK(bit_identical_block(square, q6));
    CHECK(orthonormality_error(square) < 1e-6f);

    CHECK(contains(error_message([&] { augment_basis(q, Tensor::zeros({29, 2}), 8); }), "[29, 2]"));
}

TEST_CASE("augment_basis stays orthonormal when G adds nothing new to span(Q)") {
    Rng rng(508);
    const Tensor q = random_orthonormal(rng, 20, 3);
    // G in span(Q), G = 0, and G with a repeated column: the QR of the remainder has zero
    // (or rounding-level) columns, and the result must still be orthonormal.
    const Tensor in_span = matmul(q, Tensor::normal({3, 4}, rng));
    Tensor repeated = Tensor::normal({20, 3}, rng);
    for (int64_t i = 0; i < 20; ++i) repeated[i * 3 + 2] = repeated[i * 3 + 0];
    for (const Tensor& g : {in_span, Tensor::zeros({20, 4}), repeated}) {
        const Tensor b = augment_basis(q, g, 7);
        REQUIRE(b.shape() == Shape{20, 3 + g.size(1)});
        CHECK(bit_identical_block(b, q));
        CHECK(orthonormality_error(b) < 1e-6f);
        if (norm(g) > 0.0f) CHECK(outside_span(b, g) < 1e-5f);
    }
    // Q = e₁, G = e₁: the completion LAPACK makes for the zero remainder is e₁ itself,
    // so it must be replaced by another direction.
    Tensor e1 = Tensor::zeros({5, 1});
    e1[0] = 1.0f;
    const Tensor b = augment_basis(e1, e1, 2);
    REQUIRE(b.shape() == Shape{5, 2});
    CHECK(b[0] == 1.0f);
    CHECK(orthonormality_error(b) < 1e-6f);
}

TEST_CASE("reorthonormalize returns the orthonormal matrix next to a nearly orthonormal one") {
    Rng rng(509);
    const Tensor q = random_orthonormal(rng, 20, 6);
    // A perturbation of size 1e-3 per entry moves the columns by about that much.
    const Tensor a = q + Tensor::normal({20, 6}, rng, 0.0f, 1e-3f);
    const Tensor fixed = reorthonormalize(a);
    REQUIRE(fixed.shape() == Shape{20, 6});
    CHECK(orthonormality_error(fixed) < 1e-5f);
    CHECK(max_abs(fixed - q) < 1e-2f);
    CHECK(max_abs(fixed - q) > 0.0f);

    // Signs follow diag(R) >= 0: an orthonormal matrix comes back as itself, and so does −Q.
    CHECK(max_abs(reorthonormalize(q) - q) < 1e-5f);
    const Tensor minus_q = scale(q, -1.0f);
    CHECK(max_abs(reorthonormalize(minus_q) - minus_q) < 1e-5f);
    CHECK(contains(error_message([] { reorthonormalize(Tensor::zeros({2, 3})); }), "reorthonormalize"));
}

TEST_CASE("orthonormality_error is max |QᵀQ − I|") {
    CHECK(orthonormality_error(Tensor::eye(5)) == 0.0f);
    CHECK(orthonormality_error(Tensor({2, 2}, {1, 0, 0, 2})) == 3.0f);       // 2² − 1
    CHECK(orthonormality_error(Tensor({2, 2}, {1, 0.5f, 0, 1})) == 0.5f);    // QᵀQ = [[1, 0.5], [0.5, 1.25]]
    CHECK(orthonormality_error(Tensor::zeros({3, 0})) == 0.0f);
}

}  // TEST_SUITE
