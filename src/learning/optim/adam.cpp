// Adam's and AdamW's update rule (book §3.4), as torch.optim.Adam / AdamW.
#include <cmath>
#include <sstream>

#include "tinyrank/optim.hpp"

namespace tinyrank {

Adam::Adam(std::vector<Parameter*> parameters, float lr, float beta1_, float beta2_, float eps_, float weight_decay_,
           bool decoupled_)
    : Optimizer(std::move(parameters), lr),
      beta1(beta1_),
      beta2(beta2_),
      eps(eps_),
      weight_decay(weight_decay_),
      decoupled(decoupled_) {}

Adam AdamW(std::vector<Parameter*> parameters, float lr, float weight_decay) {
    return Adam(std::move(parameters), lr, 0.9f, 0.999f, 1e-8f, weight_decay, /*decoupled=*/true);
}

// region: adam-update
void Adam::update(Parameter& p, ParameterState& state) {
    ++state.steps;
    const double t = static_cast<double>(state.steps);
    const float correction1 = static_cast<float>(1.0 - std::pow(double(beta1), t));
    const float correction2 = static_cast<float>(1.0 - std::pow(double(beta2), t));
    const float step_size = lr() / correction1;
    const float sqrt_correction2 = std::sqrt(correction2);
    float* w = p.value.data();
    const float* grad = p.grad.data();
    float* m = state.buffers[0].data();
    float* v = state.buffers[1].data();
    const int64_t n = p.value.numel();
#pragma omp parallel for schedule(static) if (n > 4096)  // entry by entry: the same for any thread count
    for (int64_t i = 0; i < n; ++i) {
        float g = grad[i];
        if (decoupled)
            w[i] *= 1.0f - lr() * weight_decay;
        else
            g += weight_decay * w[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        w[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_correction2 + eps);
    }
}
// endregion: adam-update

std::string Adam::describe() const {
    std::ostringstream out;
    out << (decoupled ? "AdamW" : "Adam") << "(lr=" << lr() << ", betas=(" << beta1 << ", " << beta2
        << "), eps=" << eps << ", weight_decay=" << weight_decay << ")";
    return out.str();
}

}  // namespace tinyrank
