// tinyrank/linalg.hpp — factorisations through LAPACKE, matrices held as U S Vᵀ, and the
// helpers of the low-rank integrator (book chapters 5 and 6; book/method.md §2).
//
// All matrices are 2-D row-major Tensors. A LAPACK status code other than 0 becomes a
// tinyrank::Error naming the routine ("sgesdd: …"); NaN or infinite input is refused
// before LAPACK sees it.
#pragma once

#include <cstdint>
#include <string>

#include "tinyrank/tensor.hpp"

namespace tinyrank {

// A thin QR factorisation A = Q R of an m×n matrix with m ≥ n.
struct QR {
    Tensor Q;  // m×n with orthonormal columns
    Tensor R;  // n×n upper triangular
};

// A thin singular value decomposition A = U diag(s) Vt of an m×n matrix, k = min(m, n).
struct SVD {
    Tensor U;             // m×k, orthonormal columns
    Tensor s;             // k singular values, descending, ≥ 0
    Tensor Vt;            // k×n, orthonormal rows
    std::string routine;  // "sgesdd", or "sgesvd" when sgesdd did not converge
                          // ("none" for an empty matrix, where no routine runs)
};

// Thin QR of A (m ≥ n) through sgeqrf + sorgqr.
QR qr(const Tensor& a);
// Thin SVD of A through sgesdd, falling back to sgesvd when sgesdd does not converge.
SVD svd(const Tensor& a);
// The singular values of A, descending.
Tensor singular_values(const Tensor& a);
// The smallest r with ‖(s_{r+1}, …, s_k)‖₂ < tau · ‖s‖₂ for descending s (book/method.md §2.5);
// 0 for a zero spectrum. tau = 0 keeps every non-zero value.
int64_t truncation_rank(const Tensor& s, float tau);
// κ(A) = σ_max / σ_min over all min(m, n) singular values (infinity when σ_min = 0;
// an empty matrix is an error).
float condition_number(const Tensor& a);
// G − Q (Qᵀ G), applied twice ("twice is enough") so that the result is orthogonal to
// the orthonormal columns of Q to working precision. Q is m×r, G is m×c.
Tensor orthogonalize_against(const Tensor& q, const Tensor& g);
// [Q | Q₂] with min(max_columns, m, r + c) columns (Q is m×r, G is m×c), or a copy of Q
// when that is ≤ r: Q₂ is an orthonormal basis of the part of G orthogonal to Q (thin QR
// of orthogonalize_against(Q, G), using the first columns of G first). Q is kept as the
// first block bit for bit, so that Q Qᵀ-projections of anything in span(Q) are unchanged.
// Where G adds no new direction (a column of G in span(Q)), Q₂ is completed by other
// directions orthogonal to Q, so the result always has orthonormal columns.
Tensor augment_basis(const Tensor& q, const Tensor& g, int64_t max_columns);
// Q of the thin QR of A with the signs chosen so that diag(R) ≥ 0: for a matrix whose
// columns are already nearly orthonormal this is the nearest-looking orthonormal basis.
Tensor reorthonormalize(const Tensor& a);
// The first `count` columns of an m×c matrix (the matrix itself when count = c).
Tensor leading_columns(const Tensor& a, int64_t count);
// diag(s₁, …, s_r) as an r×r matrix.
Tensor diagonal_matrix(const Tensor& s, int64_t r);
// A [r, r] in the top-left corner of a k×k zero matrix (k ≥ r): a core as augmentation leaves it.
Tensor pad_square(const Tensor& a, int64_t k);
// max |QᵀQ − I|: how far the columns of Q are from orthonormal.
float orthonormality_error(const Tensor& q);

// A matrix Y = U S Vᵀ held by its factors: U [m, r] and V [n, r] with orthonormal columns.
struct LowRankMatrix {
    Tensor U, S, V;

    // The rank r.
    int64_t rank() const { return S.size(0); }
    // U S Vᵀ as a dense [m, n] matrix (for tests; never on a hot path).
    Tensor full() const;
    // X Yᵀ = ((X V) Sᵀ) Uᵀ for a batch X [B, n], without forming Y: cost B·r·(m + n + r).
    Tensor apply(const Tensor& x) const;
};

// The leading r singular triplets of an SVD as factors: U_r, diag(σ₁…σ_r), V_r.
LowRankMatrix truncate(const SVD& f, int64_t r);
// The best rank-r approximation of Y (truncated SVD, Eckart–Young).
LowRankMatrix truncated_svd(const Tensor& y, int64_t r);

}  // namespace tinyrank
