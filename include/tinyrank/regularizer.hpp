// tinyrank/regularizer.hpp — the spectral regulariser that keeps each core S well
// conditioned (book chapter 9; book/method.md §3).
//
//   R(S) = ‖SᵀS − α² I‖_F  with  α² = ‖S‖²_F / r,
//
// the plain (not squared) Frobenius norm. R²/r is the variance of the squared singular
// values, so R = 0 exactly when S is a scaled orthogonal matrix, and R is invariant under
// S → P S Qᵀ for orthogonal P, Q. Its gradient is ∇R = 2 S (SᵀS − α² I) / R (the α² term
// drops out because tr(SᵀS − α² I) = 0), taken as 0 when R < 1e-12.
#pragma once

#include "tinyrank/lowrank.hpp"
#include "tinyrank/tape.hpp"

namespace tinyrank {

// R(S) for a square core S [r, r], as a one-element tape value with the hand-derived gradient.
Var spectral_regularizer(const Var& s);
// The value of R(S) for a square matrix (no tape).
float spectral_regularizer_value(const Tensor& s);
// β Σ_layers R(S_layer), a CorePenalty for the integrator (DlrtStepper::set_core_penalty).
CorePenalty spectral_penalty(float beta);

}  // namespace tinyrank
