// Modules, the layers, and rebuilding a layer from its spec (book §3.2, §4.3).
#include "tinyrank/nn.hpp"

#include <cmath>

#include "tinyrank/error.hpp"
#include "tinyrank/random.hpp"

namespace tinyrank {

int64_t LayerSpec::integer(const std::string& key) const {
    const double value = number(key);
    if (value != std::floor(value) || std::fabs(value) > 9.0e15)
        throw Error("layer '" + name + "' (" + type + "): expected an integer for option '" + key + "', found " +
                    std::to_string(value));
    return static_cast<int64_t>(value);
}

double LayerSpec::number(const std::string& key) const {
    const auto it = options.find(key);
    if (it == options.end())
        throw Error("layer '" + name + "' (" + type + "): expected option '" + key + "', found none");
    return it->second;
}

// ---- Module ------------------------------------------------------------------------------

std::vector<Parameter*> Module::parameters() {
    std::vector<Parameter*> all;
    for (auto& entry : parameters_) all.push_back(entry.second);
    for (Module* child : children_)
        for (Parameter* p : child->parameters()) all.push_back(p);
    return all;
}

int64_t Module::parameter_count() {
    int64_t n = 0;
    for (Parameter* p : parameters()) n += p->value.numel();
    return n;
}

void Module::zero_grad() {
    for (Parameter* p : parameters()) p->grad.zero();
}

void Module::train(bool on) {
    training_ = on;
    for (Module* child : children_) child->train(on);
}

void Module::set_name(const std::string& name) {
    name_ = name;
    for (auto& entry : parameters_) entry.second->name = name.empty() ? entry.first : name + "." + entry.first;
}

void Module::replace_child(Module& child, Module& replacement) {
    for (Module*& c : children_)
        if (c == &child) c = &replacement;
}

void Module::register_parameter(const std::string& short_name, Parameter& parameter) {
    parameter.name = name_.empty() ? short_name : name_ + "." + short_name;
    parameters_.emplace_back(short_name, &parameter);
}

// ---- Layers ---------------------------------------------------------------------------------

// region: kaiming-uniform
// PyTorch's default: kaiming_uniform_(a = √5) for the weight, which is U(±1/√fan_in),
// and U(±1/√fan_in) for the bias.
Tensor kaiming_uniform(const Shape& shape, int64_t fan_in, Rng& rng) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    return Tensor::uniform(shape, rng, -bound, bound);
}
// endregion: kaiming-uniform

// region: linear-layer
Linear::Linear(int64_t in, int64_t out, Rng& rng, bool with_bias)
    : in_features(in), out_features(out), has_bias(with_bias) {
    if (in < 1 || out < 1)
        throw Error("Linear: expected positive sizes, found in " + std::to_string(in) + ", out " + std::to_string(out));
    weight = Parameter("weight", kaiming_uniform({out, in}, in, rng));
    register_parameter("weight", weight);
    if (has_bias) {
        bias = Parameter("bias", kaiming_uniform({out}, in, rng));
        register_parameter("bias", bias);
    }
}

Var Linear::forward(const Var& x) {
    Tape& tape = x.tape();
    const Var w = tape.param(weight);  // recorded before the bias, on every compiler
    return has_bias ? linear(x, w, tape.param(bias)) : linear(x, w);
}
// endregion: linear-layer

LayerSpec Linear::spec() const {
    return {name(), "Linear", {{"in_features", double(in_features)}, {"out_features", double(out_features)},
                               {"bias", has_bias ? 1.0 : 0.0}}};
}

// region: conv2d-layer
Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, Rng& rng, int64_t s, int64_t p, bool with_bias)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p), has_bias(with_bias) {
    if (in < 1 || out < 1 || k < 1 || s < 1 || p < 0)
        throw Error("Conv2d: expected positive channels, kernel and stride and padding >= 0, found in " +
                    std::to_string(in) + ", out " + std::to_string(out) + ", kernel " + std::to_string(k) +
                    ", stride " + std::to_string(s) + ", padding " + std::to_string(p));
    const int64_t fan_in = in * k * k;
    weight = Parameter("weight", kaiming_uniform({out, in, k, k}, fan_in, rng));
    register_parameter("weight", weight);
    if (has_bias) {
        bias = Parameter("bias", kaiming_uniform({out}, fan_in, rng));
        register_parameter("bias", bias);
    }
}

Var Conv2d::forward(const Var& x) {
    Tape& tape = x.tape();
    const Var w = tape.param(weight);  // recorded before the bias, on every compiler
    return has_bias ? conv2d(x, w, tape.param(bias), stride, padding) : conv2d(x, w, stride, padding);
}
// endregion: conv2d-layer

LayerSpec Conv2d::spec() const {
    return {name(), "Conv2d", {{"in_channels", double(in_channels)}, {"out_channels", double(out_channels)},
                               {"kernel", double(kernel)}, {"stride", double(stride)},
                               {"padding", double(padding)}, {"bias", has_bias ? 1.0 : 0.0}}};
}

MaxPool2d::MaxPool2d(int64_t k, int64_t s) : kernel(k), stride(s == 0 ? k : s) {
    if (k < 1 || stride < 1)
        throw Error("MaxPool2d: expected kernel and stride >= 1, found " + std::to_string(k) + " and " + std::to_string(s));
}

Var MaxPool2d::forward(const Var& x) { return max_pool2d(x, kernel, stride); }

LayerSpec MaxPool2d::spec() const { return {name(), "MaxPool2d", {{"kernel", double(kernel)}, {"stride", double(stride)}}}; }

Var ReLU::forward(const Var& x) { return relu(x); }
LayerSpec ReLU::spec() const { return {name(), "ReLU", {}}; }

Var LeakyReLU::forward(const Var& x) { return leaky_relu(x, slope); }
LayerSpec LeakyReLU::spec() const { return {name(), "LeakyReLU", {{"slope", double(slope)}}}; }

Var Flatten::forward(const Var& x) { return flatten(x); }
LayerSpec Flatten::spec() const { return {name(), "Flatten", {}}; }

// ---- Sequential -------------------------------------------------------------------------------

void Sequential::adopt(const std::string& name, std::unique_ptr<Module> module) {
    for (const auto& existing : layers_)
        if (existing->name() == name) throw Error("Sequential: a layer named '" + name + "' already exists");
    module->set_name(name);
    module->train(training());
    register_child(*module);
    layers_.push_back(std::move(module));
}

// region: sequential-forward
Var Sequential::forward(const Var& x) {
    Var h = x;
    for (auto& layer : layers_) h = layer->forward(h);
    return h;
}
// endregion: sequential-forward

Module& Sequential::layer(const std::string& name) {
    std::string names;
    for (auto& l : layers_) {
        if (l->name() == name) return *l;
        names += (names.empty() ? "" : ", ") + l->name();
    }
    throw Error("Sequential: no layer named '" + name + "' (layers: " + names + ")");
}

Module& Sequential::replace(const std::string& name, std::unique_ptr<Module> module) {
    Module& old = layer(name);
    for (auto& l : layers_)
        if (l.get() == &old) {
            module->set_name(name);
            module->train(training());
            replace_child(old, *module);
            l = std::move(module);
            return *l;
        }
    return old;  // not reached: layer() found it
}

LayerSpec Sequential::spec() const { return {name(), "Sequential", {{"layers", double(layers_.size())}}}; }

// ---- Rebuilding --------------------------------------------------------------------------------

std::unique_ptr<Module> make_layer(const LayerSpec& s, Rng& rng) {
    if (s.type == "Linear")
        return std::make_unique<Linear>(s.integer("in_features"), s.integer("out_features"), rng, s.integer("bias") != 0);
    if (s.type == "Conv2d")
        return std::make_unique<Conv2d>(s.integer("in_channels"), s.integer("out_channels"), s.integer("kernel"), rng,
                                        s.integer("stride"), s.integer("padding"), s.integer("bias") != 0);
    if (s.type == "MaxPool2d") return std::make_unique<MaxPool2d>(s.integer("kernel"), s.integer("stride"));
    if (s.type == "ReLU") return std::make_unique<ReLU>();
    if (s.type == "LeakyReLU") return std::make_unique<LeakyReLU>(static_cast<float>(s.number("slope")));
    if (s.type == "Flatten") return std::make_unique<Flatten>();
    throw Error("layer '" + s.name + "': unknown type '" + s.type +
                "' (expected Linear, Conv2d, MaxPool2d, ReLU, LeakyReLU or Flatten)");
}

}  // namespace tinyrank
