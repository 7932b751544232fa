// The rank-adaptive BUG integrator as a training step (book chapter 7; book/method.md §2).
#include "tinyrank/dlrt.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "tinyrank/bug.hpp"
#include "tinyrank/error.hpp"

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

std::vector<DlrtIntegrator> dlrt_integrators() { return {DlrtIntegrator::augmented, DlrtIntegrator::fixed_rank}; }

std::string dlrt_integrator_name(DlrtIntegrator integrator) {
    switch (integrator) {
        case DlrtIntegrator::augmented: return "augmented";
        case DlrtIntegrator::fixed_rank: return "fixed-rank";
    }
    throw Error("dlrt_integrator_name: unknown integrator " + std::to_string(static_cast<int>(integrator)));
}

DlrtIntegrator parse_dlrt_integrator(const std::string& name) {
    return parse_choice("integrator", name, dlrt_integrators(), dlrt_integrator_name);
}

DlrtStepper::DlrtStepper(Sequential& model, Optimizer& optimizer, const CosineSchedule* schedule, DlrtOptions options,
                         const OptimizerFactory& make_basis_optimizer)
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
    if (options.integrator != DlrtIntegrator::fixed_rank) return;
    if (!make_basis_optimizer) throw Error("DlrtStepper: the fixed-rank step needs an optimiser factory for K and L");
    kl_.resize(2 * layers_.size());  // sized once: the basis optimiser keeps their addresses
    std::vector<Parameter*> kl;
    for (size_t i = 0; i < layers_.size(); ++i) {
        const LowRankFactors& f = *layers_[i];
        kl_[2 * i].name = f.U.name + "(K)";
        kl_[2 * i + 1].name = f.V.name + "(L)";
        kl_[2 * i].value = Tensor::zeros(f.U.value.shape());
        kl_[2 * i + 1].value = Tensor::zeros(f.V.value.shape());
        for (size_t j : {2 * i, 2 * i + 1}) {
            kl_[j].grad = Tensor::zeros(kl_[j].value.shape());
            kl.push_back(&kl_[j]);
        }
    }
    basis_optimizer_ = make_basis_optimizer(kl);
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
    if (options_.integrator == DlrtIntegrator::fixed_rank && !finetune_) return fixed_rank_step(images, labels);
    ++batches_;
    const bool basis_batch = !finetune_ && phase_ == 0;
    const BasesFrozen frozen(layers_, !basis_batch);  // U, V on the tape on a basis batch only
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

// Takes the optimiser's state of S (before S changes shape) so it can be transformed. The
// handles keep the old buffers alive; every transformation below writes new tensors.
ParameterState take_state(Optimizer& optimizer, const Parameter& s) { return optimizer.state(s); }

// Installs transformed buffers as the state of S (after S changed shape).
void put_state(Optimizer& optimizer, const Parameter& s, const ParameterState& transformed) {
    ParameterState& state = optimizer.state(s);
    state.steps = transformed.steps;
    for (size_t i = 0; i < state.buffers.size(); ++i) state.buffers[i].copy_from(transformed.buffers[i]);
}

// Expresses the optimiser state of a core S in new bases, as the core itself: b ← M b N for
// a linear buffer, v ← (M √v N)² for a second moment, which must stay non-negative
// (book/method.md §2.3). Each optimiser says which of its buffers is which.
void transform_core_state(const Optimizer& optimizer, ParameterState& state, const Tensor& M, const Tensor& N) {
    const std::vector<StateBuffer> kinds = optimizer.state_buffers();
    for (size_t i = 0; i < state.buffers.size(); ++i) {
        Tensor& b = state.buffers[i];
        if (kinds.at(i).transform == BasisTransform::linear) {
            b = matmul(matmul(M, b), N);
            continue;
        }
        Tensor root = b.clone();
        for (int64_t j = 0; j < root.numel(); ++j) root[j] = std::sqrt(root[j]);
        Tensor transformed = matmul(matmul(M, root), N);
        for (int64_t j = 0; j < transformed.numel(); ++j) transformed[j] *= transformed[j];
        b = transformed;
    }
}

// S⁻¹ through the SVD S = P Σ Qᵀ: Q Σ⁺ Pᵀ, where singular values below 1e-6 σ₁ count as 0.
Tensor pseudo_inverse(const Tensor& s) {
    SVD d = svd(s);
    const int64_t k = d.s.numel(), n = d.Vt.size(1);
    const float cutoff = 1e-6f * (k > 0 ? d.s[0] : 0.0f);
    for (int64_t i = 0; i < k; ++i)  // row i of Qᵀ divided by σ_i: Σ⁺ Qᵀ
        for (int64_t j = 0; j < n; ++j) d.Vt[i * n + j] = d.s[i] > cutoff ? d.Vt[i * n + j] / d.s[i] : 0.0f;
    return matmul(d.Vt, d.U, true, true);  // (Σ⁺ Qᵀ)ᵀ Pᵀ
}

}  // namespace

// region: dlrt-augment
void DlrtStepper::augment() {
    for (LowRankFactors* layer : layers_) {
        const LowRankMatrix augmented =
            augment_factors({layer->U.value, layer->S.value, layer->V.value}, layer->U.grad, layer->V.grad);
        const int64_t k = augmented.rank();
        if (k == layer->rank()) continue;  // already full rank: nothing outside the bases to add
        ParameterState state = take_state(optimizer_, layer->S);
        layer->set_factors(augmented.U, augmented.S, augmented.V);
        for (Tensor& b : state.buffers) b = pad_square(b, k);  // the state is padded like the core
        put_state(optimizer_, layer->S, state);
    }
}
// endregion: dlrt-augment

// region: dlrt-truncate
void DlrtStepper::truncate() {
    for (LowRankFactors* layer : layers_) {
        ParameterState state = take_state(optimizer_, layer->S);
        const CoreTruncation cut = truncate_core({layer->U.value, layer->S.value, layer->V.value}, options_.tau,
                                                 {layer->rank_min(), layer->rank_max()});
        layer->set_factors(cut.kept.U, cut.kept.S, cut.kept.V);
        transform_core_state(optimizer_, state, transpose(cut.P), cut.Q);  // P₁ᵀ b Q₁
        put_state(optimizer_, layer->S, state);
    }
    if (observer_) observer_(batches_);
}
// endregion: dlrt-truncate

// region: dlrt-fixed-rank
StepResult DlrtStepper::fixed_rank_step(const Tensor& images, const std::vector<int64_t>& labels) {
    ++batches_;
    // K- and L-step: the gradients G_U, G_V of this batch move the bases.
    StepResult result;
    {
        const BasesFrozen free(layers_, false);
        result = forward_backward(images, labels, /*with_penalty=*/false);
    }
    if (!std::isfinite(result.loss)) return result;
    update_bases();
    // S-step: the Galerkin step in the new bases, on the same batch.
    const BasesFrozen frozen(layers_, true);
    const StepResult galerkin = forward_backward(images, labels, /*with_penalty=*/true);
    if (!std::isfinite(galerkin.loss)) return galerkin;
    optimizer_step();
    if (observer_) observer_(batches_);
    return result;
}

void DlrtStepper::update_bases() {
    for (size_t i = 0; i < layers_.size(); ++i) {
        LowRankFactors& f = *layers_[i];
        Parameter& K = kl_[2 * i];
        Parameter& L = kl_[2 * i + 1];
        // W = K Vᵀ = U Lᵀ. The tape gave G_U = ∇_W L · V Sᵀ and G_V = ∇_W Lᵀ · U S, so
        // ∇_K = ∇_W L · V = G_U S⁻ᵀ and ∇_L = ∇_W Lᵀ · U = G_V S⁻¹ (book §7.12).
        const Tensor s_inverse = pseudo_inverse(f.S.value);
        gemm(1.0f, f.U.value, false, f.S.value, false, 0.0f, K.value);
        gemm(1.0f, f.V.value, false, f.S.value, true, 0.0f, L.value);
        gemm(1.0f, f.U.grad, false, s_inverse, true, 0.0f, K.grad);
        gemm(1.0f, f.V.grad, false, s_inverse, false, 0.0f, L.grad);
    }
    if (schedule_ != nullptr) basis_optimizer_->set_lr(schedule_->lr_at(batches_ - 1));
    basis_optimizer_->step();
    for (size_t i = 0; i < layers_.size(); ++i) {
        LowRankFactors& f = *layers_[i];
        const Tensor U1 = reorthonormalize(kl_[2 * i].value);
        const Tensor V1 = reorthonormalize(kl_[2 * i + 1].value);
        const Tensor M = matmul(U1, f.U.value, true, false);  // U₁ᵀ U
        const Tensor N = matmul(f.V.value, V1, true, false);  // Vᵀ V₁
        ParameterState state = take_state(optimizer_, f.S);
        transform_core_state(optimizer_, state, M, N);
        f.set_factors(U1, matmul(matmul(M, f.S.value), N), V1);  // S ← M S N: W projected on the new bases
        put_state(optimizer_, f.S, state);
    }
}
// endregion: dlrt-fixed-rank

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
    if (options_.integrator == DlrtIntegrator::fixed_rank) out << "DLRT(fixed rank) with " << optimizer_.describe();
    else out << "DLRT(tau=" << options_.tau << ", s*=" << options_.local_steps << ") with " << optimizer_.describe();
    if (schedule_ != nullptr) out << ", cosine schedule per batch";
    if (options_.clip_norm > 0.0f) out << ", gradient norm clipped at " << options_.clip_norm;
    return out.str();
}

}  // namespace tinyrank
