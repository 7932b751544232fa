// The spectral regulariser R(S) = ‖SᵀS − α² I‖_F and its gradient (book §9.3).
#include "tinyrank/regularizer.hpp"

#include <cmath>

#include "tinyrank/error.hpp"

namespace tinyrank {

namespace {

// SᵀS − α² I for a square S, with α² = ‖S‖²_F / r.
Tensor gram_deviation(const Tensor& s) {
    if (s.ndim() != 2 || s.size(0) != s.size(1) || s.size(0) == 0)
        throw Error("spectral_regularizer: expected a square core [r, r] with r >= 1, found " + to_string(s.shape()));
    const int64_t r = s.size(0);
    Tensor d = matmul(s, s, true, false);  // SᵀS
    const float n = norm(s);
    const float alpha2 = n * n / static_cast<float>(r);
    for (int64_t i = 0; i < r; ++i) d[i * r + i] -= alpha2;
    return d;
}

}  // namespace

float spectral_regularizer_value(const Tensor& s) { return norm(gram_deviation(s)); }

// region: regularizer-op
Var spectral_regularizer(const Var& s) {
    const Tensor d = gram_deviation(s.value());
    const float r_value = norm(d);
    return s.tape().record("spectral_reg", Tensor::full({}, r_value), {s}, [s, d, r_value](const Tensor& g) {
        if (!s.requires_grad()) return;
        Tensor& gs = s.grad_buffer();
        if (r_value < 1e-12f) return;  // R = 0 is the minimum: the gradient is taken as 0
        gemm(2.0f * g[0] / r_value, s.value(), false, d, false, 1.0f, gs);  // ∇R = 2 S (SᵀS − α² I) / R
    });
}
// endregion: regularizer-op

// region: spectral-penalty
CorePenalty spectral_penalty(float beta) {
    if (!(beta >= 0.0f)) throw Error("spectral_penalty: expected beta >= 0, found " + std::to_string(beta));
    return [beta](Tape& tape, const std::vector<LowRankFactors*>& layers) {
        Var total = scale(spectral_regularizer(tape.param(layers.at(0)->S)), beta);
        for (size_t i = 1; i < layers.size(); ++i)
            total = add(total, scale(spectral_regularizer(tape.param(layers[i]->S)), beta));
        return total;
    };
}
// endregion: spectral-penalty

}  // namespace tinyrank
