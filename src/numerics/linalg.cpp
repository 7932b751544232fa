// QR and SVD through LAPACKE, the truncation rule, the basis helpers of the low-rank
// integrator and the truncated SVD as a LowRankMatrix. The math is in the book: chapter 5
// (QR, SVD, truncation, condition number) and chapter 6 (basis augmentation and the BUG
// step); book/method.md §2 steps 2 and 5.
//
// LAPACK overwrites the matrix it factorises, so every routine works on a scratch copy
// of its input. All matrices are passed in row-major order (LAPACK_ROW_MAJOR).
#include "tinyrank/linalg.hpp"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tinyrank/error.hpp"

namespace tinyrank {

namespace {

// "<op>: input [m, n] contains NaN or infinite values" unless every element is finite.
void check_finite(const char* op, const char* what, const Tensor& a) {
    if (!all_finite(a))
        throw Error(std::string(op) + ": " + what + " " + to_string(a.shape()) +
                    " contains NaN or infinite values");
}

// An extent as LAPACK's integer type, refusing matrices too large for it.
lapack_int lapack_extent(const char* op, const Tensor& a, int64_t extent) {
    if (extent > static_cast<int64_t>(std::numeric_limits<lapack_int>::max()))
        throw Error(std::string(op) + ": matrix " + to_string(a.shape()) + " is too large for LAPACK");
    return static_cast<lapack_int>(extent);
}

// The error for a LAPACK status code: routine, code, what it means, and the shape.
Error lapack_error(const char* routine, lapack_int info, const Tensor& a, const std::string& note = "") {
    std::string meaning;
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        meaning = "out of memory";
    else if (info < 0)
        meaning = "argument " + std::to_string(-info) + " had an illegal value";
    else
        meaning = "did not converge";
    return Error(std::string(routine) + ": " + meaning + " (info = " + std::to_string(info) + ") for a " +
                 to_string(a.shape()) + " matrix" + note);
}

// Thin QR of `a` (m ≥ n) for the public function named `op`. Householder reflections
// (sgeqrf) leave R in the upper triangle; sorgqr then multiplies the reflections out
// into the m×n matrix Q. Book §5.2.
QR thin_qr(const char* op, const Tensor& a) {
    check_ndim(op, "a matrix", a, 2);
    const int64_t m = a.size(0), n = a.size(1);
    if (m < n)
        throw Error(std::string(op) + ": thin QR needs at least as many rows as columns, found " +
                    to_string(a.shape()));
    check_finite(op, "input", a);

    QR f{a.clone(), Tensor::zeros({n, n})};
    if (n == 0) return f;  // Q is m×0, R is 0×0: nothing to factorise
    const lapack_int lm = lapack_extent(op, a, m), ln = lapack_extent(op, a, n);
    std::vector<float> tau(static_cast<size_t>(n));

    lapack_int info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, lm, ln, f.Q.data(), ln, tau.data());
    if (info != 0) throw lapack_error("sgeqrf", info, a);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j) f.R[i * n + j] = f.Q[i * n + j];

    info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, lm, ln, ln, f.Q.data(), ln, tau.data());
    if (info != 0) throw lapack_error("sorgqr", info, a);
    return f;
}

// Runs the SVD of `a` for the public function named `op`: sgesdd (divide and conquer)
// first, sgesvd (QR iteration) when sgesdd does not converge. With vectors = false only
// the singular values are computed, and U, Vt stay empty.
SVD run_svd(const char* op, const Tensor& a, bool vectors) {
    check_ndim(op, "a matrix", a, 2);
    check_finite(op, "input", a);
    const int64_t m = a.size(0), n = a.size(1), k = std::min(m, n);

    SVD f;
    f.s = Tensor::empty({k});
    f.U = Tensor::empty({vectors ? m : 0, vectors ? k : 0});
    f.Vt = Tensor::empty({vectors ? k : 0, vectors ? n : 0});
    if (k == 0) {  // an empty matrix has no singular values; no routine runs
        f.routine = "none";
        return f;
    }
    const lapack_int lm = lapack_extent(op, a, m), ln = lapack_extent(op, a, n), lk = lapack_extent(op, a, k);
    // The leading dimensions of row-major U (m×k) and Vt (k×n). LAPACKE checks them even
    // when vectors = false and U, Vt are not referenced.
    const lapack_int ldu = lk, ldvt = ln;

    Tensor scratch = a.clone();
    f.routine = "sgesdd";
    const lapack_int info_dd = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, vectors ? 'S' : 'N', lm, ln, scratch.data(), ln,
                                              f.s.data(), f.U.data(), ldu, f.Vt.data(), ldvt);
    if (info_dd < 0) throw lapack_error("sgesdd", info_dd, a);
    if (info_dd == 0) return f;

    // sgesdd did not converge. This happens on nearly scaled-orthogonal matrices (many
    // repeated singular values), which the spectral regulariser produces on purpose.
    // sgesvd is slower but sturdier; sgesdd destroyed the scratch copy, so start afresh.
    scratch.copy_from(a);
    f.routine = "sgesvd";
    std::vector<float> superb(static_cast<size_t>(k));  // off-diagonal of the unconverged bidiagonal
    const char job = vectors ? 'S' : 'N';
    const lapack_int info_svd = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, job, job, lm, ln, scratch.data(), ln, f.s.data(),
                                               f.U.data(), ldu, f.Vt.data(), ldvt, superb.data());
    if (info_svd != 0)
        throw lapack_error("sgesvd", info_svd, a,
                           ", after sgesdd did not converge (info = " + std::to_string(info_dd) + ")");
    return f;
}

}  // namespace

Tensor leading_columns(const Tensor& g, int64_t count) {
    const int64_t m = g.size(0), c = g.size(1);
    if (count == c) return g;
    Tensor out = Tensor::empty({m, count});
    for (int64_t i = 0; i < m; ++i)
        std::copy(g.data() + i * c, g.data() + i * c + count, out.data() + i * count);
    return out;
}

Tensor diagonal_matrix(const Tensor& s, int64_t r) {
    Tensor d({r, r});
    for (int64_t i = 0; i < r; ++i) d[i * r + i] = s[i];
    return d;
}

Tensor pad_square(const Tensor& a, int64_t k) {
    const int64_t r = a.size(0);
    if (a.ndim() != 2 || a.size(1) != r || k < r)
        throw Error("pad_square: expected a square matrix of size at most " + std::to_string(k) + ", found " +
                    to_string(a.shape()));
    Tensor out({k, k});
    for (int64_t i = 0; i < r; ++i) std::copy(a.data() + i * r, a.data() + (i + 1) * r, out.data() + i * k);
    return out;
}

namespace {

// Makes columns `first`, …, total−1 of the m×total matrix B orthonormal and orthogonal
// to every column before them, one column at a time: classical Gram–Schmidt against the
// columns before it, applied twice, in double. A column that (nearly) vanishes on the way
// lies in the span of the earlier columns; it is replaced by the unit vector e_i that the
// earlier columns represent least (the row i of B with the smallest norm), which keeps at
// least a fraction (m − j)/m of its squared length after the projection. Needs total ≤ m.
void orthonormalize_trailing_columns(Tensor& b, int64_t first) {
    const int64_t m = b.size(0), total = b.size(1);
    std::vector<double> v(static_cast<size_t>(m)), coef(static_cast<size_t>(total));
    auto entry = [&](int64_t i, int64_t j) -> float& { return b[i * total + j]; };

    // v ← v − B[:, :j] B[:, :j]ᵀ v, twice; returns ‖v‖.
    auto project_out = [&](int64_t j) {
        for (int pass = 0; pass < 2; ++pass) {
            std::fill(coef.begin(), coef.begin() + j, 0.0);
            for (int64_t i = 0; i < m; ++i)
                for (int64_t k = 0; k < j; ++k) coef[static_cast<size_t>(k)] += double(entry(i, k)) * v[static_cast<size_t>(i)];
            for (int64_t i = 0; i < m; ++i)
                for (int64_t k = 0; k < j; ++k) v[static_cast<size_t>(i)] -= coef[static_cast<size_t>(k)] * entry(i, k);
        }
        double s = 0.0;
        for (double x : v) s += x * x;
        return std::sqrt(s);
    };

    for (int64_t j = first; j < total; ++j) {
        for (int64_t i = 0; i < m; ++i) v[static_cast<size_t>(i)] = entry(i, j);
        double length = project_out(j);
        // The column had length ≈ 1; what survives two projections is either ≈ 1 (the
        // usual case) or a remainder with little of the column left. Below 1e-3 the
        // direction is mostly rounding error, so a fresh unit vector takes its place.
        if (length < 1e-3) {
            int64_t best = 0;
            double best_weight = std::numeric_limits<double>::infinity();
            for (int64_t i = 0; i < m; ++i) {
                double w = 0.0;
                for (int64_t k = 0; k < j; ++k) w += double(entry(i, k)) * entry(i, k);
                if (w < best_weight) {
                    best_weight = w;
                    best = i;
                }
            }
            std::fill(v.begin(), v.end(), 0.0);
            v[static_cast<size_t>(best)] = 1.0;
            length = project_out(j);
        }
        for (int64_t i = 0; i < m; ++i) entry(i, j) = static_cast<float>(v[static_cast<size_t>(i)] / length);
    }
}

}  // namespace

QR qr(const Tensor& a) { return thin_qr("qr", a); }

SVD svd(const Tensor& a) { return run_svd("svd", a, true); }

Tensor singular_values(const Tensor& a) { return run_svd("singular_values", a, false).s; }

// region: truncation-rank
int64_t truncation_rank(const Tensor& s, float tau) {
    check_ndim("truncation_rank", "a vector of singular values", s, 1);
    if (!(tau >= 0.0f) || !std::isfinite(tau))
        throw Error("truncation_rank: tolerance tau must be finite and >= 0, found " + std::to_string(tau));
    const int64_t k = s.size(0);
    for (int64_t i = 0; i < k; ++i) {
        if (!std::isfinite(s[i]) || s[i] < 0.0f)
            throw Error("truncation_rank: singular values must be finite and >= 0, found s[" + std::to_string(i) +
                        "] = " + std::to_string(s[i]));
        if (i > 0 && s[i] > s[i - 1])
            throw Error("truncation_rank: singular values must be descending, found s[" + std::to_string(i - 1) +
                        "] = " + std::to_string(s[i - 1]) + " < s[" + std::to_string(i) + "] = " +
                        std::to_string(s[i]));
    }

    // tail[r] = ‖(s_{r+1}, …, s_k)‖₂² (1-based s as in book/method.md §2.5), summed from the small
    // end in double so that the tail is not lost in the rounding of the total.
    std::vector<double> tail(static_cast<size_t>(k) + 1, 0.0);
    for (int64_t r = k - 1; r >= 0; --r)
        tail[static_cast<size_t>(r)] = tail[static_cast<size_t>(r) + 1] + double(s[r]) * double(s[r]);
    const double threshold = double(tau) * std::sqrt(tail[0]);

    // The smallest r whose discarded tail is below tau·‖s‖₂. A tail that is exactly zero
    // also counts, so that tau = 0 keeps every non-zero value (and a zero spectrum gives 0).
    for (int64_t r = 0; r <= k; ++r) {
        const double discarded = std::sqrt(tail[static_cast<size_t>(r)]);
        if (discarded < threshold || discarded == 0.0) return r;
    }
    return k;  // not reached: tail[k] = 0
}
// endregion: truncation-rank

float condition_number(const Tensor& a) {
    const Tensor s = run_svd("condition_number", a, false).s;
    if (s.numel() == 0)
        throw Error("condition_number: matrix " + to_string(a.shape()) + " has no singular values");
    const float largest = s[0], smallest = s[s.numel() - 1];
    if (smallest == 0.0f) return std::numeric_limits<float>::infinity();
    return static_cast<float>(double(largest) / double(smallest));
}

Tensor orthogonalize_against(const Tensor& q, const Tensor& g) {
    check_ndim("orthogonalize_against", "a matrix Q", q, 2);
    check_ndim("orthogonalize_against", "a matrix G", g, 2);
    if (q.size(0) != g.size(0))
        throw Error("orthogonalize_against: Q and G need the same number of rows, found Q " + to_string(q.shape()) +
                    " and G " + to_string(g.shape()));
    Tensor rest = g.clone();
    Tensor coef = Tensor::empty({q.size(1), g.size(1)});
    for (int pass = 0; pass < 2; ++pass) {  // "twice is enough" (Kahan, Parlett)
        gemm(1.0f, q, true, rest, false, 0.0f, coef);    // C = Qᵀ R
        gemm(-1.0f, q, false, coef, false, 1.0f, rest);  // R ← R − Q C
    }
    return rest;
}

Tensor augment_basis(const Tensor& q, const Tensor& g, int64_t max_columns) {
    check_ndim("augment_basis", "a matrix Q", q, 2);
    check_ndim("augment_basis", "a matrix G", g, 2);
    const int64_t m = q.size(0), r = q.size(1), c = g.size(1);
    if (g.size(0) != m)
        throw Error("augment_basis: Q and G need the same number of rows, found Q " + to_string(q.shape()) +
                    " and G " + to_string(g.shape()));
    if (r > m)
        throw Error("augment_basis: Q " + to_string(q.shape()) +
                    " has more columns than rows, so its columns cannot be orthonormal");
    check_finite("augment_basis", "Q", q);
    check_finite("augment_basis", "G", g);

    const int64_t total = std::min({max_columns, m, r + c});
    const int64_t extra = total - r;
    if (extra <= 0) return q.clone();

    // The new directions: the part of G orthogonal to Q, made orthonormal by a thin QR.
    // Only the first `extra` columns of G are used: the first j columns of a QR factor
    // depend only on the first j columns of the matrix.
    const Tensor rest = orthogonalize_against(q, leading_columns(g, extra));
    const Tensor q2 = thin_qr("augment_basis", rest).Q;

    Tensor out = Tensor::empty({m, total});
    for (int64_t i = 0; i < m; ++i) {
        std::copy(q.data() + i * r, q.data() + (i + 1) * r, out.data() + i * total);
        std::copy(q2.data() + i * extra, q2.data() + (i + 1) * extra, out.data() + i * total + r);
    }
    // In exact arithmetic Q₂ ⟂ Q already. In floating point a column of `rest` that is
    // tiny (G nearly in span(Q)) is divided by a tiny R_jj, which magnifies its rounding-
    // level component along Q; and a column that is exactly zero makes sgeqrf skip the
    // reflection, so sorgqr fills in a unit vector that is orthonormal within Q₂ but not
    // necessarily orthogonal to Q. One more orthogonalisation pass repairs both; a column
    // that vanishes is replaced by another direction of span(Q)⊥, so the result always has
    // `total` orthonormal columns (the extra ones then span more than G needs).
    orthonormalize_trailing_columns(out, r);
    return out;
}

Tensor reorthonormalize(const Tensor& a) {
    QR f = thin_qr("reorthonormalize", a);
    const int64_t m = f.Q.size(0), n = f.Q.size(1);
    for (int64_t j = 0; j < n; ++j) {
        if (f.R[j * n + j] >= 0.0f) continue;
        for (int64_t i = 0; i < m; ++i) f.Q[i * n + j] = -f.Q[i * n + j];
    }
    return f.Q;
}

float orthonormality_error(const Tensor& q) {
    check_ndim("orthonormality_error", "a matrix", q, 2);
    Tensor gram = matmul(q, q, true, false);  // QᵀQ
    const int64_t n = gram.size(0);
    for (int64_t i = 0; i < n; ++i) gram[i * n + i] -= 1.0f;
    return max_abs(gram);
}

Tensor LowRankMatrix::full() const { return matmul(matmul(U, S), V, false, true); }

Tensor LowRankMatrix::apply(const Tensor& x) const {
    return matmul(matmul(matmul(x, V), S, false, true), U, false, true);
}

// region: truncated-svd
LowRankMatrix truncate(const SVD& f, int64_t r) {
    r = std::min<int64_t>(r, f.s.numel());
    return {leading_columns(f.U, r), diagonal_matrix(f.s, r), leading_columns(transpose(f.Vt), r)};
}

LowRankMatrix truncated_svd(const Tensor& y, int64_t r) { return truncate(svd(y), r); }
// endregion: truncated-svd

}  // namespace tinyrank
