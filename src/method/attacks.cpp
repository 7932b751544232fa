// FGSM and PGD attacks and robust accuracy (book chapter 8).
#include "tinyrank/attacks.hpp"

#include <algorithm>
#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/stepper.hpp"

namespace tinyrank {

std::vector<AttackKind> attack_kinds() {
    return {AttackKind::fgsm, AttackKind::fgsm_scaled, AttackKind::pgd_linf, AttackKind::pgd_l2};
}

std::string attack_name(AttackKind kind) {
    switch (kind) {
        case AttackKind::fgsm: return "fgsm";
        case AttackKind::fgsm_scaled: return "fgsm-scaled";
        case AttackKind::pgd_linf: return "pgd-linf";
        case AttackKind::pgd_l2: return "pgd-l2";
    }
    throw Error("attack_name: unknown kind " + std::to_string(static_cast<int>(kind)));
}

AttackKind parse_attack_kind(const std::string& name) {
    return parse_choice("attack", name, attack_kinds(), attack_name);
}

bool is_iterative(AttackKind kind) { return kind == AttackKind::pgd_linf || kind == AttackKind::pgd_l2; }

// region: input-gradient
Tensor input_gradient(Module& model, const Tensor& images, const std::vector<int64_t>& labels) {
    Tape tape;
    tape.freeze_parameters();  // only ∂L/∂x is wanted: no weight gradients, no writes to .grad
    const Var x = tape.input(images, /*requires_grad=*/true, "x");
    tape.backward(cross_entropy(model.forward(x), labels));
    return x.grad();
}
// endregion: input-gradient

namespace {

// The generator stream of the PGD random starts.
constexpr uint64_t kAttackStream = 0xa77ac;

// Per-sample views: sample i is the i-th block of `per_sample` values.
int64_t per_sample(const Tensor& images) { return images.numel() / images.size(0); }

// Clips every pixel to [0, 1].
void clip_pixels(Tensor& x) {
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::clamp(x[i], 0.0f, 1.0f);
}

// region: attack-project
// Projects x onto the ℓ∞ ball of radius eps around x0, then onto [0, 1].
void project_linf(Tensor& x, const Tensor& x0, float eps) {
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::clamp(std::clamp(x[i], x0[i] - eps, x0[i] + eps), 0.0f, 1.0f);
}

// Projects x onto the ℓ2 ball of radius eps around x0 (per sample), then onto [0, 1]; the
// box can only shorten the perturbation, so the ball constraint still holds afterwards.
void project_l2(Tensor& x, const Tensor& x0, float eps) {
    const int64_t n = per_sample(x);
    for (int64_t b = 0; b < x.size(0); ++b) {
        double squared = 0.0;
        for (int64_t i = b * n; i < (b + 1) * n; ++i) squared += double(x[i] - x0[i]) * (x[i] - x0[i]);
        const double length = std::sqrt(squared);
        const float shrink = length > eps ? static_cast<float>(eps / length) : 1.0f;
        for (int64_t i = b * n; i < (b + 1) * n; ++i) x[i] = std::clamp(x0[i] + shrink * (x[i] - x0[i]), 0.0f, 1.0f);
    }
}
// endregion: attack-project

// region: attack-step
// x ← x + step · direction(g), per sample: sign(g), g/‖g‖_∞ or g/‖g‖₂.
enum class Direction { sign, max_scaled, l2_scaled };
void step_along(Tensor& x, const Tensor& g, float step, Direction direction) {
    const int64_t n = per_sample(x);
    for (int64_t b = 0; b < x.size(0); ++b) {
        double scale = 1.0;
        if (direction != Direction::sign) {
            double m = 0.0;
            for (int64_t i = b * n; i < (b + 1) * n; ++i)
                m = direction == Direction::max_scaled ? std::max(m, double(std::fabs(g[i]))) : m + double(g[i]) * g[i];
            if (direction == Direction::l2_scaled) m = std::sqrt(m);
            scale = m > 0.0 ? 1.0 / m : 0.0;  // a zero gradient gives no step
        }
        for (int64_t i = b * n; i < (b + 1) * n; ++i) {
            const float d = direction == Direction::sign ? (g[i] > 0.0f ? 1.0f : (g[i] < 0.0f ? -1.0f : 0.0f))
                                                         : static_cast<float>(g[i] * scale);
            x[i] += step * d;
        }
    }
}
// endregion: attack-step

// region: attack-random-start
// A uniform random point of the ℓ∞ box (or a random point of the ℓ2 ball) around x0.
void random_start(Tensor& x, const Tensor& x0, float eps, bool l2, Rng& rng) {
    if (!l2) {
        for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i] + rng.uniform(-eps, eps);
        clip_pixels(x);
        return;
    }
    // Direction uniform on the sphere (normalised Gaussian), radius ε·u^{1/n}: uniform in the ball.
    const int64_t n = per_sample(x);
    for (int64_t b = 0; b < x.size(0); ++b) {
        double squared = 0.0;
        for (int64_t i = b * n; i < (b + 1) * n; ++i) {
            x[i] = rng.normal();
            squared += double(x[i]) * x[i];
        }
        const double radius = eps * std::pow(double(rng.uniform()), 1.0 / double(n)) / std::sqrt(squared);
        for (int64_t i = b * n; i < (b + 1) * n; ++i) x[i] = x0[i] + static_cast<float>(radius * x[i]);
    }
    project_l2(x, x0, eps);
}
// endregion: attack-random-start

}  // namespace

// region: attack
Tensor attack(Module& model, const Tensor& images, const std::vector<int64_t>& labels, const AttackOptions& o,
              Rng& rng) {
    if (!(o.eps >= 0.0f) || o.steps < 1)
        throw Error("attack: expected eps >= 0 and steps >= 1, found eps " + std::to_string(o.eps) + " and steps " +
                    std::to_string(o.steps));
    const EvalMode eval(model);  // the model's own mode again when this returns or throws
    Tensor x = images.clone();
    if (!is_iterative(o.kind)) {
        const Tensor g = input_gradient(model, images, labels);
        step_along(x, g, o.eps, o.kind == AttackKind::fgsm ? Direction::sign : Direction::max_scaled);
        project_linf(x, images, o.eps);  // already inside the box; this clips to [0, 1]
        return x;
    }
    const bool l2 = o.kind == AttackKind::pgd_l2;
    const float alpha = o.step_size > 0.0f ? o.step_size : 2.5f * o.eps / static_cast<float>(o.steps);
    if (o.random_start && o.eps > 0.0f) random_start(x, images, o.eps, l2, rng);
    for (int64_t k = 0; k < o.steps; ++k) {
        const Tensor g = input_gradient(model, x, labels);
        step_along(x, g, alpha, l2 ? Direction::l2_scaled : Direction::sign);
        if (l2) project_l2(x, images, o.eps);
        else project_linf(x, images, o.eps);
    }
    return x;
}
// endregion: attack

// region: robust-accuracy
RobustAccuracy robust_accuracy(Module& model, const Dataset& data, const AttackOptions& options, uint64_t seed,
                               int64_t batch_size, Module* source) {
    const EvalMode eval(model);
    Rng rng(seed, kAttackStream);
    Batches batches(data, batch_size, 0, Order::sequential);
    int64_t clean = 0, robust = 0;
    Tape tape;
    while (const Batch* batch = batches.next()) {
        const Tensor adversarial = attack(source != nullptr ? *source : model, batch->images, batch->labels, options, rng);
        NoGrad no_grad(tape);
        clean += count_correct(model.forward(tape.input(batch->images)).value(), batch->labels);
        robust += count_correct(model.forward(tape.input(adversarial)).value(), batch->labels);
    }
    const double n = static_cast<double>(std::max<int64_t>(data.size(), 1));
    return {double(clean) / n, double(robust) / n};
}
// endregion: robust-accuracy

AttackExamples attack_examples(Module& model, const Dataset& data, int64_t count, const AttackOptions& options,
                               uint64_t seed, Module* source) {
    if (count < 1 || data.size() < 1)
        throw Error("attack_examples: expected count >= 1 and a non-empty dataset, found count " +
                    std::to_string(count) + " and " + std::to_string(data.size()) + " images");
    const Dataset first = slice(data, 0, std::min(count, data.size()));
    Rng rng(seed, kAttackStream);
    AttackExamples e;
    e.images = first.images;
    e.labels = first.labels;
    e.adversarial = attack(source != nullptr ? *source : model, first.images, first.labels, options, rng);
    const EvalMode eval(model);
    Tape tape;
    NoGrad no_grad(tape);
    e.clean_predictions = argmax(model.forward(tape.input(e.images)).value(), 1);
    e.adversarial_predictions = argmax(model.forward(tape.input(e.adversarial)).value(), 1);
    e.largest_change = max_abs(e.adversarial - e.images);
    return e;
}

Tensor AttackExamples::grid() const {
    return stack_images({images, adversarial, perturbation_map(images, adversarial, largest_change)});
}

Tensor perturbation_map(const Tensor& images, const Tensor& adversarial, float scale) {
    check_same_shape("perturbation_map", images.shape(), adversarial.shape());
    Tensor map = Tensor::full(images.shape(), 0.5f);
    if (!(scale > 0.0f)) return map;
    for (int64_t i = 0; i < map.numel(); ++i)
        map[i] = std::clamp(0.5f + 0.5f * (adversarial[i] - images[i]) / scale, 0.0f, 1.0f);
    return map;
}

}  // namespace tinyrank
