// tinyrank/matrix_ode.hpp — the rank-adaptive BUG integrator for a general matrix ODE
// Ẏ = F(t, Y) (book chapter 6; book/method.md §2).
//
// The "basis update & Galerkin" step keeps Y(t) ≈ U S Vᵀ of small rank without ever
// integrating the stiff factor equations (they contain S⁻¹). One step from t to t + h:
//   K-step  K(t) = U₀S₀,  K̇ = F(t, K V₀ᵀ) V₀    →  Û = [U₀ | orth(K(t+h) ⟂ U₀)]
//   L-step  L(t) = V₀S₀ᵀ, L̇ = F(t, U₀ Lᵀ)ᵀ U₀  →  V̂ = [V₀ | orth(L(t+h) ⟂ V₀)]
//   S-step  Ŝ(t) = (ÛᵀU₀) S₀ (V₀ᵀV̂),  Ṡ = Ûᵀ F(t, Û S V̂ᵀ) V̂
//   truncate  Ŝ(t+h) = P Σ Qᵀ; keep the smallest r₁ whose discarded tail is below τ‖σ‖.
// Augmentation and truncation are the shared kernel of bug.hpp. Network training is the special
// case F = −∇L with one explicit Euler step per sub-step (see dlrt.hpp); here F is any
// function, which is how the book introduces the method.
#pragma once

#include <cstdint>
#include <functional>

#include "tinyrank/linalg.hpp"

namespace tinyrank {

// The right-hand side F(t, Y) of a matrix ODE.
using MatrixField = std::function<Tensor(double t, const Tensor& y)>;

// How each sub-problem is integrated over one step.
enum class Integrator {
    euler,  // one explicit Euler step per sub-step (what network training does)
    rk4,    // classical Runge–Kutta 4 per sub-step
};

// Options of one BUG step.
struct BugOptions {
    double h = 0.01;                          // step size
    float tau = 0.0f;                         // relative truncation tolerance (0: keep every non-zero σ)
    int64_t rank_min = 1;                     // truncation keeps at least this many
    int64_t rank_max = 0;                     // and at most this many (0: min(m, n))
    int64_t substeps = 1;                     // integrator steps per sub-problem
    Integrator integrator = Integrator::rk4;  //
    bool adaptive = true;                     // false: fixed rank (no augmentation, no truncation)
};

// Integrates ẏ = f(t, y) from t to t + h with `substeps` steps of the chosen integrator.
Tensor integrate(const MatrixField& f, const Tensor& y0, double t, double h, int64_t substeps, Integrator method);

// One rank-adaptive augmented BUG step of Ẏ = F(t, Y) from t to t + h, starting at y.
LowRankMatrix bug_step(const LowRankMatrix& y, const MatrixField& f, double t, const BugOptions& options);

}  // namespace tinyrank
