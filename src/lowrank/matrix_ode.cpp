// Low-rank matrices and the rank-adaptive BUG step (book chapter 6, §6.3–6.5).
#include "tinyrank/matrix_ode.hpp"

#include <algorithm>

#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"

namespace tinyrank {

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

Tensor integrate(const MatrixField& f, const Tensor& y0, double t, double h, int64_t substeps, Integrator method) {
    if (substeps < 1) throw Error("integrate: expected at least one sub-step, found " + std::to_string(substeps));
    const double dt = h / static_cast<double>(substeps);
    const auto fdt = static_cast<float>(dt);
    Tensor y = y0.clone();
    for (int64_t k = 0; k < substeps; ++k, t += dt) {
        if (method == Integrator::euler) {
            axpy(fdt, f(t, y), y);
            continue;
        }
        const Tensor k1 = f(t, y);
        const Tensor k2 = f(t + dt / 2, y + (fdt / 2) * k1);
        const Tensor k3 = f(t + dt / 2, y + (fdt / 2) * k2);
        const Tensor k4 = f(t + dt, y + fdt * k3);
        axpy(fdt / 6, k1, y);
        axpy(fdt / 3, k2, y);
        axpy(fdt / 3, k3, y);
        axpy(fdt / 6, k4, y);
    }
    return y;
}

// region: bug-step
LowRankMatrix bug_step(const LowRankMatrix& y, const MatrixField& f, double t, const BugOptions& o) {
    const Tensor& U0 = y.U;
    const Tensor& S0 = y.S;
    const Tensor& V0 = y.V;
    const int64_t m = U0.size(0), n = V0.size(0), r = y.rank();
    const int64_t rank_max = o.rank_max > 0 ? std::min(o.rank_max, std::min(m, n)) : std::min(m, n);
    // K-step: K̇ = F(K V₀ᵀ) V₀ from K = U₀ S₀.
    const MatrixField k_field = [&](double s, const Tensor& K) { return matmul(f(s, matmul(K, V0, false, true)), V0); };
    const Tensor K1 = integrate(k_field, matmul(U0, S0), t, o.h, o.substeps, o.integrator);
    // L-step: L̇ = F(U₀ Lᵀ)ᵀ U₀ from L = V₀ S₀ᵀ.
    const MatrixField l_field = [&](double s, const Tensor& L) {
        return matmul(f(s, matmul(U0, L, false, true)), U0, true, false);
    };
    const Tensor L1 = integrate(l_field, matmul(V0, S0, false, true), t, o.h, o.substeps, o.integrator);
    // The new bases: [U₀ | K(t+h)] and [V₀ | L(t+h)] made orthonormal (rank-adaptive), or
    // orth(K(t+h)) and orth(L(t+h)) with r columns each (fixed rank).
    Tensor U_hat, V_hat;
    if (o.adaptive) {
        const int64_t k = std::min({2 * r, m, n});  // rank_max bounds the truncation only
        U_hat = augment_basis(U0, K1, k);
        V_hat = augment_basis(V0, L1, k);
    } else {
        U_hat = reorthonormalize(K1);
        V_hat = reorthonormalize(L1);
    }
    // S-step: a Galerkin problem in the new bases, from the projection of the old core.
    const Tensor S_start = matmul(matmul(matmul(U_hat, U0, true, false), S0), matmul(V0, V_hat, true, false));
    const MatrixField s_field = [&](double s, const Tensor& S) {
        const Tensor Y = matmul(matmul(U_hat, S), V_hat, false, true);
        return matmul(matmul(U_hat, f(s, Y), true, false), V_hat);
    };
    const Tensor S1 = integrate(s_field, S_start, t, o.h, o.substeps, o.integrator);
    if (!o.adaptive) return {U_hat, S1, V_hat};
    // Truncation: the SVD of the small core decides the new rank.
    const SVD core = svd(S1);
    const int64_t r1 = std::clamp(truncation_rank(core.s, o.tau), std::min(o.rank_min, rank_max), rank_max);
    const LowRankMatrix kept = truncate(core, r1);  // P₁, Σ₁, Q₁
    return {matmul(U_hat, kept.U), kept.S, matmul(V_hat, kept.V)};
}
// endregion: bug-step

}  // namespace tinyrank
