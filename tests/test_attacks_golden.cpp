// FGSM and PGD against PyTorch (book chapter 8; book/method.md §4).
//
// tests/golden/attacks.golden, written by tests/golden/make_attack_golden.py, holds a small
// MLP (Linear 20→16, ReLU, Linear 16→5) with its weights, six inputs in [0, 1]^20 with about
// a quarter of their pixels at exactly 0 or 1 (so the clip to [0, 1] matters), their labels,
// torch's batch-mean cross-entropy and its input gradient g, and the adversarial images that
// plain float32 torch computes for
//   fgsm         ε 0.1                 x′ = clip(x + ε sign(g))
//   fgsm-scaled  ε 0.1                 x′ = clip(x + ε g / ‖g‖_∞)
//   pgd-linf     ε 0.1, 5 steps        x ← clip(clamp(x + α sign(g), x0 − ε, x0 + ε))
//   pgd-l2       ε 0.5, 5 steps        x ← x + α g / ‖g‖₂, shrink onto the ε-ball, clip
// with α = 2.5 ε / k and no random start. Here the same network is built as a tinyrank
// Sequential from the stored weights, and input_gradient and attack() are compared with
// torch's.
//
// Tolerances. The loss and g are short sums of products of float32 weights: abs 1e-7 +
// rel 1e-5 (observed: loss 1.2e-7 on a value of about 1.6, g 3.7e-9 on values up to 0.027).
// An adversarial pixel is x plus a multiple of ε or α, then clamped; the only rounding
// differences come from the per-sample norms (tinyrank sums them in double, torch in
// float32), which move a pixel by a float32 ulp or so: abs 1e-6 for every attack
// (observed: 0 for fgsm and pgd-linf, 6e-8 for fgsm-scaled and pgd-l2). A PGD step could
// differ by a whole 2α only where sign(g) flips on a near-zero gradient element; along both
// PGD paths of this fixture the smallest |g| is 4.3e-5, ten thousand times the difference
// between the two gradients, so no sign flips and every element is held to 1e-6.
// Without the ε-projection or without the clip to [0, 1], the PGD images would move by
// 0.15 to 0.33, and FGSM's by 0.1: the fixture sees both.
//
// Set TINYRANK_GOLDEN_REPORT=1 to print the largest difference per quantity.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "golden_fixtures.hpp"
#include "test_support.hpp"
#include "tinyrank/attacks.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

const golden::Fixtures& fixtures() { return golden::cached_fixtures("attacks.golden"); }

const golden::Case& model_case() { return fixtures().find("mlp_20_16_5"); }

// The fixture's network as a tinyrank Sequential: fc1 (Linear 20→16), relu, fc2 (Linear
// 16→5), every parameter set from the tensor of the same name ("fc1.weight", …).
std::unique_ptr<Sequential> fixture_model(const golden::Case& c) {
    Rng rng(1);  // the initial draw is overwritten below
    auto model = std::make_unique<Sequential>();
    model->add("fc1", std::make_unique<Linear>(20, 16, rng));
    model->add("relu", std::make_unique<ReLU>());
    model->add("fc2", std::make_unique<Linear>(16, 5, rng));
    int set = 0;
    for (Parameter* p : model->parameters()) {
        REQUIRE_MESSAGE(c.has_tensor(p->name), c.name << ": the fixture has no '" << p->name << "'");
        const Tensor& value = c.tensor(p->name);
        REQUIRE_MESSAGE(p->value.shape() == value.shape(), p->name << ": tinyrank " << to_string(p->value.shape())
                                                                   << ", torch " << to_string(value.shape()));
        p->value.copy_from(value);
        ++set;
    }
    REQUIRE(set == 4);
    model->eval();
    return model;
}

// The pixels of `x` at exactly 0 or 1.
int64_t at_bounds(const Tensor& x) {
    int64_t n = 0;
    for (int64_t i = 0; i < x.numel(); ++i) n += (x[i] == 0.0f || x[i] == 1.0f) ? 1 : 0;
    return n;
}

}  // namespace

TEST_SUITE("ch08_adversarial_attacks") {
TEST_CASE("attacks.golden has a case for every attack kind") {
    for (const AttackKind kind : attack_kinds())
        CHECK_MESSAGE(fixtures().cases_of(attack_name(kind)).size() >= 1,
                      "attack '" << attack_name(kind) << "' has no case in " << fixtures().path
                                 << "; add it to tests/golden/make_attack_golden.py");
    CHECK(fixtures().cases_of("attack_model").size() == 1);
}

TEST_CASE("input_gradient matches PyTorch's ∇_x of the batch-mean cross-entropy") {
    const golden::Case& c = model_case();
    std::unique_ptr<Sequential> model = fixture_model(c);
    const Tensor& x = c.tensor("x");
    const std::vector<int64_t>& labels = c.int_list("labels");
    const Tolerance tol{1e-7, 1e-5};
    std::map<std::string, double> largest;

    Tape tape;
    const Var loss = cross_entropy(model->forward(tape.input(x)), labels);
    largest["loss"] = check_close("loss", loss.value(), c.tensor("loss"), tol);

    const Tensor g = input_gradient(*model, x, labels);
    largest["grad_x"] = check_close("grad_x", g, c.tensor("grad_x"), tol);
    report("attacks.golden", largest);
}

TEST_CASE("FGSM, scaled FGSM, PGD ℓ∞ and PGD ℓ2 give PyTorch's adversarial images") {
    const golden::Case& m = model_case();
    std::unique_ptr<Sequential> model = fixture_model(m);
    const Tensor& x = m.tensor("x");
    const std::vector<int64_t>& labels = m.int_list("labels");
    const Tolerance tol{1e-6, 0.0};
    std::map<std::string, double> largest;
    int checked = 0;
    for (const AttackKind kind : attack_kinds()) {
        for (const golden::Case* c : fixtures().cases_of(attack_name(kind))) {
            CAPTURE(c->name);
            AttackOptions o;
            o.kind = kind;
            o.eps = c->real("eps");
            o.steps = c->integer("steps");
            o.random_start = false;  // torch starts PGD at x
            // step_size stays 0: tinyrank's default α = 2.5 ε / k must be torch's α, bit for bit.
            if (c->has_float("alpha")) CHECK(2.5f * o.eps / static_cast<float>(o.steps) == c->real("alpha"));
            Rng rng(7);
            const Tensor ours = attack(*model, x, labels, o, rng);
            const Tensor& theirs = c->tensor("adversarial");
            largest[attack_name(kind)] = check_close(c->name + " adversarial", ours, theirs, tol);
            CHECK(at_bounds(theirs) > 0);  // some pixels were clipped to 0 or 1
            ++checked;
        }
    }
    CHECK(checked >= static_cast<int>(attack_kinds().size()));
    report("attacks.golden", largest);
}
}  // TEST_SUITE
