// tinyrank/attacks.hpp — adversarial examples and robust accuracy (book chapter 8;
// book/method.md §4).
//
// Every attack works in pixel space [0, 1] and needs only the model's forward pass and
// the gradient g = ∇_x L of the batch-mean cross-entropy, which the tape gives when the
// images enter as an input that requires a gradient. After every step the perturbation is
// projected back: ‖x′ − x‖ ≤ ε in the attack's norm, and 0 ≤ x′ ≤ 1.
//   FGSM (ℓ∞)          x′ = clip(x + ε sign(g))
//   scaled FGSM        x′ = clip(x + ε g / ‖g‖_∞)            (per sample; the paper's "ℓ2-FGSM")
//   PGD ℓ∞             random start in the ε-box, k steps x ← Π(x + α sign(g)), α = 2.5 ε / k
//   PGD ℓ2             random start in the ε-ball, k steps x ← Π(x + α g / ‖g‖₂)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyrank/data.hpp"
#include "tinyrank/nn.hpp"

namespace tinyrank {

class Rng;

// The attacks attack() knows (book §8.2–8.5).
enum class AttackKind {
    fgsm,         // one step x + ε sign(g)
    fgsm_scaled,  // one step x + ε g / ‖g‖_∞ per sample (the paper's "ℓ2-FGSM")
    pgd_linf,     // PGD in the ℓ∞ ball
    pgd_l2,       // PGD in the ℓ2 ball
};

// Every attack kind, in the order above.
std::vector<AttackKind> attack_kinds();
// Its name on the command line and in result files: "fgsm", "fgsm-scaled", "pgd-linf", "pgd-l2".
std::string attack_name(AttackKind kind);
// The kind a name stands for; anything else throws, naming what it found and what is accepted.
AttackKind parse_attack_kind(const std::string& name);
// True for the iterative attacks (PGD), whose cost grows with their steps.
bool is_iterative(AttackKind kind);

// Which attack and its settings.
struct AttackOptions {
    AttackKind kind = AttackKind::fgsm;
    float eps = 0.1f;           // the radius in the attack's norm
    int64_t steps = 10;         // PGD iterations
    float step_size = 0.0f;     // PGD step α; 0 means 2.5 ε / steps
    bool random_start = true;   // PGD starts at a random point of the ball
};

// ∇_x of the batch-mean cross-entropy of `model` at images x [B, …] with `labels`.
Tensor input_gradient(Module& model, const Tensor& images, const std::vector<int64_t>& labels);
// Adversarial versions of `images` for `model` (in eval mode during the attack); `rng`
// draws PGD's random start. The result satisfies the ε-constraint and lies in [0, 1].
Tensor attack(Module& model, const Tensor& images, const std::vector<int64_t>& labels, const AttackOptions& options,
              Rng& rng);

// Clean and robust accuracy of a model over a dataset.
struct RobustAccuracy {
    double clean = 0.0;   // fraction classified correctly without attack
    double robust = 0.0;  // fraction still correct on the adversarial images
};

// Attacks every batch of `data` and counts what `model` still classifies correctly.
// With `source` set, the adversarial images are crafted on `source` and evaluated on
// `model` (a transfer, black-box attack). The model's mode is restored afterwards.
RobustAccuracy robust_accuracy(Module& model, const Dataset& data, const AttackOptions& options, uint64_t seed,
                               int64_t batch_size = 500, Module* source = nullptr);

// A few attacked images and what the model makes of them, for looking at.
struct AttackExamples {
    Tensor images;                                 // the originals x [N, 1, H, W]
    Tensor adversarial;                            // x′ [N, 1, H, W]
    std::vector<int64_t> labels;                   // the true classes
    std::vector<int64_t> clean_predictions;        // the model's class for x
    std::vector<int64_t> adversarial_predictions;  // the model's class for x′
    float largest_change = 0.0f;                   // max |x′ − x| over all pixels of all N images

    // Three rows of N tiles, [3N, 1, H, W]: the originals, the adversarial images, and
    // perturbation_map(images, adversarial, largest_change); write it with write_png(path, grid(), N).
    Tensor grid() const;
};

// Attacks the first `count` images of `data` (all of them if fewer) as one batch, crafted on
// `source` if given, else on `model`, and classifies originals and adversarial images with
// `model`. PGD's random start is drawn as robust_accuracy draws it for its first batch.
AttackExamples attack_examples(Module& model, const Dataset& data, int64_t count, const AttackOptions& options,
                               uint64_t seed, Module* source = nullptr);
// The perturbation as a picture: 0.5 + 0.5 (x′ − x) / scale, clipped to [0, 1]. Gray where a
// pixel did not change, white where it rose by `scale` (or more), black where it fell by
// `scale`; all gray when scale ≤ 0.
Tensor perturbation_map(const Tensor& images, const Tensor& adversarial, float scale);

}  // namespace tinyrank
