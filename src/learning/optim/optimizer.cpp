// The optimiser base, the cosine schedule and gradient clipping (book §3.4).
#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/optim.hpp"

namespace tinyrank {

Optimizer::Optimizer(std::vector<Parameter*> parameters, float lr) : parameters_(std::move(parameters)), lr_(lr) {
    if (!(lr >= 0.0f) || !std::isfinite(lr))
        throw Error("optimizer: expected a finite learning rate >= 0, found " + std::to_string(lr));
}

// region: optimizer-step
void Optimizer::step() {
    for (Parameter* p : parameters_) update(*p, state(*p));
}

void Optimizer::zero_grad() {
    for (Parameter* p : parameters_) p->grad.zero();
}
// endregion: optimizer-step

void Optimizer::add_parameter(Parameter* parameter) { parameters_.push_back(parameter); }

ParameterState& Optimizer::state(const Parameter& parameter) {
    ParameterState& s = state_[&parameter];
    const size_t wanted = state_buffers().size();
    if (s.buffers.size() != wanted || (wanted > 0 && s.buffers[0].shape() != parameter.value.shape())) {
        s.buffers.assign(wanted, Tensor());
        for (Tensor& b : s.buffers) b = Tensor::zeros(parameter.value.shape());
        s.steps = 0;
    }
    return s;
}

std::vector<OptimizerKind> optimizer_kinds() { return {OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::sgd}; }

std::string optimizer_name(OptimizerKind kind) {
    switch (kind) {
        case OptimizerKind::adam: return "adam";
        case OptimizerKind::adamw: return "adamw";
        case OptimizerKind::sgd: return "sgd";
    }
    throw Error("optimizer_name: unknown kind " + std::to_string(static_cast<int>(kind)));
}

OptimizerKind parse_optimizer(const std::string& name) {
    return parse_choice("optimizer", name, optimizer_kinds(), optimizer_name);
}

CosineSchedule::CosineSchedule(float base_lr, int64_t total_steps, float min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), total_steps_(total_steps) {
    if (total_steps < 1) throw Error("CosineSchedule: expected at least one step, found " + std::to_string(total_steps));
}

// region: cosine-schedule
float CosineSchedule::lr_at(int64_t t) const {
    if (t >= total_steps_) return min_lr_;
    const double pi = 3.14159265358979323846;
    const double progress = static_cast<double>(t) / static_cast<double>(total_steps_);
    return static_cast<float>(min_lr_ + (base_lr_ - min_lr_) * 0.5 * (1.0 + std::cos(pi * progress)));
}
// endregion: cosine-schedule

float clip_grad_norm(const std::vector<Parameter*>& parameters, float max_norm) {
    double total = 0.0;
    for (const Parameter* p : parameters)
        for (int64_t i = 0; i < p->grad.numel(); ++i) total += double(p->grad[i]) * p->grad[i];
    const float norm = static_cast<float>(std::sqrt(total));
    const float factor = max_norm / (norm + 1e-6f);  // PyTorch's formula
    if (factor < 1.0f)
        for (Parameter* p : parameters) scale_(p->grad, factor);
    return norm;
}

}  // namespace tinyrank
