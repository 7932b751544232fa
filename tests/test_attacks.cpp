// FGSM and PGD: constraints, ε = 0, and monotonicity on a trained model (book chapter 8).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "tinyrank/attacks.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/train.hpp"

using namespace tinyrank;

namespace {

// A small MLP trained for a few hundred batches on MNIST (once per test binary).
struct Trained {
    std::unique_ptr<Sequential> model;
    Dataset test;
};

Trained& trained() {
    static Trained t = [] {
        const std::string dir = std::string(TINYRANK_SOURCE_DIR) + "/datasets/mnist";
        const Dataset train_data = load_mnist(dir, Split::train);
        Trained r;
        r.test = slice(load_mnist(dir, Split::test), 0, 1000);
        Rng rng(11);
        r.model = mlp(rng);
        Adam adam(r.model->parameters(), 1e-3f);
        OptimizerStepper stepper(*r.model, adam);
        TrainOptions options;
        options.epochs = 1;
        options.max_batches = 200;
        options.progress = 0;
        options.evaluate_each_epoch = false;
        train(*r.model, stepper, train_data, Dataset{}, options);
        return r;
    }();
    return t;
}

double linf(const Tensor& a, const Tensor& b, int64_t sample) {
    const int64_t n = a.numel() / a.size(0);
    double m = 0.0;
    for (int64_t i = sample * n; i < (sample + 1) * n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

double l2(const Tensor& a, const Tensor& b, int64_t sample) {
    const int64_t n = a.numel() / a.size(0);
    double s = 0.0;
    for (int64_t i = sample * n; i < (sample + 1) * n; ++i) s += double(a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(s);
}

}  // namespace

TEST_SUITE("ch08_adversarial_attacks") {
TEST_CASE("every attack keeps ‖x′ − x‖ ≤ ε in its norm and 0 ≤ x′ ≤ 1") {
    Trained& t = trained();
    const Dataset part = slice(t.test, 0, 64);
    for (const AttackKind kind : attack_kinds()) {
        const bool l2_ball = kind == AttackKind::pgd_l2;
        AttackOptions o;
        o.kind = kind;
        o.eps = l2_ball ? 1.5f : 0.1f;
        o.steps = 5;
        Rng rng(1);
        const Tensor x = attack(*t.model, part.images, part.labels, o, rng);
        CAPTURE(attack_name(kind));
        double worst = 0.0;
        for (int64_t b = 0; b < part.size(); ++b)
            worst = std::max(worst, l2_ball ? l2(x, part.images, b) : linf(x, part.images, b));
        CHECK(worst <= o.eps * (1.0 + 1e-5) + 1e-6);
        CHECK(worst > 0.5 * o.eps);  // the attack did move the images
        float lo = 1.0f, hi = 0.0f;
        for (int64_t i = 0; i < x.numel(); ++i) {
            lo = std::min(lo, x[i]);
            hi = std::max(hi, x[i]);
        }
        CHECK(lo >= 0.0f);
        CHECK(hi <= 1.0f);
    }
}

TEST_CASE("ε = 0 gives exactly the clean accuracy") {
    Trained& t = trained();
    for (const AttackKind kind : attack_kinds()) {
        AttackOptions o;
        o.kind = kind;
        o.eps = 0.0f;
        const RobustAccuracy a = robust_accuracy(*t.model, t.test, o, 3);
        CAPTURE(attack_name(kind));
        CHECK(a.robust == a.clean);
        CHECK(a.clean == evaluate(*t.model, t.test));
    }
}

TEST_CASE("accuracy does not rise with ε, and PGD is at least as strong as FGSM") {
    Trained& t = trained();
    double previous = 1.0;
    for (float eps : {0.0f, 0.05f, 0.1f, 0.2f}) {
        AttackOptions o;
        o.eps = eps;
        const double robust = robust_accuracy(*t.model, t.test, o, 3).robust;
        CHECK(robust <= previous);
        previous = robust;
    }
    AttackOptions fgsm, pgd;
    fgsm.eps = pgd.eps = 0.1f;
    pgd.kind = AttackKind::pgd_linf;
    CHECK(robust_accuracy(*t.model, t.test, pgd, 3).robust <= robust_accuracy(*t.model, t.test, fgsm, 3).robust);
}

TEST_CASE("FGSM is ε·sign(∇_x L), clipped") {
    Trained& t = trained();
    const Dataset part = slice(t.test, 0, 8);
    const Tensor g = input_gradient(*t.model, part.images, part.labels);
    AttackOptions o;
    o.eps = 0.07f;
    Rng rng(1);
    const Tensor x = attack(*t.model, part.images, part.labels, o, rng);
    for (int64_t i = 0; i < x.numel(); ++i) {
        const float sign = g[i] > 0.0f ? 1.0f : (g[i] < 0.0f ? -1.0f : 0.0f);
        CHECK(x[i] == std::clamp(part.images[i] + o.eps * sign, 0.0f, 1.0f));
    }
}

TEST_CASE("the same seed gives the same PGD random start; an unknown attack is refused") {
    Trained& t = trained();
    const Dataset part = slice(t.test, 0, 4);
    AttackOptions o;
    o.kind = AttackKind::pgd_linf;
    o.steps = 2;
    Rng a(5), b(5);
    CHECK(max_abs(attack(*t.model, part.images, part.labels, o, a) - attack(*t.model, part.images, part.labels, o, b)) ==
          0.0f);
    for (const AttackKind kind : attack_kinds()) CHECK(parse_attack_kind(attack_name(kind)) == kind);
    CHECK(attack_name(AttackKind::fgsm_scaled) == "fgsm-scaled");
    CHECK_THROWS_WITH_AS(parse_attack_kind("cw"),
                         doctest::Contains("expected attack fgsm, fgsm-scaled, pgd-linf or pgd-l2, found 'cw'"), Error);
}

TEST_CASE("an exception inside an attack or an evaluation leaves the model in the mode it had") {
    Trained& t = trained();
    const Dataset part = slice(t.test, 0, 4);
    const std::vector<int64_t> bad_labels = {0, 1, 2, 99};  // 99: no such class, the loss throws mid-attack
    const bool was_training = t.model->training();
    for (const bool training : {true, false}) {
        CAPTURE(training);
        t.model->train(training);
        for (const AttackKind kind : attack_kinds()) {
            AttackOptions o;
            o.kind = kind;
            o.steps = 2;
            Rng rng(1);
            CHECK_THROWS_AS(attack(*t.model, part.images, bad_labels, o, rng), Error);
            CHECK(t.model->training() == training);
        }
        Dataset wrong = part;
        wrong.images = Tensor({4, 1, 20, 20});  // not 28×28: the first layer's shape check throws
        CHECK_THROWS_AS(robust_accuracy(*t.model, wrong, AttackOptions{}, 1), Error);
        CHECK(t.model->training() == training);
        CHECK_THROWS_AS(evaluate(*t.model, wrong), Error);
        CHECK(t.model->training() == training);
    }
    t.model->train(was_training);
}

TEST_CASE("attack_examples: the first images, their adversarial versions and predictions, as a grid") {
    Trained& t = trained();
    AttackOptions o;
    o.kind = AttackKind::pgd_linf;
    o.eps = 0.1f;
    o.steps = 3;
    const AttackExamples e = attack_examples(*t.model, t.test, 6, o, 3);
    REQUIRE(e.images.shape() == Shape{6, 1, 28, 28});
    CHECK(e.adversarial.shape() == e.images.shape());
    CHECK(max_abs(e.images - slice(t.test, 0, 6).images) == 0.0f);
    CHECK(e.labels == slice(t.test, 0, 6).labels);
    // The predictions are the model's argmax on the images shown.
    Tape tape;
    NoGrad no_grad(tape);
    CHECK(e.clean_predictions == argmax(t.model->forward(tape.input(e.images)).value(), 1));
    CHECK(e.adversarial_predictions == argmax(t.model->forward(tape.input(e.adversarial)).value(), 1));
    CHECK(e.largest_change <= o.eps * (1.0f + 1e-5f));
    CHECK(e.largest_change > 0.5f * o.eps);
    // The same seed draws the same random start as robust_accuracy's first batch would.
    Rng rng(3, 0xa77ac);
    CHECK(max_abs(e.adversarial - attack(*t.model, e.images, e.labels, o, rng)) == 0.0f);

    // grid(): originals, adversarial images, perturbation map scaled by the largest change.
    const Tensor grid = e.grid();
    REQUIRE(grid.shape() == Shape{18, 1, 28, 28});
    const int64_t n = 6 * 784;
    for (int64_t i = 0; i < n; i += 97) {
        CHECK(grid[i] == e.images[i]);
        CHECK(grid[n + i] == e.adversarial[i]);
        CHECK(grid[2 * n + i] == doctest::Approx(0.5 + 0.5 * (e.adversarial[i] - e.images[i]) / e.largest_change));
    }
    CHECK(max(e.grid()) <= 1.0f);

    // A count beyond the dataset shows all of it; a count of 0 is refused.
    CHECK(attack_examples(*t.model, slice(t.test, 0, 2), 16, o, 3).labels.size() == 2);
    CHECK_THROWS_AS(attack_examples(*t.model, t.test, 0, o, 3), Error);
}

TEST_CASE("perturbation_map: gray for no change, white for +scale, black for -scale") {
    const Tensor x({1, 1, 1, 4}, {0.2f, 0.2f, 0.2f, 0.9f});
    const Tensor y({1, 1, 1, 4}, {0.2f, 0.3f, 0.1f, 1.0f});
    const Tensor map = perturbation_map(x, y, 0.1f);
    CHECK(map[0] == 0.5f);
    CHECK(map[1] == doctest::Approx(1.0));
    CHECK(map[2] == doctest::Approx(0.0));
    CHECK(max_abs(perturbation_map(x, y, 0.0f) - Tensor::full({1, 1, 1, 4}, 0.5f)) == 0.0f);
    CHECK_THROWS_AS(perturbation_map(x, Tensor::zeros({1, 1, 2, 2}), 0.1f), Error);
}
}
