// The augmented BUG step's first and last stages, shared by the matrix-ODE integrator and the
// network integrator (book §6.6, §6.10; book/method.md §2 steps 2 and 5).
#include "tinyrank/bug.hpp"

#include <algorithm>

namespace tinyrank {

// region: bug-augment
LowRankMatrix augment_factors(const LowRankMatrix& y, const Tensor& u_directions, const Tensor& v_directions) {
    // The augmented rank may pass a rank bound (truncation brings it back): a factorisation at
    // its largest rank must still be able to turn its bases towards the new directions.
    const int64_t r = y.rank();
    const int64_t k = std::min({2 * r, y.U.size(0), y.V.size(0)});
    if (k <= r) return y;
    // Û keeps U₀ as its first block and the rest is orthogonal to it, so ÛᵀU₀ = [I; 0] and
    // (ÛᵀU₀) S₀ (V₀ᵀV̂) is S₀ padded with zeros: the product Û Ŝ V̂ᵀ is unchanged.
    return {augment_basis(y.U, u_directions, k), pad_square(y.S, k), augment_basis(y.V, v_directions, k)};
}
// endregion: bug-augment

// region: bug-truncate
CoreTruncation truncate_core(const LowRankMatrix& augmented, float tau, RankBounds bounds) {
    const SVD core = svd(augmented.S);  // Ŝ = P Σ Qᵀ
    const int64_t largest = bounds.max > 0 ? std::min(bounds.max, augmented.rank()) : augmented.rank();
    const int64_t r1 = std::clamp(truncation_rank(core.s, tau), std::min(bounds.min, largest), largest);
    const LowRankMatrix kept = truncate(core, r1);  // P₁, Σ₁, Q₁
    // Û P₁ is orthonormal up to rounding, and rounding accumulates over hundreds of steps
    // (≈1e-4 after 10 epochs of training): a thin QR with signs kept restores it every time.
    return {{reorthonormalize(matmul(augmented.U, kept.U)), kept.S, reorthonormalize(matmul(augmented.V, kept.V))},
            kept.U,
            kept.V};
}
// endregion: bug-truncate

}  // namespace tinyrank
