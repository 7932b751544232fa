// SGD's update rule (book §3.4), as torch.optim.SGD.
#include <sstream>

#include "tinyrank/optim.hpp"

namespace tinyrank {

SGD::SGD(std::vector<Parameter*> parameters, float lr, float momentum_, float weight_decay_, bool nesterov_)
    : Optimizer(std::move(parameters), lr), momentum(momentum_), weight_decay(weight_decay_), nesterov(nesterov_) {}

// region: sgd-update
void SGD::update(Parameter& p, ParameterState& state) {
    float* w = p.value.data();
    const float* grad = p.grad.data();
    float* b = state.buffers[0].data();
    const bool first = state.steps == 0;
    for (int64_t i = 0; i < p.value.numel(); ++i) {
        float g = grad[i] + weight_decay * w[i];
        if (momentum != 0.0f) {
            b[i] = first ? g : momentum * b[i] + g;
            g = nesterov ? g + momentum * b[i] : b[i];
        }
        w[i] -= lr() * g;
    }
    ++state.steps;
}
// endregion: sgd-update

std::string SGD::describe() const {
    std::ostringstream out;
    out << "SGD(lr=" << lr() << ", momentum=" << momentum << ", weight_decay=" << weight_decay
        << ", nesterov=" << (nesterov ? "true" : "false") << ")";
    return out.str();
}

}  // namespace tinyrank
