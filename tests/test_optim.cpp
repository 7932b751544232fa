// The optimisers, the cosine schedule, gradient clipping and the training loop (book §3.4–3.5),
// proved against PyTorch and against themselves.
//
// tests/golden/learning.golden (tests/golden/make_learning_golden.py) holds, for SGD (plain,
// momentum, Nesterov, weight decay), Adam and AdamW, two parameters stepped five times from a
// stored sequence of gradients with the parameters after every step; CosineAnnealingLR's
// rate per batch; and clip_grad_norm_'s norm and clipped gradients.
// Set TINYRANK_GOLDEN_REPORT=1 to print the largest difference per optimiser against PyTorch.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "golden_fixtures.hpp"
#include "test_support.hpp"
#include "tinyrank/data.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/optim.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/train.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;
using golden::Case;

namespace {

// A scalar as a one-element tensor, for check_close.
Tensor scalar(float value) { return Tensor({1}, {value}); }

// The optimiser a fixture case describes. Options the case leaves out are not passed, so
// the case checks that tinyrank's defaults are PyTorch's.
std::unique_ptr<Optimizer> make_optimizer(const Case& c, std::vector<Parameter*> params) {
    const float lr = c.real("lr");
    auto option = [&](const char* key, float fallback) { return c.has_float(key) ? c.real(key) : fallback; };
    auto has_any = [&](std::initializer_list<const char*> keys) {
        for (const char* key : keys)
            if (c.has_float(key) || c.has_int(key)) return true;
        return false;
    };
    if (c.op == "sgd") {
        if (!has_any({"momentum", "weight_decay", "nesterov"})) return std::make_unique<SGD>(params, lr);
        return std::make_unique<SGD>(params, lr, option("momentum", 0.0f), option("weight_decay", 0.0f),
                                     c.integer_or("nesterov", 0) != 0);
    }
    if (c.op == "adam") {
        if (!has_any({"beta1", "beta2", "eps", "weight_decay"})) return std::make_unique<Adam>(params, lr);
        return std::make_unique<Adam>(params, lr, option("beta1", 0.9f), option("beta2", 0.999f), option("eps", 1e-8f),
                                      option("weight_decay", 0.0f));
    }
    if (c.op == "adamw")
        return std::make_unique<Adam>(c.has_float("weight_decay") ? AdamW(params, lr, c.real("weight_decay"))
                                                                  : AdamW(params, lr));
    throw Error("no optimiser for fixture op '" + c.op + "'");
}

// ½ Σ aᵢ (wᵢ − cᵢ)², a convex quadratic with its minimum at w = c.
struct Quadratic {
    Tensor a = Tensor({5}, {0.5f, 1.0f, 2.0f, 3.0f, 1.5f});
    Tensor c = Tensor({5}, {1.0f, -2.0f, 0.5f, 3.0f, -0.25f});

    // Sets p.grad = a ∘ (w − c) and returns the value.
    float gradient(Parameter& p) const {
        float value = 0.0f;
        for (int64_t i = 0; i < 5; ++i) {
            const float d = p.value[i] - c[i];
            p.grad[i] = a[i] * d;
            value += 0.5f * a[i] * d * d;
        }
        return value;
    }
};

// What a short training run did: its per-batch losses and final weights.
struct Run {
    std::vector<float> losses;
    std::vector<std::vector<float>> weights;
};

// Trains a fresh mlp (initialised from `seed`) with Adam for `batches` batches of 32 MNIST
// images in the order `seed` draws.
Run short_training(uint64_t seed, int batches) {
    Rng rng(seed);
    auto model = mlp(rng);
    Adam adam(model->parameters(), 1e-3f);
    OptimizerStepper stepper(*model, adam);
    Batches order(mnist_train(), 32, seed);
    Run run;
    while (const Batch* batch = order.next()) {
        if (static_cast<int>(run.losses.size()) == batches) break;
        run.losses.push_back(stepper.step(batch->images, batch->labels).loss);
    }
    for (const Parameter* p : model->parameters()) run.weights.push_back(p->value.to_vector());
    return run;
}

}  // namespace

TEST_SUITE("ch03_learning") {

// ---- Against PyTorch ---------------------------------------------------------------------------

TEST_CASE("SGD, Adam and AdamW follow torch.optim step by step, also under the cosine schedule") {
    // Five steps on a [2, 3] and a [4] parameter; after every step both must agree with
    // PyTorch within abs 1e-6 + rel 1e-5, and the rate used within rel 1e-6.
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    std::map<std::string, double> largest;
    int cases = 0;
    for (const char* op : {"sgd", "adam", "adamw"}) {
        CHECK_MESSAGE(fixtures.cases_of(op).size() >= 3, "too few '" << op << "' cases in " << fixtures.path);
        for (const Case* c : fixtures.cases_of(op)) {
            CAPTURE(c->name);
            Parameter a("a", c->tensor("a_0").clone()), b("b", c->tensor("b_0").clone());
            std::unique_ptr<Optimizer> optimizer = make_optimizer(*c, {&a, &b});
            std::unique_ptr<CosineSchedule> schedule;
            if (c->has_int("t_max"))
                schedule = std::make_unique<CosineSchedule>(c->real("lr"), c->integer("t_max"), c->real("eta_min"));
            const Tensor& rates = c->tensor("rates");
            double& worst = largest[c->name];
            for (int64_t t = 1; t <= c->integer("steps"); ++t) {
                const std::string step = " step " + std::to_string(t);
                a.grad.copy_from(c->tensor("grad_a_" + std::to_string(t)));
                b.grad.copy_from(c->tensor("grad_b_" + std::to_string(t)));
                if (schedule) optimizer->set_lr(schedule->lr_at(t - 1));
                check_close(c->name + step + " lr", scalar(optimizer->lr()), scalar(rates[t - 1]), {1e-9, 1e-6});
                optimizer->step();
                worst = std::max(worst, check_close(c->name + step + " a", a.value, c->tensor("a_" + std::to_string(t)),
                                                    {1e-6, 1e-5}));
                worst = std::max(worst, check_close(c->name + step + " b", b.value, c->tensor("b_" + std::to_string(t)),
                                                    {1e-6, 1e-5}));
            }
            ++cases;
        }
    }
    CHECK(cases >= 10);
    report("learning.golden", largest);
}

TEST_CASE("CosineSchedule gives CosineAnnealingLR's rate at every batch up to T") {
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    REQUIRE(fixtures.cases_of("cosine").size() >= 3);
    double worst = 0.0;
    for (const Case* c : fixtures.cases_of("cosine")) {
        CAPTURE(c->name);
        const CosineSchedule schedule(c->real("base_lr"), c->integer("t_max"), c->real("eta_min"));
        const Tensor& rates = c->tensor("rates");
        REQUIRE(rates.numel() == c->integer("t_max") + 1);
        Tensor ours = Tensor::empty(rates.shape());
        for (int64_t t = 0; t < rates.numel(); ++t) ours[t] = schedule.lr_at(t);
        worst = std::max(worst, check_close(c->name, ours, rates, {1e-9, 1e-6}));
    }
    report("learning.golden", {{"cosine schedule", worst}});
}

TEST_CASE("clip_grad_norm returns clip_grad_norm_'s total norm and rescales the gradients like it") {
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    REQUIRE(fixtures.cases_of("clip_grad_norm").size() >= 2);
    double worst = 0.0;
    for (const Case* c : fixtures.cases_of("clip_grad_norm")) {
        CAPTURE(c->name);
        Parameter a("a", Tensor::zeros(c->tensor("grad_a").shape())), b("b", Tensor::zeros(c->tensor("grad_b").shape()));
        a.grad.copy_from(c->tensor("grad_a"));
        b.grad.copy_from(c->tensor("grad_b"));
        const float total = clip_grad_norm({&a, &b}, c->real("max_norm"));
        worst = std::max(worst, check_close(c->name + " total norm", scalar(total), scalar(c->real("total_norm")), {0, 1e-6}));
        worst = std::max(worst, check_close(c->name + " a", a.grad, c->tensor("clipped_a"), {1e-8, 1e-6}));
        worst = std::max(worst, check_close(c->name + " b", b.grad, c->tensor("clipped_b"), {1e-8, 1e-6}));
    }
    report("learning.golden", {{"clip_grad_norm", worst}});
}

// ---- Against themselves ------------------------------------------------------------------------

TEST_CASE("optimiser state: named buffers of the parameter's shape, created on first use") {
    Parameter w("w", Tensor({2, 3}, {1, 2, 3, 4, 5, 6})), v("v", Tensor({4}, {1, -1, 2, -2}));
    const Tensor g({2, 3}, {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -0.25f});

    SGD sgd({&w, &v}, 0.1f, 0.9f);
    REQUIRE(sgd.state_buffers().size() == 1);
    CHECK(sgd.state_buffers()[0].name == "momentum");
    CHECK(sgd.state_buffers()[0].transform == BasisTransform::linear);
    w.grad.copy_from(g);
    sgd.step();
    ParameterState& s = sgd.state(w);
    REQUIRE(s.buffers.size() == 1);
    CHECK(s.buffers[0].shape() == Shape{2, 3});
    CHECK(sgd.state(v).buffers[0].shape() == Shape{4});
    CHECK(s.steps == 1);
    CHECK(s.buffers[0].to_vector() == g.to_vector());  // the first step's momentum is the gradient itself
    sgd.step();
    CHECK(s.steps == 2);
    CHECK(s.buffers[0][0] == doctest::Approx(1.9 * 0.5));

    Adam adam({&w, &v}, 1e-3f);
    REQUIRE(adam.state_buffers().size() == 2);
    CHECK(adam.state_buffers()[0].name == "exp_avg");
    CHECK(adam.state_buffers()[0].transform == BasisTransform::linear);
    CHECK(adam.state_buffers()[1].name == "exp_avg_sq");
    CHECK(adam.state_buffers()[1].transform == BasisTransform::second_moment);
    w.grad.copy_from(g);
    adam.step();
    ParameterState& m = adam.state(w);
    REQUIRE(m.buffers.size() == 2);
    CHECK(m.steps == 1);
    for (int64_t i = 0; i < 6; ++i) {
        CHECK(m.buffers[0].shape() == Shape{2, 3});
        CHECK(m.buffers[0][i] == doctest::Approx(0.1 * g[i]));
        CHECK(m.buffers[1][i] == doctest::Approx(0.001 * g[i] * g[i]));
    }
    CHECK(adam.describe() == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)");
    CHECK(AdamW({&w}).describe() == "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)");
    CHECK(AdamW({&w}).decoupled);
    CHECK(contains(SGD({&w}, 0.1f, 0.9f, 0.0f, true).describe(), "nesterov=true"));

    // A parameter added later starts with empty (zero) state; one that changed shape (a
    // low-rank layer after truncation) gets fresh zero buffers of its new shape.
    Parameter late("late", Tensor({3}, {1, 2, 3}));
    adam.add_parameter(&late);
    CHECK(adam.parameters().size() == 3);
    CHECK(adam.state(late).steps == 0);
    CHECK(max_abs(adam.state(late).buffers[1]) == 0.0f);
    w.value = Tensor({2, 2});
    w.grad = Tensor({2, 2});
    CHECK(adam.state(w).buffers[0].shape() == Shape{2, 2});
    CHECK(adam.state(w).steps == 0);

    // zero_grad clears exactly the optimised parameters' gradients.
    v.grad.fill(3.0f);
    adam.zero_grad();
    CHECK(max_abs(v.grad) == 0.0f);
}

TEST_CASE("every optimiser finds the known minimum of a quadratic") {
    // ½ Σ aᵢ (wᵢ − cᵢ)² has its minimum at c; with L2 weight decay λ (SGD, Adam) at
    // a c / (a + λ). Adam and AdamW run under a cosine schedule to 0 so that they settle.
    // AdamW's decoupled decay is not the gradient of a penalty: its fixed point lies a little
    // towards 0 from c, where the gradient balances λ w against Adam's √v̂, which remembers
    // the large early gradients; so it is held to 1e-2 and must end nearer 0 than Adam does.
    const Quadratic q;
    struct Setup {
        std::string name;
        std::function<std::unique_ptr<Optimizer>(Parameter&)> make;
        int steps;
        float decay;  // L2 weight decay, which moves the minimum
        bool schedule;
        float tolerance = 2e-3f;
    };
    const std::vector<Setup> setups = {
        {"SGD", [](Parameter& p) { return std::make_unique<SGD>(std::vector<Parameter*>{&p}, 0.1f); }, 300, 0, false},
        {"SGD momentum", [](Parameter& p) { return std::make_unique<SGD>(std::vector<Parameter*>{&p}, 0.05f, 0.9f); }, 400, 0,
         false},
        {"SGD Nesterov",
         [](Parameter& p) { return std::make_unique<SGD>(std::vector<Parameter*>{&p}, 0.05f, 0.9f, 0.0f, true); }, 400, 0,
         false},
        {"SGD weight decay",
         [](Parameter& p) { return std::make_unique<SGD>(std::vector<Parameter*>{&p}, 0.05f, 0.9f, 0.5f); }, 400, 0.5f,
         false},
        {"Adam", [](Parameter& p) { return std::make_unique<Adam>(std::vector<Parameter*>{&p}, 0.1f); }, 1000, 0, true},
        {"Adam L2", [](Parameter& p) {
             return std::make_unique<Adam>(std::vector<Parameter*>{&p}, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f);
         }, 1000, 0.5f, true},
        {"AdamW", [](Parameter& p) { return std::make_unique<Adam>(AdamW({&p}, 0.1f)); }, 1000, 0, true, 1e-2f},
    };
    std::map<std::string, Tensor> found;
    for (const Setup& setup : setups) {
        CAPTURE(setup.name);
        Parameter w("w", Tensor::zeros({5}));
        auto optimizer = setup.make(w);
        const CosineSchedule schedule(0.1f, setup.steps);
        float first = 0.0f;
        for (int t = 0; t < setup.steps; ++t) {
            const float value = q.gradient(w);
            if (t == 0) first = value;
            if (setup.schedule) optimizer->set_lr(schedule.lr_at(t));
            optimizer->step();
        }
        CHECK(q.gradient(w) < first);
        for (int64_t i = 0; i < 5; ++i) {
            const float minimum = q.a[i] * q.c[i] / (q.a[i] + setup.decay);
            CHECK_MESSAGE(std::fabs(w.value[i] - minimum) <= setup.tolerance,
                          setup.name << ": w[" << i << "] = " << w.value[i] << ", the minimum is at " << minimum);
        }
        found[setup.name] = w.value;
    }
    for (int64_t i = 0; i < 5; ++i) CHECK(std::fabs(found["AdamW"][i]) < std::fabs(found["Adam"][i]));
}

TEST_CASE("the cosine schedule starts at the base rate, passes the midpoint and ends at the minimum") {
    const CosineSchedule schedule(0.1f, 100, 0.001f);
    CHECK(schedule.lr_at(0) == 0.1f);
    CHECK(schedule.lr_at(50) == doctest::Approx(0.0505).epsilon(1e-6));
    CHECK(schedule.lr_at(100) == 0.001f);
    CHECK(schedule.lr_at(1000) == 0.001f);  // after T it stays at the minimum (PyTorch's would rise again)
    for (int64_t t = 1; t <= 100; ++t) CHECK(schedule.lr_at(t) <= schedule.lr_at(t - 1));
    CHECK(CosineSchedule(0.5f, 1).lr_at(0) == 0.5f);
    CHECK(CosineSchedule(0.5f, 1).lr_at(1) == 0.0f);
    CHECK(contains(error_message([] { CosineSchedule(0.1f, 0); }), "at least one step"));

    Parameter p("p", Tensor({1}));
    CHECK(contains(error_message([&] { SGD({&p}, -0.1f); }), "learning rate"));
    CHECK(contains(error_message([&] { Adam({&p}, std::numeric_limits<float>::quiet_NaN()); }), "learning rate"));
}

TEST_CASE("clip_grad_norm leaves small gradients alone and scales large ones to the limit") {
    Parameter a("a", Tensor({2})), b("b", Tensor({1}));
    a.grad.copy_from(Tensor({2}, {3.0f, 0.0f}));
    b.grad.copy_from(Tensor({1}, {4.0f}));
    CHECK(clip_grad_norm({&a, &b}, 10.0f) == 5.0f);  // the joint norm, √(3² + 4²)
    CHECK(a.grad.to_vector() == std::vector<float>{3.0f, 0.0f});
    CHECK(clip_grad_norm({&a, &b}, 1.0f) == 5.0f);  // the norm before clipping
    CHECK(std::sqrt(a.grad[0] * a.grad[0] + b.grad[0] * b.grad[0]) == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(a.grad[0] / b.grad[0] == doctest::Approx(0.75));  // the direction is kept
}

// ---- The training step and loop ----------------------------------------------------------------

TEST_CASE("the optimiser step applies the schedule per batch and clips before the update") {
    const Dataset& data = mnist_train();
    const Dataset few = slice(data, 0, 64);
    Rng rng(3);
    auto model = mlp(rng);
    SGD sgd(model->parameters(), 1.0f, 0.9f);
    const CosineSchedule schedule(0.05f, 4, 0.005f);
    OptimizerStepper stepper(*model, sgd, &schedule, {1e-3f});
    CHECK(contains(stepper.describe(), "cosine"));
    CHECK(contains(stepper.describe(), "clipped"));
    Batches batches(few, 16, 1);
    int64_t t = 0;
    while (const Batch* batch = batches.next()) {
        const StepResult r = stepper.step(batch->images, batch->labels);
        CHECK(std::isfinite(r.loss));
        CHECK(r.correct >= 0);
        CHECK(r.correct <= 16);
        CHECK(sgd.lr() == schedule.lr_at(t));
        double squares = 0.0;  // the gradients the update used, after clipping
        for (const Parameter* p : sgd.parameters()) squares += double(norm(p->grad)) * norm(p->grad);
        CHECK(std::sqrt(squares) <= 1e-3 * (1 + 1e-4));
        ++t;
    }
    CHECK(t == 4);
}

TEST_CASE("count_correct and evaluate count argmax hits, without changing the model's mode") {
    const Tensor logits({3, 4}, {0, 5, 1, 2, 9, 1, 1, 1, 0, 0, 0, 1});
    CHECK(count_correct(logits, {1, 0, 3}) == 3);
    CHECK(count_correct(logits, {1, 2, 0}) == 1);

    const Dataset few = slice(mnist_train(), 0, 100);
    Rng rng(9);
    auto model = lenet5(rng);
    Tape tape;
    int64_t correct = 0;
    {
        NoGrad no_grad(tape);
        correct = count_correct(model->forward(tape.input(few.images)).value(), few.labels);
    }
    CHECK(model->training());
    CHECK(evaluate(*model, few, 32) == doctest::Approx(double(correct) / 100.0));
    CHECK(model->training());  // restored
    model->eval();
    CHECK(evaluate(*model, few) == doctest::Approx(double(correct) / 100.0));
    CHECK_FALSE(model->training());
}

TEST_CASE("the training loop stops on a NaN loss, naming the epoch and batch, and rejects bad options") {
    // A stepper whose third batch goes wrong.
    struct Failing : Stepper {
        int calls = 0;
        StepResult step(const Tensor&, const std::vector<int64_t>&) override {
            ++calls;
            return {calls == 3 ? std::numeric_limits<float>::quiet_NaN() : 1.0f, 0};
        }
        std::string describe() const override { return "failing"; }
    } failing;
    const Dataset few = slice(mnist_train(), 0, 100);
    Rng rng(1);
    auto model = mlp(rng);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 10;
    options.progress = 0;
    int epochs_done = 0;
    const std::string message =
        error_message([&] { train(*model, failing, few, few, options, [&](const EpochRecord&) { ++epochs_done; }); });
    CHECK(contains(message, "NaN"));
    CHECK(contains(message, "epoch 1, batch 3"));
    CHECK(epochs_done == 0);
    CHECK(failing.calls == 3);

    options.epochs = 0;
    CHECK(contains(error_message([&] { train(*model, failing, few, few, options); }), "epochs >= 1"));
}

TEST_CASE("training is deterministic: the same seed gives bit-identical losses and weights, another seed others") {
    // 20 batches of 32 MNIST images through the mlp with Adam, on one BLAS thread (tests/main.cpp).
    const Run first = short_training(1, 20), again = short_training(1, 20), other = short_training(2, 20);
    REQUIRE(first.losses.size() == 20);
    CHECK(first.losses == again.losses);
    CHECK(first.weights == again.weights);
    CHECK(first.losses != other.losses);
    CHECK(first.weights != other.weights);
    // And it learns: the last five batches' mean loss is well below the first batch's (≈ ln 10).
    float last = 0.0f;
    for (size_t i = 15; i < 20; ++i) last += first.losses[i] / 5.0f;
    CHECK(first.losses[0] > 2.0f);
    CHECK(last < 0.8f * first.losses[0]);
}

TEST_CASE("optimisers are named at the edges and typed inside") {
    for (const OptimizerKind kind : optimizer_kinds()) CHECK(parse_optimizer(optimizer_name(kind)) == kind);
    CHECK(optimizer_name(OptimizerKind::adamw) == "adamw");
    CHECK_THROWS_WITH_AS(parse_optimizer("rmsprop"), doctest::Contains("expected optimizer adam, adamw or sgd, found 'rmsprop'"),
                         Error);
}

}  // TEST_SUITE
