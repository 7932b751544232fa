// tinyrank/bug.hpp — the augmented "basis update & Galerkin" (BUG) step: one kernel for a
// matrix ODE (chapter 6) and for a network (chapter 7) (book §6.6, §6.10; book/method.md §2).
//
// One step from Y₀ = U₀ S₀ V₀ᵀ of rank r, in three stages:
//   1. augment   Û = [U₀ | orth(D_U ⟂ U₀)], V̂ = [V₀ | orth(D_V ⟂ V₀)] with k = min(2r, m, n)
//                columns, and Ŝ = (ÛᵀU₀) S₀ (V₀ᵀV̂) = [[S₀, 0], [0, 0]], so Û Ŝ V̂ᵀ = Y₀;
//   2. Galerkin  the core Ŝ evolves with Û, V̂ held fixed;
//   3. truncate  Ŝ = P Σ Qᵀ; r₁ = the smallest rank whose discarded tail is below τ‖σ‖₂,
//                clamped to the rank bounds; U₁ = Û P₁, V₁ = V̂ Q₁, S₁ = Σ₁.
// The two integrators differ only in what supplies the new directions D_U, D_V and what
// moves the core in stage 2:
//   bug_step (matrix_ode.hpp)  D_U = K(t+h), D_V = L(t+h) from the integrated K- and L-steps;
//                              the core integrates Ṡ = Ûᵀ F(t, Û S V̂ᵀ) V̂ over one step h.
//   DlrtStepper (dlrt.hpp)     D_U = ∇_U L, D_V = ∇_V L from one basis batch on the tape;
//                              the core takes s* optimiser steps on the next batches.
// For F = −∇L and one Euler step the two directions span the same space (book eq. 6.14).
#pragma once

#include <cstdint>

#include "tinyrank/linalg.hpp"

namespace tinyrank {

// The ranks truncation may keep.
struct RankBounds {
    int64_t min = 1;  // at least this many (never more than `max`)
    int64_t max = 0;  // at most this many; 0: no bound but the core's size
};

// Stage 1: Y₀'s bases augmented with the directions D_U [m, c], D_V [n, c] to
// k = min(2r, m, n) columns, and S₀ padded with zeros to k × k; Y₀ itself when k ≤ r
// (already full rank: nothing outside the bases to add).
LowRankMatrix augment_factors(const LowRankMatrix& y, const Tensor& u_directions, const Tensor& v_directions);

// What stage 3 decided for an augmented Û Ŝ V̂ᵀ.
struct CoreTruncation {
    LowRankMatrix kept;  // U₁ = Û P₁, S₁ = Σ₁, V₁ = V̂ Q₁ (the bases re-orthonormalised)
    Tensor P, Q;         // P₁, Q₁ [k, r₁]: the core's rotations (an optimiser's state follows them)
};

// Stage 3: truncates the core of `augmented` by its SVD with relative tolerance tau within
// `bounds`. Û P₁ drifts from orthonormal by rounding, and the drift accumulates over many
// steps, so U₁ and V₁ are re-orthonormalised (a thin QR with the signs kept).
CoreTruncation truncate_core(const LowRankMatrix& augmented, float tau, RankBounds bounds);

}  // namespace tinyrank
