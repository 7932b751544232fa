// Every differentiable op, proved twice: against finite differences and against PyTorch.
//
// One catalogue (below) lists the ops: for each, the names of its inputs, a lambda that
// applies it with the attributes of a case (stride, padding, labels, …), and random
// examples for the finite-difference check. The same catalogue drives
//   (a) gradcheck() on random inputs with odd shapes, and
//   (b) the comparison with tests/golden/ops.golden, which tests/golden/make_golden.py
//       wrote with PyTorch: the op runs on the fixture's inputs, backward is seeded with the
//       fixture's upstream gradient gy, and y and every input gradient must agree; a second
//       backward sweep must double the gradients (backward rules add, never overwrite).
// A new op goes into the catalogue, and a test below fails until it also has a fixture.
// Set TINYRANK_GOLDEN_REPORT=1 to print the largest difference per op against PyTorch.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "golden_fixtures.hpp"
#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/gradcheck.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;
using golden::Case;

namespace {

// ---- Random inputs -----------------------------------------------------------------------

// An extent uniform in [lo, hi].
int64_t extent(Rng& rng, int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng.below(uint32_t(hi - lo + 1))); }

// Standard normal values times `spread`.
Tensor normal(const Shape& shape, Rng& rng, float spread = 1.0f) { return Tensor::normal(shape, rng, 0.0f, spread); }

// Values with 0.1 ≤ |x| ≤ 2 and a random sign: a ±ε step never crosses the kink of relu.
Tensor away_from_zero(const Shape& shape, Rng& rng) {
    Tensor t = Tensor::uniform(shape, rng, 0.1f, 2.0f);
    for (int64_t i = 0; i < t.numel(); ++i)
        if (rng.uniform() < 0.5f) t[i] = -t[i];
    return t;
}

// A shuffled ladder of values 0.05 apart: no two elements of a pooling window are within
// 2ε of each other, so a ±ε step never changes which one is the maximum.
Tensor distinct(const Shape& shape, Rng& rng) {
    const int64_t n = shape_numel(shape);
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    rng.shuffle(order);
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < n; ++i) t[i] = 0.05f * static_cast<float>(order[static_cast<size_t>(i)] - n / 2);
    return t;
}

// A case built in C++ (the same type as a fixture case, so the same lambdas apply it).
Case make_case(const std::string& name, const std::string& op,
               const std::vector<std::pair<std::string, Tensor>>& inputs,
               const std::map<std::string, std::vector<int64_t>>& ints = {},
               const std::map<std::string, float>& floats = {}) {
    Case c;
    c.name = name;
    c.op = op;
    for (const auto& [key, value] : inputs) c.tensors[key] = value;
    c.ints = ints;
    c.floats = floats;
    return c;
}

// ---- The catalogue --------------------------------------------------------------------------

using Args = std::vector<Var>;  // an op's tensor arguments on the tape, in order

struct OpEntry {
    std::string name;                 // the op name used by the fixture cases
    std::vector<std::string> inputs;  // the op's tensor arguments, in order (fixture tensor keys)
    std::function<Var(const Args&, const Case&)> apply;
    std::function<std::vector<Case>(Rng&)> examples;  // random cases for the finite-difference check
    Tolerance vs_torch{1e-5, 1e-4};  // largest accepted |tinyrank − PyTorch|: abs + rel·|PyTorch|
};

// add/sub/mul examples: equal shapes, a row vector on either side, and both sides stretched.
std::vector<Case> broadcast_examples(const std::string& op, Rng& rng) {
    const int64_t m = extent(rng, 2, 5), n = extent(rng, 1, 6);
    return {make_case(op + " [3, 5] with [3, 5]", op, {{"a", normal({3, 5}, rng)}, {"b", normal({3, 5}, rng)}}),
            make_case(op + " [m, n] with [n]", op, {{"a", normal({m, n}, rng)}, {"b", normal({n}, rng)}}),
            make_case(op + " [7] with [3, 7]", op, {{"a", normal({7}, rng)}, {"b", normal({3, 7}, rng)}}),
            make_case(op + " [3, 1] with [1, 4]", op, {{"a", normal({3, 1}, rng)}, {"b", normal({1, 4}, rng)}})};
}

// Calls conv2d with the case's stride and padding, or with the defaults when it has neither.
Var apply_conv2d(const Args& v, const Case& c) {
    const bool defaults = !c.has_int("stride") && !c.has_int("padding");
    if (v.size() == 3)
        return defaults ? conv2d(v[0], v[1], v[2])
                        : conv2d(v[0], v[1], v[2], c.integer_or("stride", 1), c.integer_or("padding", 0));
    return defaults ? conv2d(v[0], v[1]) : conv2d(v[0], v[1], c.integer_or("stride", 1), c.integer_or("padding", 0));
}

std::vector<int64_t> random_labels(int64_t batch, int64_t classes, Rng& rng) {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < batch; ++i) labels.push_back(rng.below(uint32_t(classes)));
    return labels;
}

const std::vector<OpEntry>& catalogue() {
    using Cases = std::vector<Case>;
    static const std::vector<OpEntry> ops = {
        // ---- elementwise ----
        {"add", {"a", "b"}, [](const Args& v, const Case&) { return add(v[0], v[1]); },
         [](Rng& rng) { return broadcast_examples("add", rng); }},
        {"sub", {"a", "b"}, [](const Args& v, const Case&) { return sub(v[0], v[1]); },
         [](Rng& rng) { return broadcast_examples("sub", rng); }},
        {"mul", {"a", "b"}, [](const Args& v, const Case&) { return mul(v[0], v[1]); },
         [](Rng& rng) { return broadcast_examples("mul", rng); }},
        {"scale", {"a"}, [](const Args& v, const Case& c) { return scale(v[0], c.real("s")); },
         [](Rng& rng) {
             return Cases{make_case("scale [3, 5]", "scale", {{"a", normal({3, 5}, rng)}}, {}, {{"s", -1.75f}}),
                          make_case("scale [1, 7]", "scale", {{"a", normal({1, 7}, rng)}}, {}, {{"s", 0.5f}})};
         }},
        {"relu", {"x"}, [](const Args& v, const Case&) { return relu(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("relu [3, 7]", "relu", {{"x", away_from_zero({3, 7}, rng)}}),
                          make_case("relu [2, 3, 5]", "relu", {{"x", away_from_zero({2, 3, 5}, rng)}})};
         }},
        {"leaky_relu", {"x"},
         [](const Args& v, const Case& c) {
             return c.has_float("slope") ? leaky_relu(v[0], c.real("slope")) : leaky_relu(v[0]);
         },
         [](Rng& rng) {
             return Cases{make_case("leaky_relu [3, 5] default slope", "leaky_relu",
                                    {{"x", away_from_zero({3, 5}, rng)}}),
                          make_case("leaky_relu [4, 3] slope 0.2", "leaky_relu", {{"x", away_from_zero({4, 3}, rng)}},
                                    {}, {{"slope", 0.2f}})};
         }},
        {"tanh", {"x"}, [](const Args& v, const Case&) { return tinyrank::tanh(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("tanh [3, 5]", "tanh", {{"x", normal({3, 5}, rng, 2.0f)}}),
                          make_case("tanh [7]", "tanh", {{"x", normal({7}, rng)}})};
         }},
        {"sigmoid", {"x"}, [](const Args& v, const Case&) { return sigmoid(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("sigmoid [3, 5]", "sigmoid", {{"x", normal({3, 5}, rng, 3.0f)}}),
                          make_case("sigmoid [7]", "sigmoid", {{"x", normal({7}, rng)}})};
         }},
        // ---- shapes and reductions ----
        {"reshape", {"x"}, [](const Args& v, const Case& c) { return reshape(v[0], c.int_list("shape")); },
         [](Rng& rng) {
             return Cases{make_case("reshape [2, 3, 4] to [4, -1]", "reshape", {{"x", normal({2, 3, 4}, rng)}},
                                    {{"shape", {4, -1}}}),
                          make_case("reshape [5, 1] to [5]", "reshape", {{"x", normal({5, 1}, rng)}},
                                    {{"shape", {5}}})};
         }},
        {"flatten", {"x"}, [](const Args& v, const Case&) { return flatten(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("flatten [3, 2, 7, 5]", "flatten", {{"x", normal({3, 2, 7, 5}, rng)}}),
                          make_case("flatten [4, 3]", "flatten", {{"x", normal({4, 3}, rng)}})};
         }},
        {"sum", {"x"}, [](const Args& v, const Case&) { return sum(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("sum [3, 5]", "sum", {{"x", normal({3, 5}, rng)}}),
                          make_case("sum [2, 3, 7]", "sum", {{"x", normal({2, 3, 7}, rng)}})};
         }},
        {"mean", {"x"}, [](const Args& v, const Case&) { return mean(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("mean [3, 5]", "mean", {{"x", normal({3, 5}, rng)}}),
                          make_case("mean [1, 7]", "mean", {{"x", normal({1, 7}, rng)}})};
         }},
        // ---- matrix products ----
        {"matmul", {"a", "b"},
         [](const Args& v, const Case& c) {
             if (!c.has_int("transpose_a") && !c.has_int("transpose_b")) return matmul(v[0], v[1]);
             return matmul(v[0], v[1], c.integer_or("transpose_a", 0) != 0, c.integer_or("transpose_b", 0) != 0);
         },
         [](Rng& rng) {
             const int64_t m = extent(rng, 1, 6), k = extent(rng, 1, 6), n = extent(rng, 1, 6);
             return Cases{
                 make_case("matmul [5, 7] x [7, 3]", "matmul",
                           {{"a", normal({5, 7}, rng)}, {"b", normal({7, 3}, rng)}}),
                 make_case("matmul [3, 4] x [4, 1]", "matmul",  // a one-column result
                           {{"a", normal({3, 4}, rng)}, {"b", normal({4, 1}, rng)}}),
                 make_case("matmul [m, k] x [k, n]", "matmul",
                           {{"a", normal({m, k}, rng)}, {"b", normal({k, n}, rng)}}),
                 make_case("matmul [4, 3]ᵀ x [4, 2]", "matmul",
                           {{"a", normal({4, 3}, rng)}, {"b", normal({4, 2}, rng)}},
                           {{"transpose_a", {1}}, {"transpose_b", {0}}}),
                 make_case("matmul [3, 5] x [2, 5]ᵀ", "matmul",
                           {{"a", normal({3, 5}, rng)}, {"b", normal({2, 5}, rng)}},
                           {{"transpose_a", {0}}, {"transpose_b", {1}}}),
                 make_case("matmul [5, 1]ᵀ x [3, 5]ᵀ", "matmul",
                           {{"a", normal({5, 1}, rng)}, {"b", normal({3, 5}, rng)}},
                           {{"transpose_a", {1}}, {"transpose_b", {1}}})};
         }},
        {"linear", {"x", "weight", "bias"}, [](const Args& v, const Case&) { return linear(v[0], v[1], v[2]); },
         [](Rng& rng) {
             return Cases{make_case("linear [3, 5] -> 4", "linear",
                                    {{"x", normal({3, 5}, rng)}, {"weight", normal({4, 5}, rng)},
                                     {"bias", normal({4}, rng)}}),
                          make_case("linear [1, 3] -> 1", "linear",
                                    {{"x", normal({1, 3}, rng)}, {"weight", normal({1, 3}, rng)},
                                     {"bias", normal({1}, rng)}})};
         }},
        {"linear_nobias", {"x", "weight"}, [](const Args& v, const Case&) { return linear(v[0], v[1]); },
         [](Rng& rng) {
             return Cases{make_case("linear_nobias [3, 5] -> 4", "linear_nobias",
                                    {{"x", normal({3, 5}, rng)}, {"weight", normal({4, 5}, rng)}}),
                          make_case("linear_nobias [2, 7] -> 1", "linear_nobias",
                                    {{"x", normal({2, 7}, rng)}, {"weight", normal({1, 7}, rng)}})};
         }},
        // ---- losses ----
        {"log_softmax", {"logits"}, [](const Args& v, const Case&) { return log_softmax(v[0]); },
         [](Rng& rng) {
             return Cases{make_case("log_softmax [3, 5]", "log_softmax", {{"logits", normal({3, 5}, rng, 2.0f)}}),
                          make_case("log_softmax [4, 1]", "log_softmax", {{"logits", normal({4, 1}, rng)}})};
         }},
        {"cross_entropy", {"logits"},
         [](const Args& v, const Case& c) { return cross_entropy(v[0], c.int_list("labels")); },
         [](Rng& rng) {
             return Cases{make_case("cross_entropy [3, 5]", "cross_entropy", {{"logits", normal({3, 5}, rng)}},
                                    {{"labels", random_labels(3, 5, rng)}}),
                          make_case("cross_entropy [4, 10]", "cross_entropy", {{"logits", normal({4, 10}, rng, 3.0f)}},
                                    {{"labels", random_labels(4, 10, rng)}})};
         }},
        {"mse", {"prediction", "target"}, [](const Args& v, const Case&) { return mse(v[0], v[1]); },
         [](Rng& rng) {
             return Cases{make_case("mse [3, 4]", "mse",
                                    {{"prediction", normal({3, 4}, rng)}, {"target", normal({3, 4}, rng)}}),
                          make_case("mse [2, 3, 5]", "mse",
                                    {{"prediction", normal({2, 3, 5}, rng)}, {"target", normal({2, 3, 5}, rng)}})};
         }},
        // ---- convolution and pooling ----
        {"conv2d", {"x", "weight", "bias"}, apply_conv2d,
         [](Rng& rng) {
             return Cases{
                 make_case("conv2d [3, 2, 7, 5] * [4, 2, 3, 3] stride 2 padding 1", "conv2d",
                           {{"x", normal({3, 2, 7, 5}, rng)}, {"weight", normal({4, 2, 3, 3}, rng)},
                            {"bias", normal({4}, rng)}},
                           {{"stride", {2}}, {"padding", {1}}}),
                 make_case("conv2d [2, 3, 6, 5] * [2, 3, 3, 2] defaults", "conv2d",
                           {{"x", normal({2, 3, 6, 5}, rng)}, {"weight", normal({2, 3, 3, 2}, rng)},
                            {"bias", normal({2}, rng)}}),
                 make_case("conv2d [1, 1, 7, 7] * [3, 1, 3, 3] stride 3 padding 2", "conv2d",
                           {{"x", normal({1, 1, 7, 7}, rng)}, {"weight", normal({3, 1, 3, 3}, rng)},
                            {"bias", normal({3}, rng)}},
                           {{"stride", {3}}, {"padding", {2}}})};
         }},
        {"conv2d_nobias", {"x", "weight"}, apply_conv2d,
         [](Rng& rng) {
             return Cases{make_case("conv2d_nobias [3, 2, 5, 7] * [3, 2, 3, 3] padding 1", "conv2d_nobias",
                                    {{"x", normal({3, 2, 5, 7}, rng)}, {"weight", normal({3, 2, 3, 3}, rng)}},
                                    {{"stride", {1}}, {"padding", {1}}}),
                          make_case("conv2d_nobias [2, 3, 7, 5] * [2, 3, 2, 2] stride 2", "conv2d_nobias",
                                    {{"x", normal({2, 3, 7, 5}, rng)}, {"weight", normal({2, 3, 2, 2}, rng)}},
                                    {{"stride", {2}}})};
         }},
        {"im2col", {"x"},
         [](const Args& v, const Case& c) {
             const int64_t kh = c.integer("kernel_h"), kw = c.integer("kernel_w");
             if (!c.has_int("stride") && !c.has_int("padding")) return im2col(v[0], kh, kw);
             return im2col(v[0], kh, kw, c.integer_or("stride", 1), c.integer_or("padding", 0));
         },
         [](Rng& rng) {
             return Cases{make_case("im2col [3, 2, 7, 5] 3x2 stride 2 padding 1", "im2col",
                                    {{"x", normal({3, 2, 7, 5}, rng)}},
                                    {{"kernel_h", {3}}, {"kernel_w", {2}}, {"stride", {2}}, {"padding", {1}}}),
                          make_case("im2col [2, 3, 4, 5] 2x2 defaults", "im2col", {{"x", normal({2, 3, 4, 5}, rng)}},
                                    {{"kernel_h", {2}}, {"kernel_w", {2}}})};
         }},
        {"columns_to_images", {"cols", "bias"},  // ops.hpp calls cols "y"; here y is the output
         [](const Args& v, const Case& c) {
             return columns_to_images(v[0], v[1], c.integer("batch"), c.integer("out_h"), c.integer("out_w"));
         },
         [](Rng& rng) {
             return Cases{make_case("columns_to_images [4, 3·3·2]", "columns_to_images",
                                    {{"cols", normal({4, 18}, rng)}, {"bias", normal({4}, rng)}},
                                    {{"batch", {3}}, {"out_h", {3}}, {"out_w", {2}}}),
                          make_case("columns_to_images [1, 2·1·5]", "columns_to_images",
                                    {{"cols", normal({1, 10}, rng)}, {"bias", normal({1}, rng)}},
                                    {{"batch", {2}}, {"out_h", {1}}, {"out_w", {5}}})};
         }},
        {"max_pool2d", {"x"},
         [](const Args& v, const Case& c) {
             return c.has_int("stride") ? max_pool2d(v[0], c.integer("kernel"), c.integer("stride"))
                                        : max_pool2d(v[0], c.integer("kernel"));
         },
         [](Rng& rng) {
             return Cases{make_case("max_pool2d [3, 2, 7, 5] kernel 2", "max_pool2d",
                                    {{"x", distinct({3, 2, 7, 5}, rng)}}, {{"kernel", {2}}}),
                          make_case("max_pool2d [2, 3, 7, 5] kernel 3 stride 2", "max_pool2d",
                                    {{"x", distinct({2, 3, 7, 5}, rng)}}, {{"kernel", {3}}, {"stride", {2}}}),
                          make_case("max_pool2d [1, 2, 4, 5] kernel 2 stride 1", "max_pool2d",
                                    {{"x", distinct({1, 2, 4, 5}, rng)}}, {{"kernel", {2}}, {"stride", {1}}})};
         }},
    };
    return ops;
}

const OpEntry* find_op(const std::string& name) {
    for (const OpEntry& e : catalogue())
        if (e.name == name) return &e;
    return nullptr;
}

// The case's input tensors in the op's argument order.
std::vector<Tensor> inputs_of(const OpEntry& op, const Case& c) {
    std::vector<Tensor> inputs;
    for (const std::string& key : op.inputs) inputs.push_back(c.tensor(key));
    return inputs;
}

}  // namespace

TEST_SUITE("ch02_autodiff") {

TEST_CASE("every op's backward agrees with finite differences on random inputs of odd shapes") {
    // gradcheck's defaults: central differences with ε = 1e-2, element passes when
    // |analytic − numeric| ≤ 2e-3 + 1e-2·|numeric|. relu and leaky_relu get inputs with
    // |x| ≥ 0.1 and max_pool2d distinct values 0.05 apart, so no ±ε step crosses a kink or a tie.
    const GradcheckOptions options;
    Rng rng(2024);
    int checked = 0;
    for (const OpEntry& op : catalogue()) {
        for (const Case& c : op.examples(rng)) {
            CAPTURE(c.name);
            const GradcheckResult result =
                gradcheck([&](const std::vector<Var>& v) { return op.apply(v, c); }, inputs_of(op, c), options);
            CHECK_MESSAGE(result.passed,
                          c.name << ": " << result.worst << " (max |error| " << result.max_abs_error << ")");
            ++checked;
        }
    }
    CHECK(checked >= 2 * static_cast<int>(catalogue().size()));
}

TEST_CASE("every op of the catalogue has PyTorch fixture cases, and every fixture case a catalogue op") {
    const golden::Fixtures& fixtures = golden::cached_fixtures("ops.golden");
    for (const OpEntry& op : catalogue())
        CHECK_MESSAGE(!fixtures.cases_of(op.name).empty(),
                      "op '" << op.name << "' has no case in " << fixtures.path
                             << "; add one to tests/golden/make_golden.py and run `make golden`");
    for (const Case& c : fixtures.cases)
        CHECK_MESSAGE(find_op(c.op) != nullptr, "fixture case '" << c.name << "' checks op '" << c.op
                                                << "', which the catalogue in tests/test_ops.cpp lacks");
}

TEST_CASE("every op matches PyTorch's output and input gradients on the golden fixtures") {
    // The tolerance is per op in the catalogue; every op uses the default, abs 1e-5 + rel
    // 1e-4 · |torch| per element (the largest differences seen are ~3e-6, in conv2d, whose
    // sums PyTorch orders differently).
    const golden::Fixtures& fixtures = golden::cached_fixtures("ops.golden");
    const bool report = std::getenv("TINYRANK_GOLDEN_REPORT") != nullptr;
    std::map<std::string, std::pair<double, double>> largest;  // op → (max |Δy|, max |Δgrad|)
    for (const Case& c : fixtures.cases) {
        const OpEntry* op = find_op(c.op);
        if (op == nullptr) continue;  // reported by the test above
        CAPTURE(c.name);
        Tape tape;
        std::vector<Var> inputs;
        for (const std::string& key : op->inputs)
            inputs.push_back(tape.input(c.tensor(key), /*requires_grad=*/true, key));
        const Var y = op->apply(inputs, c);
        const double dy = check_close(c.name + " y", y.value(), c.tensor("y"), op->vs_torch);
        largest[op->name].first = std::max(largest[op->name].first, dy);

        tape.backward(y, c.tensor("gy"));
        std::vector<Tensor> first(inputs.size());
        for (size_t k = 0; k < inputs.size(); ++k) {
            const std::string key = "grad_" + op->inputs[k];
            if (tape.node(static_cast<size_t>(inputs[k].index())).grad.is_empty()) {
                FAIL_CHECK(c.name << ": backward left no gradient for input '" << op->inputs[k] << "'");
                continue;
            }
            first[k] = tape.grad(inputs[k]).clone();
            const double dg = check_close(c.name + " " + key, first[k], c.tensor(key), op->vs_torch);
            largest[op->name].second = std::max(largest[op->name].second, dg);
        }

        // A second sweep adds the same gradient again to the leaves: every backward rule
        // must add into its buffers (+=, gemm with beta = 1), never overwrite them.
        tape.backward(y, c.tensor("gy"));
        for (size_t k = 0; k < inputs.size(); ++k) {
            if (first[k].is_empty()) continue;
            check_close(c.name + " grad_" + op->inputs[k] + " after two backward sweeps", tape.grad(inputs[k]),
                        scale(first[k], 2.0f), {1e-6, 1e-6}, "2 x first sweep");
        }
    }
    if (report) {
        std::printf("%-18s %14s %14s   (vs %s, torch %s)\n", "op", "max |dy|", "max |dgrad|", fixtures.path.c_str(),
                    fixtures.producer.count("torch") ? fixtures.producer.at("torch").c_str() : "?");
        for (const auto& [name, d] : largest) std::printf("%-18s %14.3g %14.3g\n", name.c_str(), d.first, d.second);
    }
}

TEST_CASE("shape errors name both shapes") {
    Tape tape;
    const Var a = tape.input(Tensor::zeros({2, 3}), true);
    const Var b = tape.input(Tensor::zeros({4, 5}), true);
    for (const std::string& message : {error_message([&] { matmul(a, b); }), error_message([&] { add(a, b); }),
                                       error_message([&] { sub(a, b); }), error_message([&] { mul(a, b); }),
                                       error_message([&] { linear(a, b); }), error_message([&] { mse(a, b); })}) {
        CAPTURE(message);
        CHECK(contains(message, "[2, 3]"));
        CHECK(contains(message, "[4, 5]"));
    }

    const Var x = tape.input(Tensor::zeros({1, 3, 5, 5}), true);
    const Var w = tape.input(Tensor::zeros({2, 4, 3, 3}), true);  // 4 input channels, x has 3
    const Var bias = tape.input(Tensor::zeros({2}), true);
    for (const std::string& message : {error_message([&] { conv2d(x, w, bias, 1, 1); }),
                                       error_message([&] { conv2d(x, w); })}) {
        CAPTURE(message);
        CHECK(contains(message, "[1, 3, 5, 5]"));
        CHECK(contains(message, "[2, 4, 3, 3]"));
    }
}

TEST_CASE("max pooling: a tie goes to the first position, the last NaN of a window wins (PyTorch's rule)") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    // Two 4×4 planes, four 2×2 windows each. Plane 0 has ties (and −0 against +0), plane 1 NaNs,
    // so plane 0 takes the 2×2 fast path and plane 1 the general rule.
    const Tensor x({1, 2, 4, 4}, {1, 1, 2, 3,     1, 1, 3, 1,     -0.0f, 0, 5, 4,  0, -0.0f, 4, 5,
                                  1, nan, nan, nan, 2, 3, 1, 1,  0, 0, 7, 8,       0, nan, 9, 6});
    Tape tape;
    const Var in = tape.input(x, true);
    const Var y = max_pool2d(in, 2);
    const std::vector<float> values = y.value().to_vector();
    CHECK(values[0] == 1.0f);
    CHECK(values[1] == 3.0f);
    CHECK(values[2] == 0.0f);
    CHECK(std::signbit(values[2]));  // the first of −0 and +0
    CHECK(values[3] == 5.0f);
    CHECK(std::isnan(values[4]));
    CHECK(std::isnan(values[5]));
    CHECK(std::isnan(values[6]));
    CHECK(values[7] == 9.0f);
    tape.backward(y, Tensor({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
    // Each window's gradient lands on its winner: the first maximum, or the last NaN.
    const std::vector<float> expected = {1, 0, 0, 2,  0, 0, 0, 0,  3, 0, 4, 0,  0, 0, 0, 0,
                                         0, 5, 0, 6,  0, 0, 0, 0,  0, 0, 0, 0,  0, 7, 8, 0};
    CHECK(in.grad().to_vector() == expected);
    CHECK(contains(error_message([&] { max_pool2d(in, 17); }), "kernel <= 16"));
}

TEST_CASE("cross_entropy rejects labels outside [0, C) and a label count that differs from the batch") {
    Tape tape;
    const Var logits = tape.input(Tensor::zeros({2, 3}), true);
    const std::string too_big = error_message([&] { cross_entropy(logits, {0, 3}); });
    CHECK(contains(too_big, "label 3"));
    CHECK(contains(too_big, "[0, 3)"));
    CHECK(contains(error_message([&] { cross_entropy(logits, {-1, 0}); }), "label -1"));
    CHECK(contains(error_message([&] { cross_entropy(logits, {0}); }), "[2, 3]"));
}

TEST_CASE("log_softmax and cross_entropy stay finite for logits of ±1000 and match the closed form") {
    // Row 0: z = (1000, −1000, 0) → log softmax (0, −2000, −1000), softmax (1, 0, 0).
    // Row 1: z = (−1000, 1000, 1000) → log softmax (−2000 − ln 2, −ln 2, −ln 2), softmax (0, ½, ½).
    const Tensor z({2, 3}, {1000, -1000, 0, -1000, 1000, 1000});
    const double ln2 = std::log(2.0);
    const std::vector<double> log_p{0, -2000, -1000, -2000 - ln2, -ln2, -ln2};
    const std::vector<double> p{1, 0, 0, 0, 0.5, 0.5};

    Tape tape;
    const Var logits = tape.input(z, true);
    const Var y = log_softmax(logits);
    tape.backward(y, Tensor::ones({2, 3}));
    REQUIRE(all_finite(y.value()));
    REQUIRE(all_finite(tape.grad(logits)));
    for (int64_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK(y.value()[i] == doctest::Approx(log_p[size_t(i)]).epsilon(1e-6));
        // ∂z = ḡ − softmax · Σ_j ḡ_j with ḡ = 1: 1 − 3 p.
        CHECK(tape.grad(logits)[i] == doctest::Approx(1.0 - 3.0 * p[size_t(i)]).epsilon(1e-6));
    }

    Tape tape2;
    const Var logits2 = tape2.input(z, true);
    const std::vector<int64_t> labels{2, 0};
    const Var loss = cross_entropy(logits2, labels);
    tape2.backward(loss);
    REQUIRE(all_finite(loss.value()));
    REQUIRE(all_finite(tape2.grad(logits2)));
    // −(log_p[0, 2] + log_p[1, 0]) / 2 = (1000 + 2000 + ln 2) / 2.
    CHECK(loss.value().item() == doctest::Approx((1000.0 + 2000.0 + ln2) / 2.0).epsilon(1e-6));
    for (int64_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        const double onehot = (i == 2 || i == 3) ? 1.0 : 0.0;
        CHECK(tape2.grad(logits2)[i] == doctest::Approx((p[size_t(i)] - onehot) / 2.0).epsilon(1e-6));
    }
}

TEST_CASE("the golden reader reads every record, and says how to regenerate a missing or stale file") {
    const std::string path = std::string(TINYRANK_BINARY_DIR) + "/golden_reader_test.golden";
    {
        std::ofstream out(path);
        out << "tinyrank-golden " << golden::kFormatVersion << " torch 9.9\n"
            << "# a comment\n"
            << "case first add\nint stride 2\nints labels 3 0 4 1\nfloat slope 0.2\n"
            << "tensor x 2 2 3\n1 2 3\n4 5 6.5\ntensor s 0 -0.25\nend\n"
            << "case second mean\ntensor e 1 0\nend\n";
    }
    const golden::Fixtures f = golden::load_fixtures(path);
    REQUIRE(f.cases.size() == 2);
    CHECK(f.producer.at("torch") == "9.9");
    const Case& c = f.find("first");
    CHECK(c.op == "add");
    CHECK(c.integer("stride") == 2);
    CHECK(c.integer_or("padding", 7) == 7);
    CHECK(c.int_list("labels") == std::vector<int64_t>{0, 4, 1});
    CHECK(c.real("slope") == 0.2f);
    CHECK(c.tensor("x").shape() == Shape{2, 3});
    CHECK(c.tensor("x").to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6.5f});
    CHECK(c.tensor("s").shape() == Shape{});
    CHECK(c.tensor("s").item() == -0.25f);
    CHECK(f.find("second").tensor("e").numel() == 0);
    CHECK(f.cases_of("mean").size() == 1);
    CHECK(contains(error_message([&] { c.tensor("nope"); }), "first"));
    CHECK(contains(error_message([&] { c.integer("labels"); }), "labels"));

    {
        std::ofstream out(path);
        out << "tinyrank-golden " << golden::kFormatVersion + 1 << " torch 9.9\n";
    }
    const std::string stale = error_message([&] { golden::load_fixtures(path); });
    CHECK(contains(stale, "format version " + std::to_string(golden::kFormatVersion + 1)));
    CHECK(contains(stale, "make golden"));
    {
        std::ofstream out(path);
        out << "tinyrank-golden " << golden::kFormatVersion << "\ncase bad relu\ntensor x 1 3\n1 2\nend\n";
    }
    CHECK(contains(error_message([&] { golden::load_fixtures(path); }), ":5: expected a tensor value"));
    std::remove(path.c_str());

    const std::string missing = error_message([&] { golden::load_fixtures(path + ".missing"); });
    CHECK(contains(missing, "cannot open"));
    CHECK(contains(missing, "make golden"));
}

TEST_CASE("the loops that run on several threads give the same bits for a given thread count") {
    // Convolution (image by image), pooling and ReLU on a small batch, forward and backward.
    // Values and the input's gradient are computed image by image: the same bits for any
    // thread count. ∂W and ∂b sum over the images in one part per thread: the same bits for
    // the same thread count, and within float rounding of one another across counts.
    const auto run = [](int loop_threads) {
        omp_set_num_threads(loop_threads);
        Rng rng(3);
        Parameter w("w", Tensor::normal({6, 3, 5, 5}, rng)), b("b", Tensor::normal({6}, rng));
        Tape tape;
        const Var x = tape.input(Tensor::normal({9, 3, 14, 13}, rng), true);
        const Var y = relu(max_pool2d(conv2d(x, tape.param(w), tape.param(b), 1, 2), 2));
        tape.backward(y, Tensor::normal(y.shape(), rng));
        omp_set_num_threads(1);
        return std::vector<Tensor>{y.value(), x.grad(), w.grad, b.grad};
    };
    const std::vector<Tensor> one = run(1), two = run(2);
    CHECK(one[0].to_vector() == two[0].to_vector());
    CHECK(one[1].to_vector() == two[1].to_vector());
    CHECK(max_abs(one[2] - two[2]) <= 1e-5f * max_abs(one[2]));
    CHECK(max_abs(one[3] - two[3]) <= 1e-5f * max_abs(one[3]));
    for (const int threads : {1, 2}) {
        const std::vector<Tensor> first = run(threads), again = run(threads);
        CAPTURE(threads);
        for (size_t i = 0; i < first.size(); ++i) CHECK(first[i].to_vector() == again[i].to_vector());
    }
}

}  // TEST_SUITE
