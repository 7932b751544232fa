// Chapter 7 — training a low-rank network: the rank-adaptive BUG integrator as a training
// step (DlrtStepper). A low-rank LeNet-5 and what its factors store; one cycle of the
// integrator done by hand — basis batch, augmentation (W unchanged, rank doubled), s*
// Galerkin steps, SVD truncation; then two epochs through the library's training loop,
// watching every layer's rank, the condition number κ(S) and the orthonormality of U and V.
//
//   ch07_dlrt [--quick] [--out DIR]
//
// Runs in about 45 seconds on 2 cores (up to 90 on a busy machine), most of it two epochs of
// low-rank LeNet-5 (--quick: 200 batches and 2000 test images, about 15 seconds). Reads MNIST
// from datasets/mnist (run it from the repository root). Writes DIR/ranks.csv (batch, layer,
// rank, kappa, orthonormality_error: one row per layer and integrator cycle) and
// DIR/accuracy.csv (epoch, test_accuracy, compression_rate), default out/ch07, for the
// figures of book/07-training-low-rank.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tinyrank/tinyrank.hpp"
#include "tutorial.hpp"

using namespace tinyrank;
using tutorial::Options;

namespace {

using Clock = std::chrono::steady_clock;

const char* const kArchitecture = "lenet5";
const float kLearningRate = 0.003f;  // what `tinyrank train --lowrank` uses (book §7.4)

// The settings `tinyrank train --lowrank` uses: τ = 0.1, s* = 10.
DlrtOptions integrator_options() {
    DlrtOptions options;
    options.tau = 0.1f;
    options.local_steps = 10;
    return options;
}

// The larger of the two orthonormality errors max |UᵀU − I| and max |VᵀV − I|.
float basis_error(const LowRankFactors& f) {
    return std::max(orthonormality_error(f.U.value), orthonormality_error(f.V.value));
}

// Section 1: the factors of a low-rank LeNet-5 against the dense layers they replace.
void show_factors(Sequential& model, Sequential& dense) {
    std::printf("\n== 1. A low-rank LeNet-5: W = U S V^T for conv2 and fc1 ==\n\n");
    std::printf("    %-6s %-14s %-11s %-10s %-10s %-10s %8s %9s %8s\n", "layer", "type", "W", "U", "S", "V",
                "stored", "dense", "kept");
    for (const auto& [name, f] : named_lowrank_layers(model)) {
        const std::string type = model.layer(name).spec().type;
        std::printf("    %-6s %-14s %-11s %-10s %-10s %-10s %8lld %9lld %7.2f%%\n", name.c_str(), type.c_str(),
                    (std::to_string(f->rows()) + "x" + std::to_string(f->cols())).c_str(),
                    to_string(f->U.value.shape()).c_str(), to_string(f->S.value.shape()).c_str(),
                    to_string(f->V.value.shape()).c_str(), static_cast<long long>(f->stored_weights()),
                    static_cast<long long>(f->dense_weights()),
                    100.0 * double(f->stored_weights()) / double(f->dense_weights()));
    }
    const Compression c = compression(model);
    std::printf("\n  conv2's kernel [50, 20, 5, 5] is factorised as the matrix [50, 500] (one filter per row).\n"
                "  A rank-r layer stores r (n_in + n_out) + r^2 numbers for W instead of n_in n_out.\n"
                "  Compression of the factorised layers: 1 - %lld / %lld = %.2f%%.\n"
                "  Of the whole network (conv1, fc2 and every bias stay dense): %lld of %lld parameters\n"
                "  stored, %.2f%% fewer than the dense LeNet-5 (%lld).\n",
                static_cast<long long>(c.lowrank_stored), static_cast<long long>(c.lowrank_dense), 100.0 * c.rate(),
                static_cast<long long>(c.total_stored), static_cast<long long>(c.total_dense), 100.0 * c.total_rate(),
                static_cast<long long>(dense.parameter_count()));
    for (const auto& [name, f] : named_lowrank_layers(model)) {
        const Tensor s = singular_values(f->S.value);
        std::printf("  %s starts as the rank-%lld SVD truncation of its dense initialisation:\n"
                    "    S = diag(%.3f ... %.3f), rank_max %lld, max |U^T U - I| %.1e, max |V^T V - I| %.1e\n",
                    name.c_str(), static_cast<long long>(f->rank()), static_cast<double>(s[0]),
                    static_cast<double>(s[s.numel() - 1]), static_cast<long long>(f->rank_max()),
                    static_cast<double>(orthonormality_error(f->U.value)),
                    static_cast<double>(orthonormality_error(f->V.value)));
    }
}

// The norm of everything in the k×k matrix `s` outside its top-left r×r block.
float norm_outside_block(const Tensor& s, int64_t r) {
    const int64_t k = s.size(0);
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
            if (i >= r || j >= r) sum += double(s[i * k + j]) * double(s[i * k + j]);
    return static_cast<float>(std::sqrt(sum));
}

// Forward, cross-entropy and backward on one batch, with every parameter's gradient zeroed first.
float forward_backward(Sequential& model, Tape& tape, const Batch& batch) {
    tape.clear();
    model.zero_grad();
    const Var loss = cross_entropy(model.forward(tape.input(batch.images)), batch.labels);
    tape.backward(loss);
    return loss.value().item();
}

// One cycle of the integrator done by hand on `model`, whose `stepper` and `adam` are given:
// basis batch, augment, s* Galerkin steps, truncate. Prints what each step did (`verbose`) or
// only what truncation found; returns the ranks after truncation.
std::vector<int64_t> cycle_by_hand(Sequential& model, DlrtStepper& stepper, Adam& adam, Batches& batches,
                                   const DlrtOptions& options, bool verbose) {
    const auto layers = named_lowrank_layers(model);
    Tape tape;
    std::vector<int64_t> old_ranks;
    for (const auto& [name, f] : layers) old_ranks.push_back(f->rank());

    // region: augment-by-hand
    // 1. The basis batch: U and V are on the tape, so backward leaves G_U, G_V in U.grad, V.grad.
    for (const auto& [name, f] : layers) f->bases_frozen = false;
    const float basis_loss = forward_backward(model, tape, *batches.next());
    std::vector<Tensor> w_before;
    for (const auto& [name, f] : layers) w_before.push_back(f->weight_matrix());
    // 2.–3. Augment: Û = [U | orth(G_U ⟂ U)], V̂ likewise, Ŝ = [[S, 0], [0, 0]].
    stepper.augment();
    // endregion: augment-by-hand
    if (verbose) {
        std::printf("  Basis batch: loss %.4f; the gradients G_U = dL/dU and G_V = dL/dV are in U.grad and V.grad.\n"
                    "  stepper.augment():\n", static_cast<double>(basis_loss));
        for (size_t i = 0; i < layers.size(); ++i) {
            LowRankFactors& f = *layers[i].second;
            const int64_t r = old_ranks[i];
            std::printf("    %-5s rank %lld -> %lld; max |W_after - W_before| = %.1e; norm of S-hat outside its\n"
                        "          top-left %lldx%lld block %.1e; max |U^T U - I| %.1e, max |V^T V - I| %.1e\n",
                        layers[i].first.c_str(), static_cast<long long>(r), static_cast<long long>(f.rank()),
                        static_cast<double>(max_abs(f.weight_matrix() - w_before[i])), static_cast<long long>(r),
                        static_cast<long long>(r), static_cast<double>(norm_outside_block(f.S.value, r)),
                        static_cast<double>(orthonormality_error(f.U.value)),
                        static_cast<double>(orthonormality_error(f.V.value)));
        }
        std::printf("  The new columns of U-hat are orthogonal to U, so U-hat^T U = [I; 0] and the padded core\n"
                    "  gives back the same W: the network computes exactly what it computed before, with twice\n"
                    "  the rank.\n\n");
    }

    // region: galerkin-by-hand
    // 4. s* Galerkin steps: Û, V̂ enter the tape as constants; Adam updates Ŝ
    //    (and conv1, fc2 and the biases), never the bases.
    for (const auto& [name, f] : layers) f->bases_frozen = true;
    for (int64_t step = 0; step < options.local_steps; ++step) {
        forward_backward(model, tape, *batches.next());
        adam.step();
    }
    // endregion: galerkin-by-hand
    std::printf("  %lld Galerkin steps with Adam (lr %.3g) on the core S-hat, the bases frozen. The SVD of S-hat:\n",
                static_cast<long long>(options.local_steps), static_cast<double>(adam.lr()));
    std::vector<Tensor> w_galerkin;
    std::vector<double> dropped;
    for (size_t i = 0; i < layers.size(); ++i) {
        LowRankFactors& f = *layers[i].second;
        const int64_t r = old_ranks[i], k = f.rank();
        const Tensor s = singular_values(f.S.value);
        const int64_t keep = std::clamp(truncation_rank(s, options.tau), f.rank_min(), f.rank_max());
        double total = 0.0, tail = 0.0, cut = 0.0;
        for (int64_t j = 0; j < k; ++j) {
            const double sq = double(s[j]) * double(s[j]);
            total += sq;
            if (j >= r) tail += sq;
            if (j >= keep) cut += sq;
        }
        float new_entries = 0.0f;  // the largest entry the new rows and columns of S-hat reached
        for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b)
                if (a >= r || b >= r) new_entries = std::max(new_entries, std::fabs(f.S.value[a * k + b]));
        std::printf("    %-5s sigma_1..%lld: %.3f ... %.3f | sigma_%lld..%lld: %.4f ... %.4f\n"
                    "          |tail beyond %lld| / |sigma| = %.4f against tau = %.2f -> truncation keeps %lld;\n"
                    "          the new rows and columns of S-hat reached at most %.4f (lr x s* = %.3f)\n",
                    layers[i].first.c_str(), static_cast<long long>(r), static_cast<double>(s[0]),
                    static_cast<double>(s[r - 1]), static_cast<long long>(r + 1), static_cast<long long>(k),
                    static_cast<double>(s[r]), static_cast<double>(s[k - 1]), static_cast<long long>(r),
                    std::sqrt(tail / total), static_cast<double>(options.tau), static_cast<long long>(keep),
                    static_cast<double>(new_entries), static_cast<double>(adam.lr() * float(options.local_steps)));
        w_galerkin.push_back(f.weight_matrix());
        dropped.push_back(std::sqrt(cut));
    }

    // region: truncate-by-hand
    // 5. Truncate: Ŝ = P Σ Qᵀ, keep r₁ singular values, U ← Û P₁, V ← V̂ Q₁, S ← Σ₁.
    stepper.truncate();
    // endregion: truncate-by-hand
    std::vector<int64_t> ranks;
    for (const auto& [name, f] : layers) ranks.push_back(f->rank());
    if (!verbose) return ranks;
    std::printf("  stepper.truncate():\n");
    for (size_t i = 0; i < layers.size(); ++i) {
        LowRankFactors& f = *layers[i].second;
        std::printf("    %-5s rank %lld; |W_after - W_before|_F = %.4f, the norm of the dropped singular values %.4f;\n"
                    "          S is diagonal again, kappa(S) = %.2f; max |U^T U - I| %.1e, max |V^T V - I| %.1e\n",
                    layers[i].first.c_str(), static_cast<long long>(f.rank()),
                    static_cast<double>(norm(f.weight_matrix() - w_galerkin[i])), dropped[i],
                    static_cast<double>(condition_number(f.S.value)),
                    static_cast<double>(orthonormality_error(f.U.value)),
                    static_cast<double>(orthonormality_error(f.V.value)));
    }
    return ranks;
}

// Section 2: one cycle of the integrator, step by step, on a fresh low-rank LeNet-5.
void one_cycle_by_hand(const Dataset& train_data) {
    std::printf("\n== 2. One cycle by hand: basis batch, augment, s* Galerkin steps, truncate ==\n\n");
    Rng rng(7);
    std::unique_ptr<Sequential> model =
        make_lowrank_model(kArchitecture, rng, RankOptions{default_rank(kArchitecture), 0, 2});
    Adam adam(galerkin_parameters(*model), kLearningRate);  // S, the biases, conv1 and fc2: never U or V
    const DlrtOptions options = integrator_options();
    DlrtStepper stepper(*model, adam, nullptr, options);
    Batches batches(train_data, 128, /*seed=*/7);
    cycle_by_hand(*model, stepper, adam, batches, options, /*verbose=*/true);
    std::printf("  The new directions had %lld optimiser steps to grow; what they gathered lies below the\n"
                "  threshold tau |sigma| and is cut off again: the ranks are back where they started.\n",
                static_cast<long long>(options.local_steps));
}

// region: cycle-logger
// DlrtStepper with a notebook. A cycle is one basis batch and s* Galerkin batches, and the
// last of them truncates; end_epoch() truncates a cycle the epoch cut short. After every
// truncation this records each low-rank layer's rank, κ(S) and orthonormality error.
class CycleLogger : public Stepper {
public:
    CycleLogger(DlrtStepper& dlrt, Sequential& model, int64_t local_steps)
        : dlrt_(dlrt), layers_(named_lowrank_layers(model)), cycle_length_(local_steps + 1) {}

    StepResult step(const Tensor& images, const std::vector<int64_t>& labels) override {
        const StepResult result = dlrt_.step(images, labels);
        ++batch_;
        if (++in_cycle_ == cycle_length_) record();
        return result;
    }
    void end_epoch(int64_t epoch) override {
        dlrt_.end_epoch(epoch);  // truncates an open cycle
        if (in_cycle_ > 0) record();
    }
    std::string describe() const override { return dlrt_.describe(); }

    std::vector<std::vector<std::string>> rows;  // batch, layer, rank, kappa, orthonormality_error
    int64_t cycles = 0;
    float first_error = 0.0f, worst_error = 0.0f;  // the largest orthonormality error: first cycle, all

private:
    void record() {
        in_cycle_ = 0;
        ++cycles;
        const bool show = cycles <= 3 || cycles % 10 == 0;
        if (show)
            std::printf("  batch %4lld, cycle %3lld:", static_cast<long long>(batch_), static_cast<long long>(cycles));
        for (const auto& [name, f] : layers_) {
            const float kappa = condition_number(f->S.value), error = basis_error(*f);
            rows.push_back({std::to_string(batch_), name, std::to_string(f->rank()), format_number(kappa),
                            format_number(error)});
            worst_error = std::max(worst_error, error);
            if (cycles == 1) first_error = std::max(first_error, error);
            if (show)
                std::printf("  %s rank %lld, kappa %5.2f, orth. error %.1e", name.c_str(),
                            static_cast<long long>(f->rank()), static_cast<double>(kappa), static_cast<double>(error));
        }
        if (show) std::printf("\n");
    }

    DlrtStepper& dlrt_;
    std::vector<std::pair<std::string, LowRankFactors*>> layers_;
    int64_t cycle_length_;
    int64_t in_cycle_ = 0;  // batches of the current cycle done
    int64_t batch_ = 0;     // batches done in all
};
// endregion: cycle-logger

// Sections 3 and 4: training with DlrtStepper through train(), logging every cycle; then one
// more cycle by hand on the trained network.
void train_lowrank(const Dataset& train_data, const Dataset& test, const Options& o) {
    std::printf("\n== 3. Training with the integrator: %s ==\n\n",
                o.quick ? "200 batches (--quick)" : "two epochs of low-rank LeNet-5");
    Rng rng(1);
    std::unique_ptr<Sequential> model =
        make_lowrank_model(kArchitecture, rng, RankOptions{default_rank(kArchitecture), 0, 2});
    // region: train-dlrt
    TrainOptions options;
    options.epochs = o.quick ? 1 : 2;
    options.max_batches = o.quick ? 200 : 0;
    options.progress = 0;  // one line per epoch: the cycle log below has the lines in between
    const int64_t per_epoch = o.quick ? 200 : Batches(train_data, 128, options.seed).batches_per_epoch();
    const DlrtOptions dlrt_options = integrator_options();
    Adam adam(galerkin_parameters(*model), kLearningRate);
    const CosineSchedule schedule(kLearningRate, per_epoch * options.epochs);
    DlrtStepper dlrt(*model, adam, &schedule, dlrt_options);
    CycleLogger logger(dlrt, *model, dlrt_options.local_steps);
    std::vector<std::vector<std::string>> accuracy_rows;
    const auto on_epoch = [&](const EpochRecord& r) {
        accuracy_rows.push_back({std::to_string(r.epoch), format_number(r.test_accuracy),
                                 format_number(compression(*model).rate())});
    };
    std::printf("  %s\n\n", logger.describe().c_str());
    const std::vector<EpochRecord> history = train(*model, logger, train_data, test, options, on_epoch);
    // endregion: train-dlrt
    write_csv(tutorial::output_file(o, "ranks.csv"), {"batch", "layer", "rank", "kappa", "orthonormality_error"},
              logger.rows);
    write_csv(tutorial::output_file(o, "accuracy.csv"), {"epoch", "test_accuracy", "compression_rate"},
              accuracy_rows);

    const Compression c = compression(*model);
    std::printf("\n  Test accuracy %.2f%% on %lld images, compression %.2f%% of the factorised layers (%.2f%% of\n"
                "  the whole network). Final ranks:",
                100.0 * history.back().test_accuracy, static_cast<long long>(test.size()), 100.0 * c.rate(),
                100.0 * c.total_rate());
    for (const auto& [name, f] : named_lowrank_layers(*model))
        std::printf(" %s %lld (kappa %.2f)", name.c_str(), static_cast<long long>(f->rank()),
                    static_cast<double>(condition_number(f->S.value)));
    std::printf(".\n  Over %lld cycles the largest orthonormality error of any U or V was %.1e (%.1e after the\n"
                "  first cycle). The optimiser never touches U and V. Augmentation keeps U and appends an\n"
                "  orthonormalised block; truncation rotates by the SVD factors of the core and then removes\n"
                "  the rounding of that product with a thin QR, so the error does not build up over cycles.\n"
                "  Wrote %s/ranks.csv (%lld rows) and %s/accuracy.csv.\n",
                static_cast<long long>(logger.cycles), static_cast<double>(logger.worst_error),
                static_cast<double>(logger.first_error), o.out.c_str(), static_cast<long long>(logger.rows.size()),
                o.out.c_str());

    std::printf("\n== 4. The same cycle on the trained network, at the initial rate ==\n\n");
    for (const auto& [name, f] : named_lowrank_layers(*model)) {
        const Tensor s = singular_values(f->S.value);
        std::printf("  %-5s now: sigma = %.3f ... %.3f, |sigma| = %.3f, so tau |sigma| = %.3f\n", name.c_str(),
                    static_cast<double>(s[0]), static_cast<double>(s[s.numel() - 1]),
                    static_cast<double>(norm(s)), static_cast<double>(dlrt_options.tau * norm(s)));
    }
    adam.set_lr(kLearningRate);  // the schedule has brought it to zero; a probe at the starting rate
    Batches batches(train_data, 128, /*seed=*/11);
    std::vector<int64_t> before;
    for (const auto& [name, f] : named_lowrank_layers(*model)) before.push_back(f->rank());
    const std::vector<int64_t> after = cycle_by_hand(*model, dlrt, adam, batches, dlrt_options, /*verbose=*/false);
    std::printf("  Training has grown the core, and the threshold tau |sigma| with it. The new entries moved\n"
                "  further than lr x s*: S has had hundreds of Adam steps, so its bias correction is spent, and\n"
                "  moments that start from zero, uncorrected, give steps of 3 lr and more (chapter 3,\n"
                "  exercise 8). %s\n",
                after == before ? "Even so they fall short of the threshold: the ranks stay."
                                : "This time some reached the threshold: a rank grew.");
}

// Section 5: what one cycle costs against the same number of dense batches, timed in turns.
void cost_of_a_cycle(const Dataset& train_data, const Options& o) {
    std::printf("\n== 5. What a cycle costs ==\n\n");
    const DlrtOptions options = integrator_options();
    Rng dense_rng(1), lowrank_rng(1);
    std::unique_ptr<Sequential> dense = make_model(kArchitecture, dense_rng);
    std::unique_ptr<Sequential> lowrank =
        make_lowrank_model(kArchitecture, lowrank_rng, RankOptions{default_rank(kArchitecture), 0, 2});
    Adam dense_adam(dense->parameters(), 1e-3f), lowrank_adam(galerkin_parameters(*lowrank), kLearningRate);
    OptimizerStepper dense_stepper(*dense, dense_adam);
    DlrtStepper dlrt(*lowrank, lowrank_adam, nullptr, options);
    Batches batches(train_data, 128, 5);
    const int64_t cycle = options.local_steps + 1;
    double best_dense = 1e30, best_cycle = 1e30, best_basis = 1e30, best_galerkin = 1e30;
    for (int round = 0; round < (o.quick ? 2 : 4); ++round) {  // in turns, so both see the same machine load
        batches.start_epoch(round);
        std::vector<Batch> copies;  // next() refills one buffer: keep a copy of each batch's images
        for (int64_t i = 0; i < cycle; ++i) {
            copies.push_back(*batches.next());
            copies.back().images = copies.back().images.clone();
        }
        auto start = Clock::now();
        for (const Batch& b : copies) dense_stepper.step(b.images, b.labels);
        best_dense = std::min(best_dense, std::chrono::duration<double>(Clock::now() - start).count());
        double total = 0.0, galerkin = 1e30;
        for (int64_t i = 0; i < cycle; ++i) {
            start = Clock::now();
            dlrt.step(copies[static_cast<size_t>(i)].images, copies[static_cast<size_t>(i)].labels);
            const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
            total += seconds;
            if (i == 0) best_basis = std::min(best_basis, seconds);
            else if (i < cycle - 1) galerkin = std::min(galerkin, seconds);
        }
        best_galerkin = std::min(best_galerkin, galerkin);
        best_cycle = std::min(best_cycle, total);
    }
    std::printf("  Per batch of 128 images (forward, backward, update), the fastest of %d rounds:\n"
                "    dense LeNet-5                       %6.1f ms\n"
                "    low-rank basis batch (+ augment)    %6.1f ms  U, V on the tape; QR of [U | G_U], [V | G_V]\n"
                "    low-rank Galerkin batch             %6.1f ms  rank 2r = 24, U and V constants\n"
                "  One cycle of %lld batches, truncation included: %.0f ms, against %.0f ms for %lld dense batches\n"
                "  (%.2fx). Timings on a shared machine vary by 20%% or more from run to run.\n",
                o.quick ? 2 : 4, 1e3 * best_dense / double(cycle), 1e3 * best_basis, 1e3 * best_galerkin,
                static_cast<long long>(cycle), 1e3 * best_cycle, 1e3 * best_dense, static_cast<long long>(cycle),
                best_cycle / best_dense);
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch07_dlrt", "out/ch07");
    return tutorial::run(options,
                         "Chapter 7: training a low-rank LeNet-5 with the rank-adaptive integrator (about 45 s on 2 "
                         "cores, up to 90 s on a busy machine; --quick: 15 s).",
                         [&] {
                             const Dataset train_data = tutorial::load_split(Split::train, options);
                             const Dataset test = tutorial::load_test(options, 2000);
                             Rng rng(1);
                             std::unique_ptr<Sequential> lowrank = make_lowrank_model(
                                 kArchitecture, rng, RankOptions{default_rank(kArchitecture), 0, 2});
                             Rng dense_rng(1);
                             std::unique_ptr<Sequential> dense = make_model(kArchitecture, dense_rng);
                             show_factors(*lowrank, *dense);
                             one_cycle_by_hand(train_data);
                             train_lowrank(train_data, test, options);
                             cost_of_a_cycle(train_data, options);
                         });
}
