// Chapter 8 — adversarial attacks: FGSM from the first-order Taylor expansion of the loss,
// scaled-gradient FGSM, and projected gradient descent (PGD) in the ℓ∞ box and the ℓ2 ball.
// A small MLP is trained on MNIST; one test digit shows how well the linear prediction of
// the loss holds and why the sign of the gradient is the steepest ℓ∞ direction; then clean
// and robust accuracy against the radius ε for the four attacks, PGD against its number of
// steps, and a picture of adversarial digits.
//
//   ch08_attacks [--quick] [--out DIR]
//
// Runs in about 2 minutes with one BLAS thread (up to 4.5 on a busy machine), most of it
// PGD on the 10000 test images (--quick: 300 training batches and 500 test images, about
// 10 seconds). Reads MNIST from datasets/mnist (run it from the repository root). Writes
// DIR/accuracy.csv (attack, norm, eps, clean_accuracy, robust_accuracy), DIR/pgd_steps.csv
// (steps, random_start, robust_accuracy), DIR/examples.csv (image, label and the prediction
// under each attack) and DIR/adversarial-digits.png, default out/ch08, for the figures of
// book/08-adversarial-attacks.md.
#include <algorithm>
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

// Section 1: an MLP 784 → 500 → 500 → 10, Adam with a cosine schedule (chapter 3).
std::unique_ptr<Sequential> train_model(const Dataset& train_data, const Dataset& test, const Options& o) {
    std::printf("\n== 1. The model under attack: an MLP trained %s ==\n\n",
                o.quick ? "for 300 batches (--quick)" : "for three epochs");
    // region: train-model
    Rng rng(1);
    std::unique_ptr<Sequential> model = mlp(rng);
    TrainOptions options;
    options.epochs = o.quick ? 1 : 3;
    options.max_batches = o.quick ? 300 : 0;
    options.progress = 0;
    Adam adam(model->parameters(), 1e-3f);
    const CosineSchedule schedule(1e-3f, batches_per_epoch(train_data, options) * options.epochs);
    OptimizerStepper stepper(*model, adam, &schedule);
    train(*model, stepper, train_data, test, options);
    // endregion: train-model
    return model;
}

// The cross-entropy of `model` on one image [1, 1, H, W] with `label`.
float loss_of(Module& model, const Tensor& image, int64_t label) {
    Tape tape;
    NoGrad no_grad(tape);
    return cross_entropy(model.forward(tape.input(image)), {label}).value().item();
}

// The logit margin z_label − max_{j ≠ label} z_j of one image: positive when classified correctly.
float margin_of(Module& model, const Tensor& image, int64_t label) {
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor z = model.forward(tape.input(image)).value();
    float other = -1e30f;
    for (int64_t j = 0; j < z.numel(); ++j)
        if (j != label) other = std::max(other, z[j]);
    return z[label] - other;
}

// Σ_i g_i δ_i: the first-order change of the loss along δ.
double dot(const Tensor& g, const Tensor& d) {
    double s = 0.0;
    for (int64_t i = 0; i < g.numel(); ++i) s += double(g[i]) * double(d[i]);
    return s;
}

// The ℓ1, ℓ2 and ℓ∞ norms of a tensor.
struct Norms {
    double l1 = 0.0, l2 = 0.0, linf = 0.0;
};
Norms norms(const Tensor& g) {
    Norms n;
    for (int64_t i = 0; i < g.numel(); ++i) {
        n.l1 += std::fabs(g[i]);
        n.l2 += double(g[i]) * g[i];
        n.linf = std::max(n.linf, double(std::fabs(g[i])));
    }
    n.l2 = std::sqrt(n.l2);
    return n;
}

// Section 2: the first-order Taylor expansion on one test digit, and the three directions.
void taylor_on_one_digit(Sequential& model, const Dataset& test) {
    std::printf("\n== 2. One digit: the loss to first order, and the steepest direction in the box ==\n\n");
    // The first test image the model gets right with a loss above 0.01: a confident but not
    // saturated prediction, where the gradient is not tiny.
    int64_t pick = 0;
    for (int64_t i = 0; i < test.size(); ++i) {
        const Dataset one = slice(test, i, 1);
        const float l = loss_of(model, one.images, one.labels[0]);
        if (l > 0.01f && l < 0.5f) {
            pick = i;
            break;
        }
    }
    const Dataset one = slice(test, pick, 1);
    const int64_t label = one.labels[0];
    // region: taylor
    const Tensor& x = one.images;
    const float loss = loss_of(model, x, label);
    const Tensor g = input_gradient(model, x, {label});  // ∇_x L at x
    const Norms n = norms(g);
    // endregion: taylor
    std::printf("  Test image %lld, a %lld: loss L(x) = %.4f; the gradient g = dL/dx has\n"
                "  |g|_1 = %.4f, |g|_2 = %.4f, |g|_inf = %.4f (784 pixels).\n\n",
                static_cast<long long>(pick), static_cast<long long>(label), static_cast<double>(loss), n.l1, n.l2,
                n.linf);

    std::printf("  Along delta = eps sign(g), clipped to [0, 1]: the first-order change g.delta against the true\n"
                "  one, and the logit margin z_true - max_other z (it is %.3f at x):\n"
                "    %-6s %12s %12s %8s %11s %9s\n", static_cast<double>(margin_of(model, x, label)), "eps", "g.delta",
                "L(x+d)-L(x)", "ratio", "eps |g|_1", "margin");
    for (float eps : {0.001f, 0.005f, 0.01f, 0.02f, 0.05f, 0.1f, 0.2f}) {
        // region: taylor-check
        AttackOptions fgsm;  // AttackKind::fgsm by default: x′ = clip(x + ε sign(g))
        fgsm.eps = eps;
        Rng rng(1);
        const Tensor adversarial = attack(model, x, {label}, fgsm, rng);
        const Tensor delta = adversarial - x;
        const double predicted = dot(g, delta);                                     // g·δ
        const double actual = double(loss_of(model, adversarial, label)) - double(loss);  // L(x + δ) − L(x)
        // endregion: taylor-check
        std::printf("    %-6g %12.5f %12.5f %8.3f %11.5f %9.3f\n", static_cast<double>(eps), predicted, actual,
                    actual / predicted, static_cast<double>(eps) * n.l1,
                    static_cast<double>(margin_of(model, adversarial, label)));
    }
    std::printf("  Clipping keeps g.delta below eps |g|_1: a black pixel cannot get darker. For small eps the\n"
                "  ratio tends to 1: the expansion is exact in the limit. Beyond, the loss grows faster than\n"
                "  linearly while the margin falls almost linearly: the logits of a ReLU network are piecewise\n"
                "  linear in x, and the loss of a confident prediction is about exp(-margin).\n\n");

    // The first-order gain of three directions, each scaled so that |delta|_inf = eps.
    const float eps = 0.01f;
    Tensor sign = g.clone(), scaled = g.clone(), random = g.clone();
    Rng rng(3);
    for (int64_t i = 0; i < g.numel(); ++i) {
        sign[i] = eps * (g[i] > 0.0f ? 1.0f : (g[i] < 0.0f ? -1.0f : 0.0f));
        scaled[i] = static_cast<float>(eps * g[i] / n.linf);
        random[i] = eps * (rng.uniform() < 0.5f ? -1.0f : 1.0f);
    }
    std::printf("  Three directions with |delta|_inf = %g (no clipping), first-order change g.delta:\n"
                "    eps sign(g)          %10.5f   = eps |g|_1, the most any delta in the box can give\n"
                "    eps g / |g|_inf      %10.5f   = eps |g|_2^2 / |g|_inf (scaled-gradient FGSM)\n"
                "    eps random signs     %10.5f   (about 0: a random corner of the box)\n",
                static_cast<double>(eps), dot(g, sign), dot(g, scaled), dot(g, random));
}

// One row of accuracy.csv, and its line on screen.
struct Measurement {
    std::string attack, norm;
    float eps;
    RobustAccuracy accuracy;
};

// Section 3: clean and robust accuracy against ε for the four attacks.
std::vector<Measurement> accuracy_against_eps(Sequential& model, const Dataset& test, const Options& o) {
    std::printf("\n== 3. Robust accuracy against eps on %lld test images ==\n\n", static_cast<long long>(test.size()));
    const std::vector<float> linf_radii = {0.0f, 0.02f, 0.05f, 0.1f, 0.15f, 0.2f, 0.3f};
    const std::vector<float> l2_radii = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f};
    std::vector<Measurement> rows;
    // region: robust-sweep
    for (const AttackKind kind : attack_kinds()) {
        const bool l2 = kind == AttackKind::pgd_l2;
        for (float eps : l2 ? l2_radii : linf_radii) {
            AttackOptions options;
            options.kind = kind;
            options.eps = eps;
            options.steps = 10;  // PGD: α = 2.5 ε / 10, random start
            rows.push_back({attack_name(kind), l2 ? "l2" : "linf", eps, robust_accuracy(model, test, options, /*seed=*/1)});
        }
    }
    // endregion: robust-sweep
    for (const char* norm : {"linf", "l2"}) {
        const bool l2 = std::string(norm) == "l2";
        std::printf("  %-22s", l2 ? "l2 attack,   eps:" : "l-inf attacks, eps:");
        for (float eps : l2 ? l2_radii : linf_radii) std::printf(" %6g", static_cast<double>(eps));
        std::string previous;
        for (const Measurement& m : rows) {
            if (m.norm != norm) continue;
            if (m.attack != previous)
                std::printf("\n    %-20s", (m.attack + (m.attack.rfind("pgd", 0) == 0 ? " (10 steps)" : "")).c_str());
            std::printf(" %6.2f", 100.0 * m.accuracy.robust);
            previous = m.attack;
        }
        std::printf("\n");
    }
    std::vector<std::vector<std::string>> csv;
    for (const Measurement& m : rows)
        csv.push_back({m.attack, m.norm, format_number(m.eps), format_number(m.accuracy.clean),
                       format_number(m.accuracy.robust)});
    write_csv(tutorial::output_file(o, "accuracy.csv"), {"attack", "norm", "eps", "clean_accuracy", "robust_accuracy"},
              csv);
    std::printf("  Robust accuracy in %%. Clean accuracy %.2f%%: eps = 0 gives exactly that for every attack.\n"
                "  Wrote %s/accuracy.csv.\n",
                100.0 * rows.front().accuracy.clean, o.out.c_str());
    return rows;
}

// Section 4: PGD at one ε with more and more steps.
void pgd_steps(Sequential& model, const Dataset& test, const Options& o) {
    const float eps = 0.1f;
    std::printf("\n== 4. PGD-linf at eps = %g on %lld test images: how many steps? ==\n\n", static_cast<double>(eps),
                static_cast<long long>(test.size()));
    AttackOptions fgsm;
    fgsm.eps = eps;
    const double fgsm_accuracy = robust_accuracy(model, test, fgsm, 1).robust;
    std::vector<std::vector<std::string>> csv;
    // From x itself only 1 and 10 steps; with a random start the whole sweep.
    const std::vector<int64_t> sweep = o.quick ? std::vector<int64_t>{1, 3, 10} : std::vector<int64_t>{1, 2, 5, 10, 20, 40};
    for (bool random_start : {false, true}) {
        for (int64_t steps : random_start ? sweep : std::vector<int64_t>{1, 10}) {
            AttackOptions pgd;
            pgd.kind = AttackKind::pgd_linf;
            pgd.eps = eps;
            pgd.steps = steps;
            pgd.random_start = random_start;
            const double robust = robust_accuracy(model, test, pgd, 1).robust;
            std::printf("  %-14s %2lld step(s) of 2.5 eps / k = %.4f: robust %6.2f%%\n",
                        random_start ? "random start," : "from x,", static_cast<long long>(steps),
                        static_cast<double>(2.5f * eps / float(steps)), 100.0 * robust);
            csv.push_back({std::to_string(steps), random_start ? "1" : "0", format_number(robust)});
        }
    }
    write_csv(tutorial::output_file(o, "pgd_steps.csv"), {"steps", "random_start", "robust_accuracy"}, csv);
    std::printf("  FGSM at the same eps: %.2f%%. One step from x, of size 2.5 eps, is clipped back to the box:\n"
                "  it is FGSM exactly. More steps find better points inside the box; the curve flattens when\n"
                "  the maximisation has converged. Wrote %s/pgd_steps.csv.\n",
                100.0 * fgsm_accuracy, o.out.c_str());
}

// Section 5: one test digit of each class under three attacks, as a picture and a table.
void picture(Sequential& model, const Dataset& test, const Options& o) {
    std::printf("\n== 5. Adversarial digits ==\n\n");
    std::vector<int64_t> first_of_class(10, -1);
    for (int64_t i = 0; i < test.size(); ++i)
        if (first_of_class[static_cast<size_t>(test.labels[static_cast<size_t>(i)])] < 0)
            first_of_class[static_cast<size_t>(test.labels[static_cast<size_t>(i)])] = i;
    const Dataset digits = subset(test, first_of_class);
    // region: save-grid
    struct Row {
        const char* name;
        AttackOptions options;
    };
    std::vector<Row> attacks = {{"FGSM eps=0.15", {}}, {"PGD-linf eps=0.1", {}}, {"PGD-l2 eps=1.5", {}}};
    attacks[0].options.eps = 0.15f;
    attacks[1].options.kind = AttackKind::pgd_linf;
    attacks[1].options.eps = 0.1f;
    attacks[2].options.kind = AttackKind::pgd_l2;
    attacks[2].options.eps = 1.5f;
    std::vector<Tensor> rows = {digits.images};  // row 1: the originals
    std::vector<AttackExamples> examples;
    for (const Row& r : attacks) {
        examples.push_back(attack_examples(model, digits, 10, r.options, /*seed=*/1));
        const AttackExamples& e = examples.back();
        rows.push_back(e.adversarial);                                              // x′
        rows.push_back(perturbation_map(e.images, e.adversarial, e.largest_change));  // x′ − x around gray
    }
    const std::string png = tutorial::output_file(o, "adversarial-digits.png");
    write_png(png, stack_images(rows), /*columns=*/10, /*gap=*/2, /*gap_value=*/1.0f, /*zoom=*/2);
    // endregion: save-grid

    std::printf("  %-22s", "true label");
    for (int64_t label : digits.labels) std::printf(" %2lld", static_cast<long long>(label));
    std::printf("\n  %-22s", "clean prediction");
    for (int64_t p : examples[0].clean_predictions) std::printf(" %2lld", static_cast<long long>(p));
    std::vector<std::vector<std::string>> csv;
    for (size_t k = 0; k < 10; ++k)
        csv.push_back({std::to_string(first_of_class[k]), std::to_string(digits.labels[k]),
                       std::to_string(examples[0].clean_predictions[k])});
    for (size_t a = 0; a < attacks.size(); ++a) {
        int64_t fooled = 0;
        std::printf("\n  %-22s", attacks[a].name);
        for (size_t k = 0; k < 10; ++k) {
            const int64_t p = examples[a].adversarial_predictions[k];
            fooled += p != digits.labels[k];
            std::printf(" %2lld", static_cast<long long>(p));
            csv[k].push_back(std::to_string(p));
        }
        std::printf("   (%lld of 10 wrong; largest pixel change %.3f)", static_cast<long long>(fooled),
                    static_cast<double>(examples[a].largest_change));
    }
    write_csv(tutorial::output_file(o, "examples.csv"),
              {"image", "label", "clean", "fgsm_0.15", "pgd_linf_0.1", "pgd_l2_1.5"}, csv);
    std::printf("\n\n  Wrote %s and %s/examples.csv. The picture's rows: the\n"
                "  originals, then for each attack the adversarial digits and x' - x (gray: unchanged, white:\n"
                "  brighter, black: darker, scaled to the attack's largest change).\n",
                png.c_str(), o.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = tutorial::parse(argc, argv, "ch08_attacks", "out/ch08");
    return tutorial::run(options,
                         "Chapter 8: FGSM and PGD against an MLP on MNIST (about 2 minutes with one BLAS thread, "
                         "up to 4.5 on a busy machine; --quick: 10 s).",
                         [&] {
                             const Dataset train_data = tutorial::load_split(Split::train, options);
                             const Dataset test = tutorial::load_test(options, 500);
                             std::unique_ptr<Sequential> model = train_model(train_data, test, options);
                             taylor_on_one_digit(*model, test);
                             accuracy_against_eps(*model, test, options);
                             pgd_steps(*model, slice(test, 0, std::min<int64_t>(test.size(), 2000)), options);
                             picture(*model, test, options);
                         });
}
