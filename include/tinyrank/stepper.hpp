// tinyrank/stepper.hpp — how one batch changes a model: the Stepper interface and the plain
// optimiser step (book §3.5).
//
// The training loop (train.hpp) knows how a batch changes the model only through a Stepper:
// the plain optimiser step here, and the low-rank integrators of chapter 7 (dlrt.hpp)
// implement the same interface, so the loop reads the same for dense and low-rank training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyrank/nn.hpp"
#include "tinyrank/optim.hpp"

namespace tinyrank {

// What one training batch did.
struct StepResult {
    float loss = 0.0f;    // the batch-mean loss that was differentiated
    int64_t correct = 0;  // how many of the batch's predictions were right (before the update)
};

// One way of changing a model from a batch: forward, backward, update.
class Stepper {
public:
    virtual ~Stepper() = default;
    // Trains on one batch and reports its loss and accuracy.
    virtual StepResult step(const Tensor& images, const std::vector<int64_t>& labels) = 0;
    // Called after every epoch (0-based), before evaluation; e.g. to log or switch phase.
    virtual void end_epoch(int64_t epoch) { (void)epoch; }
    // One line naming the method and its settings.
    virtual std::string describe() const = 0;
};

// Options of the plain optimiser step.
struct OptimizerStepOptions {
    float clip_norm = 0.0f;  // > 0: rescale gradients to at most this joint norm
};

// The plain step: cross-entropy, backward, optional clipping, schedule, optimiser update.
class OptimizerStepper : public Stepper {
public:
    // Trains `model` with `optimizer`; `schedule` (may be null) sets the rate every batch.
    OptimizerStepper(Module& model, Optimizer& optimizer, const CosineSchedule* schedule = nullptr,
                     OptimizerStepOptions options = {});
    StepResult step(const Tensor& images, const std::vector<int64_t>& labels) override;
    std::string describe() const override;

private:
    Module& model_;
    Optimizer& optimizer_;
    const CosineSchedule* schedule_;
    OptimizerStepOptions options_;
    Tape tape_;  // reused every batch: clear() keeps its capacity
    int64_t steps_ = 0;
};

// The number of predictions in `logits` [B, C] whose argmax equals the label.
int64_t count_correct(const Tensor& logits, const std::vector<int64_t>& labels);

}  // namespace tinyrank
