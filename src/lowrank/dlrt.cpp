// The rank-adaptive BUG integrator as a training step (book chapter 7; book/method.md §2).
#include "tinyrank/dlrt.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/matrix_ode.hpp"

namespace tinyrank {

std::vector<Parameter*> galerkin_parameters(Sequential& model) {
    std::set<const Parameter*> bases;
    for (LowRankFactors* layer : lowrank_layers(model)) {
        bases.insert(&layer->U);
        bases.insert(&layer->V);
    }
    std::vector<Parameter*> trained;
    for (Parameter* p : model.parameters())
        if (!bases.count(p)) trained.push_back(p);
    return trained;
}

DlrtStepper::DlrtStepper(Sequential& model, Optimizer& optimizer, const CosineSchedule* schedule, DlrtOptions options)
    : model_(model), optimizer_(optimizer), schedule_(schedule), options_(options), layers_(lowrank_layers(model)) {
    if (layers_.empty()) throw Error("DlrtStepper: the model has no low-rank layer");
    if (options.local_steps < 1 || !(options.tau >= 0.0f))
        throw Error("DlrtStepper: expected local_steps >= 1 and tau >= 0, found " +
                    std::to_string(options.local_steps) + " and " + std::to_string(options.tau));
    for (const Parameter* p : optimizer.parameters())
        for (const LowRankFactors* layer : layers_)
            if (p == &layer->U || p == &layer->V)
                throw Error("DlrtStepper: the optimiser must not update the bases (" + p->name +
                            "); build it over galerkin_parameters(model)");
}

// region: dlrt-forward-backward
StepResult DlrtStepper::forward_backward(const Tensor& images, const std::vector<int64_t>& labels,
                                         bool with_penalty) {
    tape_.clear();
    for (Parameter* p : model_.parameters()) p->grad.zero();
    const Var logits = model_.forward(tape_.input(images));
    Var loss = cross_entropy(logits, labels);
    StepResult result{loss.value().item(), count_correct(logits.value(), labels)};
    if (with_penalty && penalty_) loss = add(loss, penalty_(tape_, layers_));
    if (std::isfinite(loss.value().item())) tape_.backward(loss);
    else result.loss = loss.value().item();
    return result;
}
// endregion: dlrt-forward-backward

void DlrtStepper::optimizer_step() {
    if (options_.clip_norm > 0.0f) clip_grad_norm(optimizer_.parameters(), options_.clip_norm);
    if (schedule_ != nullptr) optimizer_.set_lr(schedule_->lr_at(batches_ - 1));
    optimizer_.step();
}

// region: dlrt-step
StepResult DlrtStepper::step(const Tensor& images, const std::vector<int64_t>& labels) {
    ++batches_;
    const bool basis_batch = !finetune_ && phase_ == 0;
    for (LowRankFactors* layer : layers_) layer->bases_frozen = !basis_batch;
    const StepResult result = forward_backward(images, labels, /*with_penalty=*/!basis_batch);
    if (!std::isfinite(result.loss)) return result;  // the loop stops; nothing is updated
    if (basis_batch) {
        augment();  // G_U, G_V are in U.grad, V.grad
        phase_ = 1;
        return result;
    }
    optimizer_step();
    if (!finetune_ && ++phase_ > options_.local_steps) {
        truncate();
        phase_ = 0;
    }
    return result;
}
// endregion: dlrt-step

namespace {

// `a` [r, r] in the top-left corner of a k×k zero matrix.
Tensor pad_square(const Tensor& a, int64_t k) {
    const int64_t r = a.size(0);
    Tensor out({k, k});
    for (int64_t i = 0; i < r; ++i) std::copy(a.data() + i * r, a.data() + (i + 1) * r, out.data() + i * k);
    return out;
}

// Pᵀ M Q: a state matrix of the old core expressed in the truncated bases.
Tensor rotate(const Tensor& m, const Tensor& p, const Tensor& q) { return matmul(matmul(p, m, true, false), q); }

// Takes the optimiser's state of S (before S changes shape) so it can be transformed. The
// handles keep the old buffers alive; every transformation below writes new tensors.
ParameterState take_state(Optimizer& optimizer, const Parameter& s) { return optimizer.state(s); }

// Installs transformed buffers as the state of S (after S changed shape).
void put_state(Optimizer& optimizer, const Parameter& s, const ParameterState& transformed) {
    ParameterState& state = optimizer.state(s);
    state.steps = transformed.steps;
    for (size_t i = 0; i < state.buffers.size(); ++i) state.buffers[i].copy_from(transformed.buffers[i]);
}

// Adam's second moment is a square: it is transformed through its square root,
// v ← (M √v N)², so that it stays non-negative (book/method.md §2.3).
bool is_second_moment(const Optimizer& optimizer, size_t buffer) {
    return optimizer.state_names().at(buffer) == "exp_avg_sq";
}

}  // namespace

// region: dlrt-augment
void DlrtStepper::augment() {
    for (LowRankFactors* layer : layers_) {
        // The augmented rank may pass rank_max (truncation brings it back): a layer at its
        // largest rank must still be able to turn its bases towards the gradient.
        const int64_t r = layer->rank();
        const int64_t k = std::min({2 * r, layer->rows(), layer->cols()});
        if (k <= r) continue;  // already full rank: nothing outside the bases to add
        ParameterState state = take_state(optimizer_, layer->S);
        const Tensor U_hat = augment_basis(layer->U.value, layer->U.grad, k);
        const Tensor V_hat = augment_basis(layer->V.value, layer->V.grad, k);
        // Û keeps U as its first block and the rest is orthogonal to it, so ÛᵀU = [I; 0]
        // and (ÛᵀU) S (VᵀV̂) is S padded with zeros: the product Û Ŝ V̂ᵀ is unchanged.
        layer->set_factors(U_hat, pad_square(layer->S.value, k), V_hat);
        for (Tensor& b : state.buffers) b = pad_square(b, k);
        put_state(optimizer_, layer->S, state);
    }
}
// endregion: dlrt-augment

// region: dlrt-truncate
void DlrtStepper::truncate() {
    for (LowRankFactors* layer : layers_) {
        ParameterState state = take_state(optimizer_, layer->S);
        const SVD core = svd(layer->S.value);  // Ŝ = P Σ Qᵀ
        const int64_t r1 = std::clamp(truncation_rank(core.s, options_.tau), layer->rank_min(), layer->rank_max());
        const LowRankMatrix kept = tinyrank::truncate(core, r1);  // P₁, Σ₁, Q₁
        const Tensor& P = kept.U;
        const Tensor& Q = kept.V;
        // Û P₁ is orthonormal up to rounding, and rounding accumulates over hundreds of
        // cycles (≈1e-4 after 10 epochs): a thin QR with signs kept restores it each cycle.
        layer->set_factors(reorthonormalize(matmul(layer->U.value, P)), kept.S,
                           reorthonormalize(matmul(layer->V.value, Q)));
        for (size_t i = 0; i < state.buffers.size(); ++i) {
            Tensor& b = state.buffers[i];
            if (!is_second_moment(optimizer_, i)) {
                b = rotate(b, P, Q);
                continue;
            }
            Tensor root = b.clone();
            for (int64_t j = 0; j < root.numel(); ++j) root[j] = std::sqrt(root[j]);
            Tensor rotated = rotate(root, P, Q);
            for (int64_t j = 0; j < rotated.numel(); ++j) rotated[j] *= rotated[j];
            b = rotated;
        }
        put_state(optimizer_, layer->S, state);
    }
    if (observer_) observer_(batches_);
}
// endregion: dlrt-truncate

void DlrtStepper::end_epoch(int64_t epoch) {
    if (!finetune_ && phase_ > 0) {
        truncate();
        phase_ = 0;
    }
    if (options_.adaptive_epochs > 0 && epoch + 1 == options_.adaptive_epochs) start_finetune();
}

void DlrtStepper::start_finetune() {
    if (finetune_) return;
    if (phase_ > 0) truncate();
    phase_ = 0;
    finetune_ = true;
    for (LowRankFactors* layer : layers_) layer->bases_frozen = true;
}

std::string DlrtStepper::describe() const {
    std::ostringstream out;
    out << "DLRT(tau=" << options_.tau << ", s*=" << options_.local_steps << ") with " << optimizer_.describe();
    if (schedule_ != nullptr) out << ", cosine schedule per batch";
    if (options_.clip_norm > 0.0f) out << ", gradient norm clipped at " << options_.clip_norm;
    return out.str();
}

}  // namespace tinyrank
