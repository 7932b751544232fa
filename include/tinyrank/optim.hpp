// tinyrank/optim.hpp — optimisers, the cosine schedule and gradient clipping (book §3.4).
//
// An optimiser updates the parameters it was given from their .grad tensors. Its
// per-parameter state (momentum; Adam's moments) is reachable through state(), so that
// the low-rank integrator can project and rotate it when a layer's bases change.
// The update rules follow PyTorch's torch.optim exactly (tests compare a few steps).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyrank/tape.hpp"

namespace tinyrank {

// The state an optimiser keeps for one parameter.
struct ParameterState {
    std::vector<Tensor> buffers;  // described by Optimizer::state_buffers(), same shape as the parameter
    int64_t steps = 0;            // updates applied so far
};

// How a state buffer of a low-rank core S changes when S is expressed in new bases, S → M S N
// (the integrator's truncation and basis update; book §7.3, eq. 7.7).
enum class BasisTransform {
    linear,         // a running mean of gradients, which transform like S: b → M b N
    second_moment,  // a running mean of squared gradients: v → (M √v N)² (entry-wise), so v stays ≥ 0
};

// One state buffer of an optimiser: its name and how it follows a change of basis.
struct StateBuffer {
    std::string name;          // "momentum", "exp_avg", "exp_avg_sq"
    BasisTransform transform;  //
};

// The base of every optimiser: owns the parameter list, the learning rate and the state.
class Optimizer {
public:
    // Optimises `parameters` with learning rate `lr`.
    Optimizer(std::vector<Parameter*> parameters, float lr);
    virtual ~Optimizer() = default;

    // Applies one update to every parameter from its gradient.
    void step();
    // Sets every parameter's gradient to zero.
    void zero_grad();
    // The learning rate of the next step.
    float lr() const { return lr_; }
    // Sets the learning rate (schedules call this every batch).
    void set_lr(float lr) { lr_ = lr; }
    // The parameters being optimised.
    const std::vector<Parameter*>& parameters() const { return parameters_; }
    // Optimises one more parameter (its state starts empty).
    void add_parameter(Parameter* parameter);
    // The state buffers it keeps per parameter, in order, with how each transforms.
    virtual std::vector<StateBuffer> state_buffers() const = 0;
    // The state of `parameter` (buffers created, zero, on first use).
    ParameterState& state(const Parameter& parameter);
    // A short description: "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)".
    virtual std::string describe() const = 0;

protected:
    // The update rule: changes p.value from p.grad and the state.
    virtual void update(Parameter& p, ParameterState& state) = 0;

private:
    std::vector<Parameter*> parameters_;
    std::map<const Parameter*, ParameterState> state_;
    float lr_;
};

// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay:
//   g ← ∇ + λ w;  b ← μ b + g (b = g at the first step);  d = nesterov ? g + μ b : b;  w ← w − η d.
class SGD : public Optimizer {
public:
    // SGD(params, lr, momentum, weight_decay, nesterov), PyTorch's defaults otherwise.
    SGD(std::vector<Parameter*> parameters, float lr, float momentum = 0.0f, float weight_decay = 0.0f,
        bool nesterov = false);
    std::vector<StateBuffer> state_buffers() const override { return {{"momentum", BasisTransform::linear}}; }
    std::string describe() const override;
    const float momentum, weight_decay;
    const bool nesterov;

protected:
    void update(Parameter& p, ParameterState& state) override;
};

// Adam (Kingma & Ba) and, with decoupled = true, AdamW (Loshchilov & Hutter):
//   Adam:  g ← ∇ + λ w          AdamW: w ← w (1 − η λ), g = ∇
//   m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;
//   w ← w − η m̂ / (√v̂ + ε) with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
class Adam : public Optimizer {
public:
    // Adam(params, lr, beta1, beta2, eps, weight_decay, decoupled).
    Adam(std::vector<Parameter*> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
         float eps = 1e-8f, float weight_decay = 0.0f, bool decoupled = false);
    std::vector<StateBuffer> state_buffers() const override {
        return {{"exp_avg", BasisTransform::linear}, {"exp_avg_sq", BasisTransform::second_moment}};
    }
    std::string describe() const override;
    const float beta1, beta2, eps, weight_decay;
    const bool decoupled;

protected:
    void update(Parameter& p, ParameterState& state) override;
};

// The optimisers a recipe can name.
enum class OptimizerKind { adam, adamw, sgd };

// Every optimiser kind, in the order above.
std::vector<OptimizerKind> optimizer_kinds();
// Its name on the command line and in result files: "adam", "adamw", "sgd".
std::string optimizer_name(OptimizerKind kind);
// The kind a name stands for; anything else throws, naming what it found and what is accepted.
OptimizerKind parse_optimizer(const std::string& name);

// AdamW: Adam with decoupled weight decay (PyTorch's default weight_decay 0.01).
Adam AdamW(std::vector<Parameter*> parameters, float lr = 1e-3f, float weight_decay = 0.01f);

// Cosine decay from base_lr to min_lr over total_steps (stepped per batch):
//   lr(t) = min_lr + (base_lr − min_lr) (1 + cos(π t / T)) / 2, and min_lr after T.
class CosineSchedule {
public:
    // A schedule over `total_steps` batches.
    CosineSchedule(float base_lr, int64_t total_steps, float min_lr = 0.0f);
    // The learning rate for step t (0-based).
    float lr_at(int64_t t) const;

private:
    float base_lr_, min_lr_;
    int64_t total_steps_;
};

// Rescales every gradient so that their joint Euclidean norm is at most max_norm
// (PyTorch's clip_grad_norm_). Returns the norm before clipping.
float clip_grad_norm(const std::vector<Parameter*>& parameters, float max_norm);

}  // namespace tinyrank
