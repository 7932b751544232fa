// The DLRT training step: augmentation and truncation keep W, bases stay orthonormal,
// the optimiser state follows the core (book chapter 7; book/method.md §2).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "test_support.hpp"
#include "tinyrank/dlrt.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/linalg.hpp"
#include "tinyrank/lowrank.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/recipe.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;

namespace {

// A small two-layer low-rank network on 12-dimensional inputs with 4 classes.
struct Toy {
    Sequential model;
    LowRankLinear* fc1;
    LowRankLinear* fc2;
    Tensor x;
    std::vector<int64_t> labels;

    explicit Toy(uint64_t seed) {
        Rng rng(seed);
        fc1 = &model.add("fc1", std::make_unique<LowRankLinear>(12, 10, rng, RankOptions{2, 5, 1}));
        model.add("relu", std::make_unique<ReLU>());
        fc2 = &model.add("fc2", std::make_unique<LowRankLinear>(10, 4, rng, RankOptions{1, 2, 1}));
        x = Tensor::normal({16, 12}, rng);
        for (int64_t i = 0; i < 16; ++i) labels.push_back(i % 4);
    }
};

// The fixed-rank stepper's optimiser of K and L: plain SGD, so that K₁ = K − lr ∇_K exactly.
OptimizerFactory plain_sgd(float lr) {
    return [lr](std::vector<Parameter*> p) { return std::make_unique<SGD>(std::move(p), lr); };
}

// ∇_W L of the toy network's fc1 and fc2 from the same network with dense layers.
std::pair<Tensor, Tensor> dense_weight_gradients(Toy& toy) {
    Rng rng(0);
    Sequential dense;
    Linear& fc1 = dense.add("fc1", std::make_unique<Linear>(12, 10, rng));
    dense.add("relu", std::make_unique<ReLU>());
    Linear& fc2 = dense.add("fc2", std::make_unique<Linear>(10, 4, rng));
    fc1.weight.value.copy_from(toy.fc1->weight_matrix());
    fc1.bias.value.copy_from(toy.fc1->bias.value);
    fc2.weight.value.copy_from(toy.fc2->weight_matrix());
    fc2.bias.value.copy_from(toy.fc2->bias.value);
    Tape tape;
    dense.zero_grad();
    tape.backward(cross_entropy(dense.forward(tape.input(toy.x)), toy.labels));
    return {fc1.weight.grad.clone(), fc2.weight.grad.clone()};
}

// A Q Aᵀ M B Bᵀ: M's part in the column spaces of A (rows) and B (columns), for orthonormal A, B.
Tensor project(const Tensor& a, const Tensor& m, const Tensor& b) {
    return matmul(matmul(matmul(a, matmul(a, m, true, false)), b), b, false, true);
}

}  // namespace

TEST_SUITE("ch07_training_low_rank") {
TEST_CASE("galerkin_parameters leaves out the bases, and the stepper refuses an optimiser over them") {
    Toy toy(1);
    const std::vector<Parameter*> trained = galerkin_parameters(toy.model);
    CHECK(trained.size() == 4);  // fc1.S, fc1.bias, fc2.S, fc2.bias
    for (const Parameter* p : trained) CHECK((p->name.find(".U") == std::string::npos && p->name.find(".V") == std::string::npos));
    Adam wrong(toy.model.parameters(), 1e-3f);
    CHECK_THROWS_AS(DlrtStepper(toy.model, wrong, nullptr, {}), Error);
}

TEST_CASE("the first batch of a cycle augments: the rank doubles, up to the full rank") {
    Toy toy(2);
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtStepper stepper(toy.model, adam, nullptr, {0.0f, 3});
    const Tensor logits = output_of(toy.model, toy.x);
    stepper.step(toy.x, toy.labels);
    CHECK(toy.fc1->rank() == 4);
    CHECK(toy.fc2->rank() == 2);
    CHECK(max_abs(output_of(toy.model, toy.x) - logits) < 1e-5f);  // nothing was trained on that batch
}

TEST_CASE("a layer at rank_max still augments, so its bases move, and truncation returns it to rank_max") {
    Rng rng(9);
    Sequential model;
    auto& fc = model.add("fc", std::make_unique<LowRankLinear>(12, 4, rng, RankOptions{2, 2, 1}));
    const Tensor x = Tensor::normal({16, 12}, rng);
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < 16; ++i) labels.push_back(i % 4);
    Adam adam(galerkin_parameters(model), 1e-1f);
    DlrtStepper stepper(model, adam, nullptr, {0.0f, 3});
    const Tensor U0 = fc.U.value.clone();
    stepper.step(x, labels);
    CHECK(fc.rank() == 4);  // 2r, beyond rank_max for the length of the cycle
    for (int i = 0; i < 3; ++i) stepper.step(x, labels);
    CHECK(fc.rank() == 2);
    // The span of U has turned: some of U0 now lies outside it.
    const Tensor overlap = matmul(fc.U.value, U0, true, false);  // UᵀU0, singular values = cosines
    CHECK(singular_values(overlap)[1] < 0.999f);
}

TEST_CASE("augment keeps W exactly and pads the optimiser state with zeros") {
    Toy toy(3);
    SGD sgd(galerkin_parameters(toy.model), 0.1f, 0.9f);
    DlrtStepper stepper(toy.model, sgd, nullptr, {0.0f, 2});
    stepper.step(toy.x, toy.labels);                    // augment
    stepper.step(toy.x, toy.labels);                    // Galerkin: momentum now non-zero
    stepper.step(toy.x, toy.labels);                    // Galerkin, then truncate (tau 0)
    const int64_t r = toy.fc1->rank();
    const Tensor w = toy.fc1->weight_matrix();
    const Tensor momentum = sgd.state(toy.fc1->S).buffers[0].clone();
    const Tensor logits = output_of(toy.model, toy.x);
    // Fill G_U, G_V by hand and augment directly.
    Rng rng(4);
    toy.fc1->U.grad = Tensor::normal(toy.fc1->U.value.shape(), rng);
    toy.fc1->V.grad = Tensor::normal(toy.fc1->V.value.shape(), rng);
    toy.fc2->U.grad = Tensor::normal(toy.fc2->U.value.shape(), rng);
    toy.fc2->V.grad = Tensor::normal(toy.fc2->V.value.shape(), rng);
    stepper.augment();
    const int64_t k = toy.fc1->rank();
    CHECK(k == std::min<int64_t>(2 * r, 10));  // 2r, at most min(n_out, n_in)
    CHECK(max_abs(toy.fc1->weight_matrix() - w) < 1e-5f);
    CHECK(max_abs(output_of(toy.model, toy.x) - logits) < 1e-5f);
    const Tensor padded = sgd.state(toy.fc1->S).buffers[0];
    REQUIRE(padded.shape() == Shape{k, k});
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
            CHECK(padded[i * k + j] == (i < r && j < r ? momentum[i * r + j] : 0.0f));
    CHECK(orthonormality_error(toy.fc1->U.value) < 1e-5f);
    CHECK(orthonormality_error(toy.fc1->V.value) < 1e-5f);
}

TEST_CASE("truncation with tau = 0 loses nothing and rotates the state like the dense computation") {
    Toy toy(5);
    SGD sgd(galerkin_parameters(toy.model), 0.1f, 0.9f);
    DlrtStepper stepper(toy.model, sgd, nullptr, {0.0f, 100});
    stepper.step(toy.x, toy.labels);  // augment
    for (int i = 0; i < 3; ++i) stepper.step(toy.x, toy.labels);  // Galerkin steps: S is full now
    const Tensor w = toy.fc1->weight_matrix();
    const Tensor U_hat = toy.fc1->U.value.clone(), V_hat = toy.fc1->V.value.clone();
    const Tensor momentum = sgd.state(toy.fc1->S).buffers[0].clone();
    // The momentum as a dense matrix in W's space: Û M V̂ᵀ. Rotating M with the SVD of S
    // must keep Û M V̂ᵀ = U₁ M₁ V₁ᵀ when nothing is cut.
    const Tensor momentum_dense = matmul(matmul(U_hat, momentum), V_hat, false, true);
    stepper.truncate();
    CHECK(max_abs(toy.fc1->weight_matrix() - w) < 1e-5f);
    const Tensor m1 = sgd.state(toy.fc1->S).buffers[0];
    const Tensor rotated_dense = matmul(matmul(toy.fc1->U.value, m1), toy.fc1->V.value, false, true);
    CHECK(max_abs(rotated_dense - momentum_dense) < 1e-5f);
    // S is diagonal with descending singular values after truncation.
    const Tensor& S = toy.fc1->S.value;
    const int64_t r = toy.fc1->rank();
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j)
            if (i != j) CHECK(S[i * r + j] == 0.0f);
    for (int64_t i = 1; i < r; ++i) CHECK(S[i * r + i] <= S[(i - 1) * r + i - 1]);
}

TEST_CASE("Adam's second moment is rotated through its square root and stays non-negative") {
    Toy toy(6);
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtStepper stepper(toy.model, adam, nullptr, {0.05f, 4});
    for (int i = 0; i < 23; ++i) stepper.step(toy.x, toy.labels);  // several full cycles
    const ParameterState& state = adam.state(toy.fc1->S);
    REQUIRE(state.buffers.size() == 2);
    CHECK(state.buffers[1].shape() == toy.fc1->S.value.shape());
    for (int64_t i = 0; i < state.buffers[1].numel(); ++i) CHECK(state.buffers[1][i] >= 0.0f);
    CHECK(state.steps > 0);
}

TEST_CASE("after every cycle the bases are orthonormal and the ranks stay within bounds") {
    Toy toy(7);
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtStepper stepper(toy.model, adam, nullptr, {0.1f, 3});
    float first_loss = 0.0f, last_loss = 0.0f;
    for (int cycle = 0; cycle < 20; ++cycle) {
        for (int i = 0; i < 4; ++i) {
            const float loss = stepper.step(toy.x, toy.labels).loss;
            if (cycle == 0 && i == 0) first_loss = loss;
            last_loss = loss;
        }
        for (LowRankFactors* layer : lowrank_layers(toy.model)) {
            CHECK(orthonormality_error(layer->U.value) < 1e-5f);
            CHECK(orthonormality_error(layer->V.value) < 1e-5f);
            CHECK(layer->rank() >= layer->rank_min());
            CHECK(layer->rank() <= layer->rank_max());
        }
    }
    CHECK(last_loss < first_loss);  // it learns the toy problem
}

TEST_CASE("fine-tuning closes the cycle and then trains S with frozen bases") {
    Toy toy(8);
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtStepper stepper(toy.model, adam, nullptr, {0.1f, 3});
    stepper.step(toy.x, toy.labels);  // augmented: a cycle is open
    stepper.start_finetune();
    CHECK(stepper.finetuning());
    const Tensor u = toy.fc1->U.value.clone();
    const int64_t r = toy.fc1->rank();
    const Tensor s = toy.fc1->S.value.clone();
    for (int i = 0; i < 8; ++i) stepper.step(toy.x, toy.labels);
    CHECK(toy.fc1->rank() == r);
    CHECK(max_abs(toy.fc1->U.value - u) == 0.0f);
    CHECK(max_abs(toy.fc1->S.value - s) > 0.0f);
}

TEST_CASE("an epoch ends with a truncated model") {
    Toy toy(9);
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtStepper stepper(toy.model, adam, nullptr, {0.1f, 10});
    stepper.step(toy.x, toy.labels);  // augmented to 4
    stepper.step(toy.x, toy.labels);
    stepper.end_epoch(0);
    const Tensor& S = toy.fc1->S.value;
    const int64_t r = toy.fc1->rank();
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j)
            if (i != j) CHECK(S[i * r + j] == 0.0f);
}

TEST_CASE("fixed rank: K and L step along grad_W L V and grad_W L^T U, and U, V become orth(K), orth(L)") {
    Toy toy(10);
    const float lr = 0.05f;
    Adam adam(galerkin_parameters(toy.model), 1e-2f);
    DlrtOptions options;
    options.integrator = DlrtIntegrator::fixed_rank;
    DlrtStepper stepper(toy.model, adam, nullptr, options, plain_sgd(lr));
    const auto [grad_w1, grad_w2] = dense_weight_gradients(toy);
    (void)grad_w2;
    const LowRankFactors& f = *toy.fc1;
    const Tensor K1 = matmul(f.U.value, f.S.value) - matmul(grad_w1, f.V.value) * lr;
    const Tensor L1 = matmul(f.V.value, f.S.value, false, true) - matmul(grad_w1, f.U.value, true, false) * lr;
    stepper.step(toy.x, toy.labels);
    CHECK(toy.fc1->rank() == 2);
    CHECK(max_abs(toy.fc1->U.value - reorthonormalize(K1)) < 1e-5f);
    CHECK(max_abs(toy.fc1->V.value - reorthonormalize(L1)) < 1e-5f);
}

TEST_CASE("fixed rank: S and its optimiser state are W and the state projected on the new bases") {
    Toy toy(11);
    SGD sgd(galerkin_parameters(toy.model), 0.1f, 0.9f);
    DlrtOptions options;
    options.integrator = DlrtIntegrator::fixed_rank;
    DlrtStepper stepper(toy.model, sgd, nullptr, options, plain_sgd(0.1f));
    for (int i = 0; i < 3; ++i) stepper.step(toy.x, toy.labels);  // the momentum of S is not zero now
    LowRankFactors& f = *toy.fc1;
    Rng rng(3);
    f.U.grad.copy_from(Tensor::normal(f.U.value.shape(), rng));  // any G_U, G_V will do
    f.V.grad.copy_from(Tensor::normal(f.V.value.shape(), rng));
    toy.fc2->U.grad.zero();
    toy.fc2->V.grad.zero();
    const Tensor w = f.weight_matrix();
    const Tensor momentum_dense = matmul(matmul(f.U.value, sgd.state(f.S).buffers[0]), f.V.value, false, true);
    stepper.update_bases();
    CHECK(max_abs(f.weight_matrix() - project(f.U.value, w, f.V.value)) < 1e-5f);
    const Tensor m1 = sgd.state(f.S).buffers[0];
    CHECK(max_abs(matmul(matmul(f.U.value, m1), f.V.value, false, true) - project(f.U.value, momentum_dense, f.V.value)) <
          1e-5f);
    CHECK(orthonormality_error(f.U.value) < 1e-5f);
    CHECK(orthonormality_error(f.V.value) < 1e-5f);
}

TEST_CASE("fixed rank: the ranks never change, the bases stay orthonormal, and it learns") {
    Toy toy(12);
    Adam adam(galerkin_parameters(toy.model), 5e-2f);
    DlrtOptions options;
    options.integrator = DlrtIntegrator::fixed_rank;
    CHECK_THROWS_AS(DlrtStepper(toy.model, adam, nullptr, options), Error);  // K and L need an optimiser
    DlrtStepper stepper(toy.model, adam, nullptr, options,
                        [](std::vector<Parameter*> p) { return std::make_unique<Adam>(std::move(p), 5e-2f); });
    const float first_loss = stepper.step(toy.x, toy.labels).loss;
    float last_loss = first_loss;
    for (int i = 0; i < 100; ++i) {
        last_loss = stepper.step(toy.x, toy.labels).loss;
        CHECK(toy.fc1->rank() == 2);
        CHECK(toy.fc2->rank() == 1);
        CHECK(orthonormality_error(toy.fc1->U.value) < 1e-5f);
        CHECK(orthonormality_error(toy.fc1->V.value) < 1e-5f);
    }
    CHECK(last_loss < 0.7f * first_loss);
    stepper.end_epoch(0);  // nothing to truncate: the rank and S stay
    CHECK(toy.fc1->rank() == 2);
}

TEST_CASE("an exception inside a step leaves every layer's bases frozen as they were") {
    for (const DlrtIntegrator integrator : dlrt_integrators()) {
        CAPTURE(dlrt_integrator_name(integrator));
        Toy toy(5);
        SGD sgd(galerkin_parameters(toy.model), 0.1f);
        DlrtOptions options;
        options.integrator = integrator;
        DlrtStepper stepper(toy.model, sgd, nullptr, options, plain_sgd(0.1f));
        stepper.step(toy.x, toy.labels);  // augmented: the basis batch; the next batch is a Galerkin batch
        const std::vector<int64_t> bad_labels(16, 7);  // class 7 of 4: the loss throws
        for (const bool frozen : {false, true}) {
            toy.fc1->bases_frozen = toy.fc2->bases_frozen = frozen;
            CHECK_THROWS_AS(stepper.step(toy.x, bad_labels), Error);
            CHECK(toy.fc1->bases_frozen == frozen);
            CHECK(toy.fc2->bases_frozen == frozen);
        }
        toy.fc1->bases_frozen = false;
        {
            const BasesFrozen scope(lowrank_layers(toy.model), true);
            CHECK(toy.fc1->bases_frozen);
            CHECK(toy.fc2->bases_frozen);
        }
        CHECK(!toy.fc1->bases_frozen);  // each layer gets its own setting back
        CHECK(toy.fc2->bases_frozen);
    }
}

TEST_CASE("the integrator is named in a recipe: mlp defaults to fixed rank, lenet5 to augmented") {
    CHECK(parse_dlrt_integrator("augmented") == DlrtIntegrator::augmented);
    CHECK(parse_dlrt_integrator("fixed-rank") == DlrtIntegrator::fixed_rank);
    CHECK_THROWS_WITH_AS(parse_dlrt_integrator("kls"), doctest::Contains("found 'kls'"), Error);
    for (const DlrtIntegrator integrator : dlrt_integrators())
        CHECK(parse_dlrt_integrator(dlrt_integrator_name(integrator)) == integrator);
    CHECK(default_integrator("mlp") == DlrtIntegrator::fixed_rank);
    CHECK(default_integrator("lenet5") == DlrtIntegrator::augmented);
    Recipe recipe;
    recipe.architecture = "mlp";
    recipe.lowrank = true;
    recipe.train.epochs = 1;
    CHECK(contains(prepare_training(recipe, 10).stepper->describe(), "fixed rank"));
    recipe.integrator = DlrtIntegrator::augmented;
    CHECK(contains(prepare_training(recipe, 10).stepper->describe(), "tau=0.1"));
    recipe.optimizer = OptimizerKind::sgd;
    CHECK(contains(prepare_training(recipe, 10).stepper->describe(), "SGD(lr=0.003"));
}
}
