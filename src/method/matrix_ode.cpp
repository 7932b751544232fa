// The matrix-ODE integrators: explicit Euler, RK4 and the BUG step for any F (book chapter 6).
#include "tinyrank/matrix_ode.hpp"

#include "tinyrank/bug.hpp"
#include "tinyrank/error.hpp"

namespace tinyrank {

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
    // K-step: K̇ = F(K V₀ᵀ) V₀ from K = U₀ S₀.
    const MatrixField k_field = [&](double s, const Tensor& K) { return matmul(f(s, matmul(K, V0, false, true)), V0); };
    const Tensor K1 = integrate(k_field, matmul(U0, S0), t, o.h, o.substeps, o.integrator);
    // L-step: L̇ = F(U₀ Lᵀ)ᵀ U₀ from L = V₀ S₀ᵀ.
    const MatrixField l_field = [&](double s, const Tensor& L) {
        return matmul(f(s, matmul(U0, L, false, true)), U0, true, false);
    };
    const Tensor L1 = integrate(l_field, matmul(V0, S0, false, true), t, o.h, o.substeps, o.integrator);
    // The new bases with the core that starts the S-step: [U₀ | K(t+h)] and [V₀ | L(t+h)] made
    // orthonormal with S₀ padded (rank-adaptive, the shared kernel), or orth(K(t+h)) and
    // orth(L(t+h)) with r columns each and the projection (ÛᵀU₀) S₀ (V₀ᵀV̂) (fixed rank).
    LowRankMatrix start;
    if (o.adaptive) {
        start = augment_factors(y, K1, L1);
    } else {
        start.U = reorthonormalize(K1);
        start.V = reorthonormalize(L1);
        start.S = matmul(matmul(matmul(start.U, U0, true, false), S0), matmul(V0, start.V, true, false));
    }
    // S-step: a Galerkin problem in the new bases.
    const MatrixField s_field = [&](double s, const Tensor& S) {
        const Tensor Y = matmul(matmul(start.U, S), start.V, false, true);
        return matmul(matmul(start.U, f(s, Y), true, false), start.V);
    };
    const Tensor S1 = integrate(s_field, start.S, t, o.h, o.substeps, o.integrator);
    if (!o.adaptive) return {start.U, S1, start.V};
    // Truncation: the SVD of the small core decides the new rank (the shared kernel).
    return truncate_core({start.U, S1, start.V}, o.tau, {o.rank_min, o.rank_max}).kept;
}
// endregion: bug-step

}  // namespace tinyrank
