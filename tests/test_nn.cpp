// The layers and the model zoo (book chapter 3), proved against PyTorch and against themselves.
//
// tests/golden/learning.golden, written by tests/golden/make_learning_golden.py with PyTorch,
// holds (a) single layers with their inputs, weights, an upstream gradient, the output and
// the gradients for input, weight and bias, and (b) lenet5 and mlp on three MNIST images:
// logits, cross-entropy loss and every parameter gradient. Each layer is built here from the
// fixture's spec options with make_layer(), so the comparison also covers rebuilding.
// Set TINYRANK_GOLDEN_REPORT=1 to print the largest difference per layer type and model.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "golden_fixtures.hpp"
#include "test_support.hpp"
#include "tinyrank/error.hpp"
#include "tinyrank/models.hpp"
#include "tinyrank/nn.hpp"
#include "tinyrank/ops.hpp"
#include "tinyrank/random.hpp"
#include "tinyrank/tape.hpp"
#include "tinyrank/tensor.hpp"

using namespace tinyrank;
using namespace tinyrank::test_support;
using golden::Case;

namespace {

const std::vector<std::string>& layer_types() {
    static const std::vector<std::string> types = {"Linear", "Conv2d", "MaxPool2d", "ReLU", "LeakyReLU", "Flatten"};
    return types;
}

// Per layer type: the convolutions sum in another order than PyTorch's, so they get more room.
Tolerance layer_tolerance(const std::string& type) {
    if (type == "Conv2d") return {3e-5, 1e-4};
    if (type == "Linear") return {1e-5, 1e-4};
    return {0.0, 0.0};  // max-pool, activations and flatten move or scale values: exact
}

// The spec a layer case describes: its op is the layer type, its "spec.<option>" ints and
// floats the options.
LayerSpec spec_of(const Case& c) {
    const std::string prefix = "spec.";
    LayerSpec spec;
    spec.type = c.op;
    for (const auto& [key, values] : c.ints)
        if (key.rfind(prefix, 0) == 0) spec.options[key.substr(prefix.size())] = static_cast<double>(values.at(0));
    for (const auto& [key, value] : c.floats)
        if (key.rfind(prefix, 0) == 0) spec.options[key.substr(prefix.size())] = static_cast<double>(value);
    return spec;
}

// The names of the parameters of `module`, in order.
std::vector<std::string> names_of(Module& module) {
    std::vector<std::string> names;
    for (const Parameter* p : module.parameters()) names.push_back(p->name);
    return names;
}

// The fan-in of a Linear or Conv2d layer (0 for a layer without weights).
int64_t fan_in(Module& layer) {
    if (auto* linear = dynamic_cast<Linear*>(&layer)) return linear->in_features;
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv->in_channels * conv->kernel * conv->kernel;
    return 0;
}

}  // namespace

TEST_SUITE("ch03_learning") {

// ---- Against PyTorch ---------------------------------------------------------------------------

TEST_CASE("every layer type has PyTorch fixture cases") {
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    for (const std::string& type : layer_types())
        CHECK_MESSAGE(fixtures.cases_of(type).size() >= 2,
                      "layer type '" << type << "' has fewer than two cases in " << fixtures.path
                                     << "; add them to tests/golden/make_learning_golden.py");
    CHECK(fixtures.cases_of("lenet5").size() == 1);
    CHECK(fixtures.cases_of("mlp").size() == 1);
}

TEST_CASE("every layer matches PyTorch's output and its gradients for input, weight and bias") {
    // Tolerance abs 1e-5 + rel 1e-4 for Linear, abs 3e-5 + rel 1e-4 for Conv2d; the
    // parameter-free layers only move or scale values and must agree exactly.
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    std::map<std::string, double> largest;
    int checked = 0;
    for (const std::string& type : layer_types()) {
        for (const Case* c : fixtures.cases_of(type)) {
            CAPTURE(c->name);
            const Tolerance tol = layer_tolerance(type);
            const LayerSpec spec = spec_of(*c);
            Rng rng(1);
            std::unique_ptr<Module> layer = make_layer(spec, rng);
            CHECK_MESSAGE(layer->spec().options == spec.options, c->name << ": spec() does not give back the options");

            // The layer's parameters are exactly the fixture's weight and bias, set from it.
            std::set<std::string> stored;
            for (const char* key : {"weight", "bias"})
                if (c->has_tensor(key)) stored.insert(key);
            std::set<std::string> own;
            for (Parameter* p : layer->parameters()) {
                own.insert(p->name);
                REQUIRE_MESSAGE(c->has_tensor(p->name), c->name << ": the fixture has no '" << p->name << "'");
                const Tensor& value = c->tensor(p->name);
                REQUIRE_MESSAGE(p->value.shape() == value.shape(), c->name << " " << p->name << ": tinyrank "
                                                                           << to_string(p->value.shape()) << ", torch "
                                                                           << to_string(value.shape()));
                p->value.copy_from(value);
            }
            CHECK(own == stored);

            Tape tape;
            const Var x = tape.input(c->tensor("x"), /*requires_grad=*/true, "x");
            const Var y = layer->forward(x);
            double& worst = largest[type];
            worst = std::max(worst, check_close(c->name + " y", y.value(), c->tensor("y"), tol));
            tape.backward(y, c->tensor("gy"));
            worst = std::max(worst, check_close(c->name + " grad_x", tape.grad(x), c->tensor("grad_x"), tol));
            for (Parameter* p : layer->parameters())
                worst = std::max(worst, check_close(c->name + " grad_" + p->name, p->grad,
                                                    c->tensor("grad_" + p->name), tol));
            ++checked;
        }
    }
    CHECK(checked >= 2 * static_cast<int>(layer_types().size()));
    report("learning.golden", largest);
}

TEST_CASE("lenet5 and mlp match PyTorch: logits, loss and every parameter gradient on three MNIST images") {
    // The weights are tinyrank's own uniform draws Tensor::uniform(shape, Rng(seed, stream),
    // ±bound), parameter after parameter; the generator script reproduces them and stores
    // each parameter's first values and sum, checked first. Large Linear weight gradients
    // are stored as factors (δ [B, out], x [B, in]) and compared element by element with δᵀx.
    // Tolerances: logits and loss abs 2e-6 + rel 1e-5, gradients abs 2e-7 + rel 1e-4 (the
    // gradients' typical size is 1e-3; the largest differences seen are 4e-8 and 3e-8).
    const golden::Fixtures& fixtures = golden::cached_fixtures("learning.golden");
    std::map<std::string, double> largest;
    for (const std::string& name : model_names()) {
        for (const Case* c : fixtures.cases_of(name)) {
            CAPTURE(c->name);
            Rng init(1);
            std::unique_ptr<Sequential> model = make_model(name, init);

            // Every parameter the fixture describes exists, and the other way round.
            int described = 0;
            for (const auto& [key, value] : c->floats)
                if (key.rfind("bound_", 0) == 0) ++described;
            REQUIRE(described == static_cast<int>(model->parameters().size()));

            Rng weights(static_cast<uint64_t>(c->integer("weight_seed")), static_cast<uint64_t>(c->integer("weight_stream")));
            for (Parameter* p : model->parameters()) {
                const float bound = c->real("bound_" + p->name);
                p->value.copy_from(Tensor::uniform(p->value.shape(), weights, -bound, bound));
                const Tensor& head = c->tensor("head_" + p->name);
                for (int64_t i = 0; i < head.numel(); ++i)
                    REQUIRE_MESSAGE(p->value[i] == head[i],
                                    p->name << "[" << i << "]: tinyrank drew " << p->value[i] << ", the fixture has "
                                            << head[i] << " (make_learning_golden.py no longer reproduces Rng)");
                double total = 0.0;
                for (int64_t i = 0; i < p->value.numel(); ++i) total += p->value[i];
                CHECK(total == doctest::Approx(c->real("sum_" + p->name)).epsilon(1e-6));
            }

            Tape tape;
            const Var logits = model->forward(tape.input(c->tensor("x"), false, "x"));
            const Var loss = cross_entropy(logits, c->int_list("labels"));
            largest[name + " logits"] = check_close(c->name + " logits", logits.value(), c->tensor("logits"), {2e-6, 1e-5});
            largest[name + " loss"] = check_close(c->name + " loss", loss.value().reshape({1}),
                                                  Tensor({1}, {c->real("loss")}), {2e-6, 1e-5});
            model->zero_grad();
            tape.backward(loss);

            const Tolerance tol{2e-7, 1e-4};
            double& worst = largest[name + " gradients"];
            for (Parameter* p : model->parameters()) {
                CHECK(norm(p->grad) == doctest::Approx(c->real("grad_norm_" + p->name)).epsilon(1e-4));
                if (c->has_tensor("grad_" + p->name)) {
                    worst = std::max(worst, check_close(c->name + " grad_" + p->name, p->grad,
                                                        c->tensor("grad_" + p->name), tol));
                    continue;
                }
                // grad = δᵀ x, summed over the batch in double.
                const Tensor& delta = c->tensor("grad_out_" + p->name);
                const Tensor& input = c->tensor("grad_in_" + p->name);
                const int64_t batch = delta.size(0), out = delta.size(1), in = input.size(1);
                Tensor expected({out, in});
                for (int64_t i = 0; i < out; ++i)
                    for (int64_t j = 0; j < in; ++j) {
                        double s = 0.0;
                        for (int64_t b = 0; b < batch; ++b) s += double(delta[b * out + i]) * double(input[b * in + j]);
                        expected[i * in + j] = static_cast<float>(s);
                    }
                worst = std::max(worst, check_close(c->name + " grad_" + p->name + " (= δᵀx)", p->grad, expected, tol));
            }
        }
    }
    report("learning.golden", largest);
}

// ---- The zoo -------------------------------------------------------------------------------------

TEST_CASE("the zoo's parameters have PyTorch's names, shapes and counts") {
    Rng rng(3);
    auto net = mlp(rng);
    CHECK(names_of(*net) ==
          std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"});
    CHECK(net->parameter_count() == 784 * 500 + 500 + 500 * 500 + 500 + 500 * 10 + 10);
    CHECK(net->parameter_count() == 648010);
    CHECK(net->parameters()[0]->value.shape() == Shape{500, 784});
    CHECK(net->parameters()[4]->value.shape() == Shape{10, 500});

    auto lenet = lenet5(rng);
    CHECK(names_of(*lenet) == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
    CHECK(lenet->parameter_count() == 20 * 25 + 20 + 50 * 20 * 25 + 50 + 800 * 500 + 500 + 500 * 10 + 10);
    CHECK(lenet->parameter_count() == 431080);
    const std::vector<Shape> shapes = {{20, 1, 5, 5}, {20}, {50, 20, 5, 5}, {50}, {500, 800}, {500}, {10, 500}, {10}};
    for (size_t i = 0; i < shapes.size(); ++i) {
        CAPTURE(lenet->parameters()[i]->name);
        CHECK(lenet->parameters()[i]->value.shape() == shapes[i]);
        CHECK(lenet->parameters()[i]->grad.shape() == shapes[i]);
    }

    std::vector<std::string> types;
    for (const LayerSpec& s : layer_specs(*lenet)) types.push_back(s.name + ":" + s.type);
    CHECK(types == std::vector<std::string>{"conv1:Conv2d", "pool1:MaxPool2d", "relu1:ReLU", "conv2:Conv2d",
                                            "pool2:MaxPool2d", "relu2:ReLU", "flatten:Flatten", "fc1:Linear",
                                            "relu3:ReLU", "fc2:Linear"});
    CHECK(model_names() == std::vector<std::string>{"mlp", "lenet5"});

    // Both map a batch of MNIST-sized images to 10 logits per image.
    Tape tape;
    NoGrad no_grad(tape);
    Rng data(4);
    const Tensor images = Tensor::uniform({2, 1, 28, 28}, data);
    CHECK(net->forward(tape.input(images)).shape() == Shape{2, 10});
    CHECK(lenet->forward(tape.input(images)).shape() == Shape{2, 10});
}

TEST_CASE("parameters are initialised uniformly in ±1/√fan_in, filling the range, like PyTorch's default") {
    for (const std::string& name : model_names()) {
        Rng rng(11);
        auto model = make_model(name, rng);
        for (size_t l = 0; l < model->size(); ++l) {
            Module& layer = model->layer(l);
            const int64_t fan = fan_in(layer);
            if (fan == 0) continue;
            const double bound = 1.0 / std::sqrt(double(fan));
            for (Parameter* p : layer.parameters()) {
                CAPTURE(p->name);
                const Tensor& w = p->value;
                double lo = 0.0, hi = 0.0, sum = 0.0, squares = 0.0;
                for (int64_t i = 0; i < w.numel(); ++i) {
                    lo = std::min(lo, double(w[i]));
                    hi = std::max(hi, double(w[i]));
                    sum += w[i];
                    squares += double(w[i]) * w[i];
                }
                CHECK(hi <= bound * (1 + 1e-6));
                CHECK(lo >= -bound * (1 + 1e-6));
                const double n = double(w.numel());
                if (n >= 500) {
                    // The spread fills the interval, the mean is about 0 and the variance bound²/3.
                    CHECK(hi >= bound * (1 - 20.0 / n));
                    CHECK(lo <= -bound * (1 - 20.0 / n));
                    CHECK(std::fabs(sum / n) <= 5.0 * bound / std::sqrt(3.0 * n));
                    CHECK(squares / n == doctest::Approx(bound * bound / 3.0).epsilon(0.1));
                } else {
                    CHECK(hi - lo >= bound * 0.5);  // ten or twenty biases: still spread out
                }
            }
        }
    }

    // The same seed gives the same weights; another seed gives others.
    Rng a(5), b(5), c(6);
    auto first = lenet5(a), same = lenet5(b), other = lenet5(c);
    CHECK(first->parameters()[2]->value.to_vector() == same->parameters()[2]->value.to_vector());
    CHECK(first->parameters()[2]->value.to_vector() != other->parameters()[2]->value.to_vector());
}

// ---- Modules -----------------------------------------------------------------------------------

TEST_CASE("train() and eval() switch the module and all its children") {
    Rng rng(2);
    auto model = lenet5(rng);
    auto all_modes = [&](bool wanted) {
        bool ok = model->training() == wanted;
        for (Module* child : model->children()) ok = ok && child->training() == wanted;
        return ok;
    };
    CHECK(model->children().size() == model->size());
    CHECK(all_modes(true));  // a new model is in training mode, as in PyTorch
    model->eval();
    CHECK(all_modes(false));
    model->train();
    CHECK(all_modes(true));
    model->train(false);
    CHECK(all_modes(false));

    // Nested containers: the switch reaches the grandchildren, and a layer added later
    // takes its new parent's mode.
    Sequential outer;
    auto& inner = outer.add("block", std::make_unique<Sequential>());
    auto& fc = inner.add("fc", std::make_unique<Linear>(3, 2, rng));
    outer.eval();
    CHECK_FALSE(inner.training());
    CHECK_FALSE(fc.training());
    auto& late = outer.add("late", std::make_unique<ReLU>());
    CHECK_FALSE(late.training());
    outer.train();
    CHECK(fc.training());
    CHECK(late.training());
}

TEST_CASE("a layer's parameter names are prefixed with its name in the container") {
    Rng rng(2);
    Linear alone(4, 3, rng);
    CHECK(names_of(alone) == std::vector<std::string>{"weight", "bias"});
    Linear nobias(4, 3, rng, false);
    CHECK(names_of(nobias) == std::vector<std::string>{"weight"});
    CHECK(nobias.parameter_count() == 12);
    CHECK(nobias.bias.value.is_empty());

    Sequential model;
    model.add("encoder", std::make_unique<Linear>(4, 3, rng));
    model.add("act", std::make_unique<LeakyReLU>(0.2f));
    model.add("head", std::make_unique<Conv2d>(1, 2, 3, rng, 1, 1, false));
    CHECK(names_of(model) == std::vector<std::string>{"encoder.weight", "encoder.bias", "head.weight"});
    CHECK(model.layer(0).name() == "encoder");
    CHECK(model.layer(1).name() == "act");

    CHECK(contains(error_message([&] { model.add("encoder", std::make_unique<ReLU>()); }), "'encoder' already exists"));
}

TEST_CASE("zero_grad clears every gradient and keeps its storage; backward adds into the gradients") {
    Rng rng(8);
    auto model = lenet5(rng);
    const Tensor images = Tensor::uniform({2, 1, 28, 28}, rng);
    const std::vector<int64_t> labels = {3, 7};
    std::vector<const float*> storage;
    for (Parameter* p : model->parameters()) storage.push_back(p->grad.data());

    auto backward_once = [&] {
        Tape tape;
        tape.backward(cross_entropy(model->forward(tape.input(images)), labels));
    };
    backward_once();
    std::vector<Tensor> first;
    for (Parameter* p : model->parameters()) {
        CAPTURE(p->name);
        CHECK(max_abs(p->grad) > 0.0f);
        first.push_back(p->grad.clone());
    }
    // The tape adds into Parameter::grad (the optimiser zeroes it): a second pass doubles it.
    backward_once();
    for (size_t i = 0; i < first.size(); ++i) {
        const Parameter& p = *model->parameters()[i];
        CAPTURE(p.name);
        CHECK(max_abs(p.grad - 2.0f * first[i]) <= 1e-6f * (1.0f + max_abs(first[i])));
    }
    model->zero_grad();
    for (size_t i = 0; i < first.size(); ++i) {
        const Parameter& p = *model->parameters()[i];
        CHECK(max_abs(p.grad) == 0.0f);
        CHECK(p.grad.data() == storage[i]);
        CHECK(p.grad.shape() == p.value.shape());
    }
}

TEST_CASE("layer_specs and make_sequential rebuild the same architecture") {
    for (const std::string& name : model_names()) {
        CAPTURE(name);
        Rng rng(21), other(22);
        auto model = make_model(name, rng);
        const std::vector<LayerSpec> specs = layer_specs(*model);
        auto rebuilt = make_sequential(specs, other);
        const std::vector<LayerSpec> again = layer_specs(*rebuilt);
        REQUIRE(again.size() == specs.size());
        for (size_t i = 0; i < specs.size(); ++i) {
            CHECK(again[i].name == specs[i].name);
            CHECK(again[i].type == specs[i].type);
            CHECK(again[i].options == specs[i].options);
        }
        CHECK(names_of(*rebuilt) == names_of(*model));
        CHECK(rebuilt->parameter_count() == model->parameter_count());
        for (size_t i = 0; i < model->parameters().size(); ++i)
            CHECK(rebuilt->parameters()[i]->value.shape() == model->parameters()[i]->value.shape());
    }

    // Every layer type and option survives the round trip, LeakyReLU's slope exactly.
    Rng rng(1);
    Sequential all;
    all.add("conv", std::make_unique<Conv2d>(2, 3, 3, rng, 2, 1, false));
    all.add("pool", std::make_unique<MaxPool2d>(3, 2));
    all.add("leaky", std::make_unique<LeakyReLU>(0.2f));
    all.add("flat", std::make_unique<Flatten>());
    all.add("fc", std::make_unique<Linear>(12, 4, rng, false));
    all.add("relu", std::make_unique<ReLU>());
    auto rebuilt = make_sequential(layer_specs(all), rng);
    auto& conv = dynamic_cast<Conv2d&>(rebuilt->layer(0));
    CHECK(conv.in_channels == 2);
    CHECK(conv.out_channels == 3);
    CHECK(conv.kernel == 3);
    CHECK(conv.stride == 2);
    CHECK(conv.padding == 1);
    CHECK_FALSE(conv.has_bias);
    auto& pool = dynamic_cast<MaxPool2d&>(rebuilt->layer(1));
    CHECK(pool.kernel == 3);
    CHECK(pool.stride == 2);
    CHECK(dynamic_cast<LeakyReLU&>(rebuilt->layer(2)).slope == 0.2f);
    CHECK(dynamic_cast<Flatten*>(&rebuilt->layer(3)) != nullptr);
    CHECK_FALSE(dynamic_cast<Linear&>(rebuilt->layer(4)).has_bias);
    CHECK(dynamic_cast<ReLU*>(&rebuilt->layer(5)) != nullptr);
    CHECK(names_of(*rebuilt) == std::vector<std::string>{"conv.weight", "fc.weight"});
    CHECK(MaxPool2d(2).stride == 2);     // stride 0 means stride = kernel, as in PyTorch
    CHECK(LeakyReLU().slope == 0.01f);   // PyTorch's default negative slope
}

TEST_CASE("bad layer sizes, unknown layer types and wrong inputs are errors that say what was expected") {
    Rng rng(1);
    CHECK(contains(error_message([&] { Linear(0, 3, rng); }), "in 0"));
    CHECK(contains(error_message([&] { Linear(3, -1, rng); }), "out -1"));
    CHECK(contains(error_message([&] { Conv2d(0, 3, 3, rng); }), "in 0"));
    CHECK(contains(error_message([&] { Conv2d(1, 3, 0, rng); }), "kernel 0"));
    CHECK(contains(error_message([&] { Conv2d(1, 3, 3, rng, 0); }), "stride 0"));
    CHECK(contains(error_message([&] { Conv2d(1, 3, 3, rng, 1, -1); }), "padding -1"));
    CHECK(contains(error_message([] { MaxPool2d(0); }), "MaxPool2d"));
    CHECK(contains(error_message([] { MaxPool2d(2, -1); }), "MaxPool2d"));

    const std::string unknown = error_message([&] { make_layer({"drop1", "Dropout", {{"p", 0.5}}}, rng); });
    CHECK(contains(unknown, "'drop1'"));
    CHECK(contains(unknown, "'Dropout'"));
    CHECK(contains(unknown, "Linear"));
    const std::string missing =
        error_message([&] { make_layer({"fc9", "Linear", {{"in_features", 3}, {"bias", 1}}}, rng); });
    CHECK(contains(missing, "'fc9'"));
    CHECK(contains(missing, "'out_features'"));
    const std::string model = error_message([&] { make_model("resnet18", rng); });
    CHECK(contains(model, "'resnet18'"));
    CHECK(contains(model, "mlp"));
    CHECK(contains(model, "lenet5"));

    // A wrongly sized input names both shapes.
    Linear fc(4, 3, rng);
    Tape tape;
    const std::string shapes = error_message([&] { fc.forward(tape.input(Tensor({2, 5}))); });
    CHECK(contains(shapes, "[2, 5]"));
    CHECK(contains(shapes, "[3, 4]"));
    auto lenet = lenet5(rng);
    CHECK_FALSE(error_message([&] { lenet->forward(tape.input(Tensor({1, 1, 32, 32}))); }).empty());
    CHECK_FALSE(error_message([&] { lenet->forward(tape.input(Tensor({1, 3, 28, 28}))); }).empty());
}

}  // TEST_SUITE
