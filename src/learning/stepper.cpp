// The plain optimiser step and the count of right predictions (book §3.5).
#include "tinyrank/stepper.hpp"

#include <cmath>
#include <string>

namespace tinyrank {

OptimizerStepper::OptimizerStepper(Module& model, Optimizer& optimizer, const CosineSchedule* schedule,
                                   OptimizerStepOptions options)
    : model_(model), optimizer_(optimizer), schedule_(schedule), options_(options) {}

// region: optimizer-stepper
StepResult OptimizerStepper::step(const Tensor& images, const std::vector<int64_t>& labels) {
    tape_.clear();
    optimizer_.zero_grad();
    const Var logits = model_.forward(tape_.input(images));
    const Var loss = cross_entropy(logits, labels);
    StepResult result{loss.value().item(), count_correct(logits.value(), labels)};
    if (!std::isfinite(result.loss)) return result;  // the loop stops; do not update with it
    tape_.backward(loss);
    if (options_.clip_norm > 0.0f) clip_grad_norm(optimizer_.parameters(), options_.clip_norm);
    if (schedule_ != nullptr) optimizer_.set_lr(schedule_->lr_at(steps_));
    optimizer_.step();
    ++steps_;
    return result;
}
// endregion: optimizer-stepper

std::string OptimizerStepper::describe() const {
    std::string text = optimizer_.describe();
    if (schedule_ != nullptr) text += ", cosine schedule per batch";
    if (options_.clip_norm > 0.0f) text += ", gradient norm clipped at " + std::to_string(options_.clip_norm);
    return text;
}

int64_t count_correct(const Tensor& logits, const std::vector<int64_t>& labels) {
    const std::vector<int64_t> predicted = argmax(logits, 1);
    int64_t correct = 0;
    for (size_t i = 0; i < labels.size() && i < predicted.size(); ++i) correct += predicted[i] == labels[i];
    return correct;
}

}  // namespace tinyrank
