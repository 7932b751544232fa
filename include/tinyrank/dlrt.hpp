// tinyrank/dlrt.hpp — training low-rank networks with the rank-adaptive BUG integrator
// (book chapter 7; book/method.md §2).
//
// One cycle of DlrtStepper, for every low-rank layer of the model at once:
//   1. basis batch: forward and backward with U, S, V all on the tape → G_U = ∇_U L, G_V = ∇_V L
//      (nothing is updated on this batch);
//   2. augment: Û = [U | orth(G_U ⟂ U)], V̂ = [V | orth(G_V ⟂ V)] with min(2r, n_out, n_in) columns
//      (rank_max bounds the rank after truncation, not the augmented rank);
//      then Ŝ = (ÛᵀU) S (VᵀV̂) = [[S, 0], [0, 0]] exactly, and the optimiser state of S is
//      projected the same way (so W = Û Ŝ V̂ᵀ and the state are unchanged);
//   3. s* Galerkin batches: U, V frozen, one optimiser step on S and on every dense
//      parameter and bias; an optional penalty on the cores (the regulariser) joins the loss;
//   4. truncate: Ŝ = P Σ Qᵀ, r₁ = the smallest rank whose discarded tail is below τ‖σ‖₂,
//      clamped to [r_min, r_max]; U ← Û P₁, V ← V̂ Q₁, S ← Σ₁; the state is rotated with P₁, Q₁.
// The optimiser never touches U or V, so they stay orthonormal.
//
// The fixed-rank step (DlrtIntegrator::fixed_rank, book §7.12) is DLRT's basis update & Galerkin
// step at a constant rank, taken on every batch: K = U S and L = V Sᵀ each take one optimiser
// step, U ← orth(K), V ← orth(L), S ← (U₁ᵀU) S (VᵀV₁), then one optimiser step on S (and the
// dense parameters) in the new bases. Its bases turn by a full optimiser step every batch; the
// augmented step turns them only as far as s* core steps and a truncation carry them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/lowrank.hpp"
#include "tinyrank/optim.hpp"
#include "tinyrank/stepper.hpp"

namespace tinyrank {

// Which step DlrtStepper takes.
enum class DlrtIntegrator {
    augmented,   // rank-adaptive: basis batch, augmentation, s* Galerkin batches, truncation
    fixed_rank,  // fixed rank: K-, L- and S-step on every batch (two passes per batch)
};

// Every integrator, in the order above.
std::vector<DlrtIntegrator> dlrt_integrators();
// Its name on the command line and in result files: "augmented" or "fixed-rank".
std::string dlrt_integrator_name(DlrtIntegrator integrator);
// The integrator a name stands for; anything else throws, naming what it found.
DlrtIntegrator parse_dlrt_integrator(const std::string& name);

// Options of the integrator.
struct DlrtOptions {
    float tau = 0.1f;          // relative truncation tolerance (augmented only)
    int64_t local_steps = 10;  // s*: Galerkin batches per cycle (augmented only)
    float clip_norm = 0.0f;    // > 0: clip the gradient norm of the optimised parameters
    int64_t adaptive_epochs = 0;  // > 0: after this many epochs, fine-tune with frozen bases
    DlrtIntegrator integrator = DlrtIntegrator::augmented;
};

// The parameters the integrator's optimiser updates: all but the bases U, V.
std::vector<Parameter*> galerkin_parameters(Sequential& model);

// Builds an optimiser over the given parameters (the fixed-rank step's optimiser of K and L).
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<Parameter*>)>;

// The rank-adaptive integrator as a training Stepper.
class DlrtStepper : public Stepper {
public:
    // Trains the low-rank `model` with `optimizer` (built over galerkin_parameters(model));
    // `schedule` (may be null) sets the learning rate every batch.
    // The fixed-rank step also needs `make_basis_optimizer`, which it calls once for K and L.
    DlrtStepper(Sequential& model, Optimizer& optimizer, const CosineSchedule* schedule, DlrtOptions options,
                const OptimizerFactory& make_basis_optimizer = {});

    StepResult step(const Tensor& images, const std::vector<int64_t>& labels) override;
    // Closes an open cycle (truncates), so that every epoch ends with a truncated model.
    void end_epoch(int64_t epoch) override;
    std::string describe() const override;

    // Adds `penalty` to the loss of every Galerkin step.
    void set_core_penalty(CorePenalty penalty) { penalty_ = std::move(penalty); }
    // Calls `observer(batches)` after every truncation (after every batch for the fixed-rank
    // step), with the batches seen so far (e.g. to record the ranks and κ(S) of every cycle).
    void set_cycle_observer(std::function<void(int64_t batches)> observer) { observer_ = std::move(observer); }
    // Ends the rank-adaptive phase: truncates if a cycle is open, then trains S (and the
    // dense parameters) with frozen bases and fixed ranks.
    void start_finetune();
    // True after start_finetune().
    bool finetuning() const { return finetune_; }
    // True when the next step() of the augmented integrator is a basis batch (U, V on the tape).
    bool next_is_basis_batch() const {
        return options_.integrator == DlrtIntegrator::augmented && !finetune_ && phase_ == 0;
    }

    // Augments every low-rank layer with the gradients G_U, G_V currently in U.grad, V.grad.
    void augment();
    // Truncates every low-rank layer's core by SVD with tolerance tau.
    void truncate();
    // The fixed-rank basis update from the gradients G_U, G_V in U.grad, V.grad: one optimiser
    // step on K = U S and L = V Sᵀ, new bases orth(K), orth(L), S and its state projected on them.
    void update_bases();

private:
    // Forward, loss (+ penalty when asked), backward on one batch.
    StepResult forward_backward(const Tensor& images, const std::vector<int64_t>& labels, bool with_penalty);
    // One optimiser step on the Galerkin parameters (clipping, schedule).
    void optimizer_step();
    // The fixed-rank step on one batch.
    StepResult fixed_rank_step(const Tensor& images, const std::vector<int64_t>& labels);

    Sequential& model_;
    Optimizer& optimizer_;
    const CosineSchedule* schedule_;
    DlrtOptions options_;
    std::vector<LowRankFactors*> layers_;
    CorePenalty penalty_;
    std::function<void(int64_t)> observer_;
    std::vector<Parameter> kl_;                  // fixed rank: K and L of every layer, in turn
    std::unique_ptr<Optimizer> basis_optimizer_;  // fixed rank: the optimiser of kl_
    Tape tape_;
    int64_t phase_ = 0;  // 0: the next batch is a basis batch; 1..s*: Galerkin batches done + 1
    int64_t batches_ = 0;  // batches seen, basis batches included (the schedule's clock)
    bool finetune_ = false;
};

}  // namespace tinyrank
