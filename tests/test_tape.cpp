// The tape: closed-form gradients, accumulation, no-grad scopes, printing, clearing.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "tinyrank/error.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/tape.hpp"

using namespace tinyrank;

TEST_SUITE("ch02_autodiff") {
TEST_CASE("f(x, y) = Σ tanh(x ⊙ y) + x has the closed-form gradient") {
    // ∂f/∂x_i = y_i (1 − tanh²(x_i y_i)) + 1,  ∂f/∂y_i = x_i (1 − tanh²(x_i y_i)).
    const Tensor xv({3}, {0.5f, -1.0f, 2.0f});
    const Tensor yv({3}, {1.5f, 0.25f, -0.5f});
    Tape tape;
    const Var x = tape.input(xv, true, "x");
    const Var y = tape.input(yv, true, "y");
    const Var f = sum(add(tanh(mul(x, y)), x));
    tape.backward(f);
    double expected_f = 0;
    for (int64_t i = 0; i < 3; ++i) {
        const double t = std::tanh(double(xv[i]) * yv[i]);
        expected_f += t + xv[i];
        CHECK(x.grad()[i] == doctest::Approx(yv[i] * (1 - t * t) + 1).epsilon(1e-6));
        CHECK(y.grad()[i] == doctest::Approx(xv[i] * (1 - t * t)).epsilon(1e-6));
    }
    CHECK(f.value().item() == doctest::Approx(expected_f).epsilon(1e-6));
}

TEST_CASE("a value used twice accumulates both contributions") {
    // g(x) = Σ x ⊙ x  ⇒  ∂g/∂x = 2x, the sum of the two paths through mul.
    Tape tape;
    const Var x = tape.input(Tensor({2}, {3, -4}), true);
    tape.backward(sum(mul(x, x)));
    CHECK(x.grad().to_vector() == std::vector<float>{6, -8});
}

TEST_CASE("parameters accumulate into their own grad tensor across steps") {
    Parameter w("w", Tensor({2}, {1, 2}));
    for (int step = 0; step < 2; ++step) {
        Tape tape;
        tape.backward(sum(scale(tape.param(w), 3.0f)));
    }
    CHECK(w.grad.to_vector() == std::vector<float>{6, 6});  // 3 + 3: zeroing is the optimiser's job
}

TEST_CASE("frozen parameters give the same input gradient and leave their grad alone") {
    Parameter w("w", Tensor({2, 2}, {0.5f, -1.0f, 2.0f, 0.25f}));
    const Tensor x0({1, 2}, {1.0f, -2.0f});
    Tensor reference;
    for (const bool frozen : {false, true}) {
        w.grad = Tensor::zeros({2, 2});
        Tape tape;
        if (frozen) tape.freeze_parameters();
        const Var x = tape.input(x0, true);
        tape.backward(sum(tanh(matmul(x, tape.param(w)))));
        if (!frozen) {
            reference = x.grad().clone();
            CHECK(w.grad[0] != 0.0f);
        } else {
            for (int64_t i = 0; i < 2; ++i) CHECK(x.grad()[i] == reference[i]);
            for (int64_t i = 0; i < 4; ++i) CHECK(w.grad[i] == 0.0f);
        }
    }
}

TEST_CASE("NoGrad computes values but records nothing") {
    Tape tape;
    Parameter w("w", Tensor({2}, {1, 2}));
    const Var x = tape.input(Tensor({2}, {1, 1}), true);
    const size_t before = tape.size();
    {
        NoGrad no_grad(tape);
        const Var y = relu(mul(tape.param(w), x));
        CHECK(y.value().to_vector() == std::vector<float>{1, 2});
        CHECK(y.index() == -1);
        CHECK_FALSE(y.requires_grad());
        CHECK_THROWS_AS(tape.backward(sum(y)), Error);
    }
    CHECK(tape.size() == before);
    CHECK(tape.recording());
}

TEST_CASE("constants get no gradient and cost no backward work") {
    Tape tape;
    const Var c = tape.input(Tensor({2}, {1, 2}));  // requires_grad = false
    const Var x = tape.input(Tensor({2}, {3, 4}), true);
    const Var y = sum(mul(c, x));
    CHECK_FALSE(c.requires_grad());
    CHECK_FALSE(tape.node(static_cast<size_t>(mul(c, c).index())).requires_grad);
    tape.backward(y);
    CHECK(x.grad().to_vector() == std::vector<float>{1, 2});
    CHECK_THROWS_AS(c.grad(), Error);
}

TEST_CASE("backward twice on the same tape gives the same intermediate gradients") {
    Tape tape;
    const Var x = tape.input(Tensor({2}, {1, 2}), true);
    const Var h = scale(x, 2.0f);
    const Var loss = sum(mul(h, h));
    tape.backward(loss);
    const std::vector<float> first = h.grad().to_vector();
    tape.backward(loss);
    CHECK(h.grad().to_vector() == first);  // intermediates restart from zero
    CHECK(x.grad()[0] == 2 * 2 * first[0]);  // the leaf accumulated both sweeps
}

TEST_CASE("backward refuses a non-scalar loss and a mismatched seed") {
    Tape tape;
    const Var x = tape.input(Tensor({2}, {1, 2}), true);
    const Var y = scale(x, 2.0f);
    CHECK_THROWS_AS(tape.backward(y), Error);
    CHECK_THROWS_AS(tape.backward(y, Tensor({3})), Error);
    tape.backward(y, Tensor({2}, {1, 10}));
    CHECK(x.grad().to_vector() == std::vector<float>{2, 20});
}

TEST_CASE("print shows the Wengert list in creation order") {
    Tape tape;
    Parameter w("fc.weight", Tensor({4, 3}));
    const Var x = tape.input(Tensor({2, 3}), false, "x");
    sum(relu(linear(x, tape.param(w))));
    std::ostringstream out;
    tape.print(out);
    const std::string text = out.str();
    CHECK(tape.size() == 5);
    const size_t p_input = text.find("input"), p_param = text.find("fc.weight"), p_linear = text.find("linear"),
                 p_relu = text.find("relu"), p_sum = text.find("sum");
    REQUIRE(p_sum != std::string::npos);
    CHECK(p_input < p_param);
    CHECK(p_param < p_linear);
    CHECK(p_linear < p_relu);
    CHECK(p_relu < p_sum);
    CHECK(text.find("%0 %1") != std::string::npos);  // linear's inputs
    CHECK(text.find("[2, 4]") != std::string::npos);
}

TEST_CASE("clear forgets the nodes and keeps the list's capacity") {
    Tape tape;
    const Var x = tape.input(Tensor({2}), true);
    for (int i = 0; i < 10; ++i) scale(x, 2.0f);
    CHECK(tape.size() == 11);
    tape.clear();
    CHECK(tape.size() == 0);
    const Var again = tape.input(Tensor({2}), true);
    CHECK(again.index() == 0);
    CHECK_THROWS_AS(x.grad(), Error);
}
}
